#include "runtime/network/ipam.hpp"

#include <algorithm>
#include <sstream>

#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/network/netlink.hpp"

namespace isolab::network {

namespace fs = std::filesystem;

const char* lease_kind_name(LeaseKind kind) {
    switch (kind) {
        case LeaseKind::connected: return "connected";
        case LeaseKind::vm: return "vm";
        case LeaseKind::container: break;
    }
    return "container";
}

LeaseKind infer_lease_kind(const std::string& device) {
    if (device.starts_with("isolabt")) return LeaseKind::vm;
    if (device.size() == 15 && device.back() >= 'g' && device.back() <= 'z') return LeaseKind::connected;
    return LeaseKind::container;
}

void to_json(nlohmann::json& json, const Lease& lease) {
    json = {{"address", lease.address},
            {"device", lease.device},
            {"kind", lease_kind_name(lease.kind)},
            {"mac_address", lease.mac_address},
            {"owner_pid", lease.owner_pid},
            {"owner_start_ticks", lease.owner_start_ticks},
            {"pid", lease.pid},
            {"pid_start_ticks", lease.pid_start_ticks},
            {"ports", lease.ports},
            {"name", lease.name},
            {"hostname", lease.hostname},
            {"aliases", lease.aliases}};
}

void from_json(const nlohmann::json& json, Lease& lease) {
    lease.address = json.value("address", "");
    lease.device = json.value("device", "");
    auto kind = json.value("kind", "");
    if (kind == "container") {
        lease.kind = LeaseKind::container;
    } else if (kind == "connected") {
        lease.kind = LeaseKind::connected;
    } else if (kind == "vm") {
        lease.kind = LeaseKind::vm;
    } else {
        lease.kind = infer_lease_kind(lease.device);
    }
    lease.mac_address = json.value("mac_address", "");
    lease.owner_pid = json.value("owner_pid", 0);
    lease.owner_start_ticks = json.value("owner_start_ticks", std::uint64_t{0});
    lease.pid = json.value("pid", 0);
    lease.pid_start_ticks = json.value("pid_start_ticks", std::uint64_t{0});
    lease.ports = json.value("ports", std::vector<std::string>{});
    lease.name = json.value("name", "");
    lease.hostname = json.value("hostname", "");
    lease.aliases = json.value("aliases", std::vector<std::string>{});
}

void to_json(nlohmann::json& json, const NetworkRecord& record) {
    json = {{"name", record.name},
            {"id", record.id},
            {"bridge", record.bridge},
            {"subnet", record.subnet},
            {"gateway", record.gateway},
            {"user_defined", record.user_defined},
            {"created", record.created},
            {"labels", record.labels},
            {"leases", record.leases}};
}

void from_json(const nlohmann::json& json, NetworkRecord& record) {
    record.name = json.value("name", "");
    record.id = json.value("id", "");
    record.bridge = json.value("bridge", "");
    record.subnet = json.value("subnet", "");
    record.gateway = json.value("gateway", "");
    record.user_defined = json.value("user_defined", false);
    record.created = json.value("created", "");
    record.labels = json.value("labels", std::map<std::string, std::string>{});
    record.leases = json.value("leases", std::map<std::string, Lease>{});
}

fs::path ipam_directory(const Paths& paths) { return paths.root / "network"; }

IpamState load_ipam(const Paths& paths) {
    IpamState state;
    auto file = ipam_directory(paths) / "ipam.json";
    if (!fs::exists(file)) return state;
    auto json = nlohmann::json::parse(read_file(file), nullptr, false);
    if (json.is_discarded() || !json.is_object()) {
        throw Error("invalid JSON in " + file.string(), "remove it when no container runs; isolab starts a new one");
    }
    state.networks = json.value("networks", std::map<std::string, NetworkRecord>{});
    return state;
}

void save_ipam(const Paths& paths, const IpamState& state) {
    fs::create_directories(ipam_directory(paths));
    nlohmann::json json = {{"networks", state.networks}};
    write_file_atomic(ipam_directory(paths) / "ipam.json", json.dump(2) + "\n");
}

std::string allocate_address(const NetworkRecord& network) {
    auto subnet = parse_ipv4(network.subnet);
    auto gateway = parse_ipv4(network.gateway).value;
    std::uint32_t size = subnet.prefix >= 31 ? 0 : (1U << (32 - subnet.prefix));
    for (std::uint32_t offset = 1; offset + 1 < size; ++offset) {
        auto candidate = subnet.value + offset;
        if (candidate == gateway) continue;
        auto text = to_string(candidate);
        bool taken = false;
        for (const auto& [id, lease] : network.leases) taken = taken || lease.address == text;
        if (!taken) return text;
    }
    throw Error("no free address left in network " + network.name + " (" + network.subnet + ")",
                "remove stopped containers with 'isolab rm' or 'isolab system prune'");
}

namespace {

bool overlaps(std::uint32_t a, int a_prefix, std::uint32_t b, int b_prefix) {
    int prefix = std::min(a_prefix, b_prefix);
    std::uint32_t mask = prefix == 0 ? 0 : ~0U << (32 - prefix);
    return (a & mask) == (b & mask);
}

}  // namespace

bool subnet_in_use(const std::string& subnet) {
    auto wanted = parse_ipv4(subnet);
    std::istringstream lines(read_file("/proc/net/route"));
    std::string line;
    std::getline(lines, line);  // the header
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        std::string device, destination, gateway, flags, references, use, metric, mask;
        if (!(fields >> device >> destination >> gateway >> flags >> references >> use >> metric >> mask)) continue;
        // The kernel prints both in network byte order as hex, which reads little-endian here.
        auto route = __builtin_bswap32(static_cast<std::uint32_t>(std::stoul(destination, nullptr, 16)));
        auto route_mask = __builtin_bswap32(static_cast<std::uint32_t>(std::stoul(mask, nullptr, 16)));
        int prefix = __builtin_popcount(route_mask);
        if (prefix == 0) continue;
        if (overlaps(route, prefix, wanted.value, wanted.prefix)) return true;
    }
    return false;
}

std::string choose_subnet(const std::string& preferred, const std::vector<std::string>& taken) {
    auto is_free = [&](const std::string& candidate) {
        return std::find(taken.begin(), taken.end(), candidate) == taken.end() && !subnet_in_use(candidate);
    };
    if (is_free(preferred)) return preferred;
    auto base = parse_ipv4("10.89.0.0/16").value;
    for (std::uint32_t third = 0; third < 256; ++third) {
        auto candidate = to_string(base + (third << 8)) + "/24";
        if (is_free(candidate)) return candidate;
    }
    throw Error("no free /24 subnet left in 10.89.0.0/16 for an isolab bridge",
                "remove unused networks or routes that overlap 10.89.0.0/16");
}

bool lease_stale(const Lease& lease) {
    bool owner_alive = lease.owner_pid > 0 && container::process_alive(lease.owner_pid, lease.owner_start_ticks);
    bool process_alive = lease.pid > 0 && container::process_alive(lease.pid, lease.pid_start_ticks);
    return !owner_alive && !process_alive;
}

}  // namespace isolab::network
