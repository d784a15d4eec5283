#include "runtime/network/netlink.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <array>
#include <exception>
#include <functional>
#include <optional>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"

namespace isolab::network {

namespace {

// An rtnetlink socket of the calling thread's network namespace.
class RouteSocket {
public:
    RouteSocket() : socket_(nl_socket_alloc()) {
        if (socket_ == nullptr) throw Error("cannot allocate a netlink socket");
        int error = nl_connect(socket_, NETLINK_ROUTE);
        if (error < 0) {
            nl_socket_free(socket_);
            throw Error(std::string("cannot open a netlink socket: ") + nl_geterror(error));
        }
    }
    ~RouteSocket() { nl_socket_free(socket_); }
    RouteSocket(const RouteSocket&) = delete;
    RouteSocket& operator=(const RouteSocket&) = delete;

    nl_sock* get() const { return socket_; }

private:
    nl_sock* socket_;
};

// Owns one reference to a libnl object.
template <typename T, void (*Release)(T*)>
class Owned {
public:
    explicit Owned(T* object) : object_(object) {
        if (object_ == nullptr) throw Error("out of memory for a netlink object");
    }
    Owned(Owned&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
    ~Owned() {
        if (object_ != nullptr) Release(object_);
    }
    Owned(const Owned&) = delete;
    Owned& operator=(const Owned&) = delete;
    T* get() const { return object_; }

private:
    T* object_;
};

using Link = Owned<rtnl_link, rtnl_link_put>;
using Address = Owned<nl_addr, nl_addr_put>;

void check(int result, const std::string& what) {
    if (result < 0) throw Error(what + ": " + nl_geterror(result));
}

Address build_address(std::uint32_t value, int prefix) {
    std::uint32_t network_order = htonl(value);
    Address address(nl_addr_build(AF_INET, &network_order, sizeof network_order));
    nl_addr_set_prefixlen(address.get(), prefix);
    return address;
}

int link_index(const RouteSocket& socket, const std::string& name) {
    rtnl_link* found = nullptr;
    check(rtnl_link_get_kernel(socket.get(), 0, name.c_str(), &found), "cannot find network device " + name);
    Link link(found);
    return rtnl_link_get_ifindex(link.get());
}

// 02:42 and the four bytes of the IPv4 address, as Docker up to version 24 derived a
// container's MAC address (libnetwork's GenerateMACFromIP). It is locally administered,
// unique on a bridge whose members have distinct addresses, and stays the same for an
// address, so the neighbours' ARP caches stay valid when a container takes a released one.
std::array<std::uint8_t, 6> container_mac_bytes(std::uint32_t address) {
    return {0x02, 0x42, static_cast<std::uint8_t>(address >> 24), static_cast<std::uint8_t>(address >> 16),
            static_cast<std::uint8_t>(address >> 8), static_cast<std::uint8_t>(address)};
}

void add_address(const RouteSocket& socket, int index, const Ipv4Address& address, const std::string& device) {
    Owned<rtnl_addr, rtnl_addr_put> request(rtnl_addr_alloc());
    rtnl_addr_set_ifindex(request.get(), index);
    auto local = build_address(address.value, address.prefix);
    check(rtnl_addr_set_local(request.get(), local.get()), "invalid address " + to_string(address.value));
    check(rtnl_addr_add(socket.get(), request.get(), 0),
          "cannot add address " + to_string(address.value) + "/" + std::to_string(address.prefix) + " to " + device);
}

// Sets the device up, and with a non-zero `master` makes it a port of that bridge, and
// with an `alias` sets IFLA_IFALIAS, which the kernel ignores in a request that creates a
// device. A non-null `mac` becomes the device's MAC address; the kernel sets
// IFLA_ADDRESS before it sets the device up.
void set_up(const RouteSocket& socket, const std::string& name, int master = 0, const std::string& alias = {},
            const std::array<std::uint8_t, 6>* mac = nullptr) {
    rtnl_link* found = nullptr;
    check(rtnl_link_get_kernel(socket.get(), 0, name.c_str(), &found), "cannot find network device " + name);
    Link current(found);
    Link change(rtnl_link_alloc());
    rtnl_link_set_flags(change.get(), IFF_UP);
    if (master != 0) rtnl_link_set_master(change.get(), master);
    if (!alias.empty()) rtnl_link_set_ifalias(change.get(), alias.c_str());
    std::optional<Address> hardware;
    if (mac != nullptr) {
        hardware.emplace(nl_addr_build(AF_LLC, mac->data(), mac->size()));
        rtnl_link_set_addr(change.get(), hardware->get());
    }
    check(rtnl_link_change(socket.get(), current.get(), change.get(), 0), "cannot set up network device " + name);
}

// Runs `work` on a thread that entered the network namespace of `pid`: setns changes only
// the calling thread, so this process and its other threads stay in their namespace.
void in_network_namespace(pid_t pid, const std::function<void()>& work) {
    std::exception_ptr failure;
    std::thread worker([&] {
        try {
            auto path = "/proc/" + std::to_string(pid) + "/ns/net";
            int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) throw_errno("cannot open " + path);
            int entered = setns(fd, CLONE_NEWNET);
            int saved = errno;
            close(fd);
            if (entered != 0) throw_errno(saved, "cannot enter the network namespace of process " + std::to_string(pid));
            work();
        } catch (...) {
            failure = std::current_exception();
        }
    });
    worker.join();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace

std::string to_string(std::uint32_t address) {
    return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
           std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

Ipv4Address parse_ipv4(const std::string& text) {
    auto slash = text.find('/');
    auto host = text.substr(0, slash);
    in_addr parsed{};
    Ipv4Address result;
    if (inet_pton(AF_INET, host.c_str(), &parsed) != 1) {
        throw Error("invalid IPv4 address '" + text + "'", "use dotted form, e.g. 10.89.0.0/24");
    }
    result.value = ntohl(parsed.s_addr);
    if (slash != std::string::npos) {
        auto prefix_text = text.substr(slash + 1);
        bool digits = !prefix_text.empty() && prefix_text.size() <= 2 &&
                      prefix_text.find_first_not_of("0123456789") == std::string::npos;
        int prefix = digits ? std::stoi(prefix_text) : -1;
        if (prefix < 0 || prefix > 32) throw Error("invalid prefix length in '" + text + "'", "use 0 to 32, e.g. /24");
        result.prefix = prefix;
    }
    return result;
}

std::vector<LinkInfo> list_links() {
    RouteSocket socket;
    nl_cache* cache = nullptr;
    check(rtnl_link_alloc_cache(socket.get(), AF_UNSPEC, &cache), "cannot list network devices");
    std::vector<LinkInfo> links;
    for (auto* object = nl_cache_get_first(cache); object != nullptr; object = nl_cache_get_next(object)) {
        auto* link = reinterpret_cast<rtnl_link*>(object);
        LinkInfo info;
        info.name = rtnl_link_get_name(link);
        const char* type = rtnl_link_get_type(link);
        if (type != nullptr) info.type = type;
        const char* alias = rtnl_link_get_ifalias(link);
        if (alias != nullptr) info.alias = alias;
        info.index = rtnl_link_get_ifindex(link);
        info.master = rtnl_link_get_master(link);
        links.push_back(std::move(info));
    }
    nl_cache_free(cache);
    return links;
}

bool link_exists(const std::string& name) { return if_nametoindex(name.c_str()) != 0; }

void create_bridge(const std::string& name, const Ipv4Address& gateway, const std::string& alias) {
    RouteSocket socket;
    Link bridge(rtnl_link_bridge_alloc());
    rtnl_link_set_name(bridge.get(), name.c_str());
    check(rtnl_link_add(socket.get(), bridge.get(), NLM_F_CREATE | NLM_F_EXCL), "cannot create bridge " + name);
    try {
        add_address(socket, link_index(socket, name), gateway, name);
        set_up(socket, name, 0, alias);
    } catch (...) {
        delete_link(name);
        throw;
    }
    spdlog::debug("net: created bridge {} with {}/{}", name, to_string(gateway.value), gateway.prefix);
}

void delete_link(const std::string& name) {
    RouteSocket socket;
    Link link(rtnl_link_alloc());
    rtnl_link_set_name(link.get(), name.c_str());
    int result = rtnl_link_delete(socket.get(), link.get());
    if (result == -NLE_NODEV || result == -NLE_OBJ_NOTFOUND) return;
    check(result, "cannot delete network device " + name);
    spdlog::debug("net: deleted {}", name);
}

void create_veth(const std::string& host_name, const std::string& bridge, pid_t pid, const std::string& peer_name) {
    RouteSocket socket;
    int bridge_index = link_index(socket, bridge);
    check(rtnl_link_veth_add(socket.get(), host_name.c_str(), peer_name.c_str(), pid), "cannot create veth pair " + host_name);
    try {
        set_up(socket, host_name, bridge_index);
    } catch (...) {
        delete_link(host_name);
        throw;
    }
    spdlog::debug("net: veth {} on {} with {} in the namespace of pid {}", host_name, bridge, peer_name, pid);
}

std::string container_mac_address(std::uint32_t address) {
    auto bytes = container_mac_bytes(address);
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]);
}

void configure_container_interface(pid_t pid, const Ipv4Address& address, std::uint32_t gateway,
                                   const std::string& interface, bool default_route) {
    auto mac = container_mac_bytes(address.value);
    in_network_namespace(pid, [&] {
        RouteSocket socket;
        int index = link_index(socket, interface);
        set_up(socket, interface, 0, {}, &mac);
        add_address(socket, index, address, interface);
        if (!default_route) return;

        Owned<rtnl_route, rtnl_route_put> route(rtnl_route_alloc());
        rtnl_route_set_family(route.get(), AF_INET);
        auto any = build_address(0, 0);
        check(rtnl_route_set_dst(route.get(), any.get()), "invalid default route");
        auto* hop = rtnl_route_nh_alloc();
        if (hop == nullptr) throw Error("out of memory for a netlink object");
        auto via = build_address(gateway, 32);
        rtnl_route_nh_set_gateway(hop, via.get());
        rtnl_route_nh_set_ifindex(hop, index);
        rtnl_route_add_nexthop(route.get(), hop);  // the route owns the hop from here
        check(rtnl_route_add(socket.get(), route.get(), NLM_F_CREATE), "cannot add the default route via " + to_string(gateway));
    });
    spdlog::debug("net: {} of pid {} has {}/{}", interface, pid, to_string(address.value), address.prefix);
}

}  // namespace isolab::network
