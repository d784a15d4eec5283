// Address parsing, lease allocation and the container's resolv.conf, without touching
// the host's network.
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

#include "runtime/core/error.hpp"
#include "runtime/network/attachment.hpp"
#include "runtime/network/bridge.hpp"
#include "runtime/network/ipam.hpp"
#include "runtime/network/netlink.hpp"

namespace isolab::network {
namespace {

NetworkRecord network_of(const std::string& subnet, const std::string& gateway) {
    NetworkRecord network;
    network.name = "bridge";
    network.subnet = subnet;
    network.gateway = gateway;
    return network;
}

TEST(NetworkIpam, ParsesAddressAndPrefix) {
    auto subnet = parse_ipv4("10.89.3.0/24");
    auto host = parse_ipv4("192.168.1.20");

    EXPECT_EQ(to_string(subnet.value), "10.89.3.0");
    EXPECT_EQ(subnet.prefix, 24);
    EXPECT_EQ(host.prefix, 32);
    EXPECT_EQ(host.value, 0xC0A80114U);
}

TEST(NetworkIpam, RejectsInvalidAddresses) {
    EXPECT_THROW(parse_ipv4("10.89.0/24"), Error);
    EXPECT_THROW(parse_ipv4("10.89.0.0/33"), Error);
    EXPECT_THROW(parse_ipv4("10.89.0.0/"), Error);
    EXPECT_THROW(parse_ipv4("10.89.0.0/2x"), Error);
}

TEST(NetworkIpam, AllocatesFirstFreeHostSkippingGateway) {
    auto network = network_of("10.89.0.0/24", "10.89.0.1");
    EXPECT_EQ(allocate_address(network), "10.89.0.2");

    network.leases["a"].address = "10.89.0.2";
    network.leases["b"].address = "10.89.0.4";
    EXPECT_EQ(allocate_address(network), "10.89.0.3");
}

TEST(NetworkIpam, FullSubnetRaises) {
    // A /30 has two hosts: the gateway and one container.
    auto network = network_of("10.89.0.0/30", "10.89.0.1");
    network.leases["a"].address = "10.89.0.2";

    EXPECT_THROW(allocate_address(network), Error);
}

TEST(NetworkIpam, StateRoundTripsThroughJson) {
    auto network = network_of("10.89.0.0/24", "10.89.0.1");
    network.bridge = "isolab0";
    network.leases["abc"].address = "10.89.0.2";
    network.leases["abc"].owner_pid = 42;

    nlohmann::json json = network;
    auto read_back = json.get<NetworkRecord>();

    EXPECT_EQ(read_back.bridge, "isolab0");
    EXPECT_EQ(read_back.leases.at("abc").address, "10.89.0.2");
    EXPECT_EQ(read_back.leases.at("abc").owner_pid, 42);
}

TEST(NetworkIpam, LeaseKindRoundTripsThroughJson) {
    for (auto kind : {LeaseKind::container, LeaseKind::connected, LeaseKind::vm}) {
        Lease lease;
        lease.device = "isolab123456789";
        lease.kind = kind;

        nlohmann::json json = lease;
        EXPECT_EQ(json["kind"], lease_kind_name(kind));
        EXPECT_EQ(json.get<Lease>().kind, kind) << lease_kind_name(kind);
    }
}

TEST(NetworkIpam, LeaseKindOfOldFileFromDevice) {
    // ipam.json written before leases recorded their kind.
    auto kind_of = [](const std::string& device) {
        return nlohmann::json{{"address", "10.89.0.2"}, {"device", device}}.get<Lease>().kind;
    };

    EXPECT_EQ(kind_of("isolab0123abcd9"), LeaseKind::container);
    EXPECT_EQ(kind_of("isolab0123abcdg"), LeaseKind::connected);
    EXPECT_EQ(kind_of("isolab0123abcdh"), LeaseKind::connected);
    EXPECT_EQ(kind_of("isolabt0a1b2c3d"), LeaseKind::vm);
}

TEST(NetworkIpam, LeaseWithoutProcessesIsStale) {
    Lease lease;
    lease.owner_pid = 999999999;
    EXPECT_TRUE(lease_stale(lease));

    lease.owner_pid = getpid();
    EXPECT_FALSE(lease_stale(lease));
}

TEST(NetworkResolvConf, DropsLoopbackNameservers) {
    auto text = container_resolv_conf("# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch example.org\n");

    EXPECT_EQ(text, "# generated\nnameserver 10.0.0.2\nsearch example.org\n");
}

TEST(NetworkResolvConf, FallsBackToPublicServers) {
    auto text = container_resolv_conf("nameserver 127.0.0.1\nnameserver ::1\noptions edns0\n");

    EXPECT_EQ(text, "options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n");
}

TEST(NetworkHostsFile, UserNetworkNamesOtherMembers) {
    auto network = network_of("10.89.5.0/24", "10.89.5.1");
    network.user_defined = true;
    network.leases["a"] = Lease{.address = "10.89.5.2", .name = "db", .hostname = "dbhost"};
    network.leases["b"] = Lease{.address = "10.89.5.3", .name = "web", .hostname = "web"};

    auto text = hosts_file(network, "b");

    EXPECT_NE(text.find("127.0.0.1\tlocalhost\n"), std::string::npos) << text;
    EXPECT_NE(text.find("10.89.5.3\tweb\n"), std::string::npos) << text;
    EXPECT_NE(text.find("10.89.5.2\tdb dbhost\n"), std::string::npos) << text;
}

TEST(NetworkHostsFile, ConnectedContainerNamesMembersOfEveryNetwork) {
    IpamState state;
    auto& front = state.networks["front"] = network_of("10.89.5.0/24", "10.89.5.1");
    front.user_defined = true;
    front.leases["a"] = Lease{.address = "10.89.5.2", .name = "db", .hostname = "db"};
    front.leases["b"] = Lease{.address = "10.89.5.3", .name = "web", .hostname = "web"};
    auto& back = state.networks["back"] = network_of("10.89.6.0/24", "10.89.6.1");
    back.user_defined = true;
    back.leases["b"] = Lease{.address = "10.89.6.2", .kind = LeaseKind::connected, .name = "web", .hostname = "web",
                             .aliases = {"www"}};
    back.leases["c"] = Lease{.address = "10.89.6.3", .name = "cache", .hostname = "cache"};

    auto text = hosts_file(state, "b");

    // front is where b started, so its own address there comes first, though back sorts first.
    auto own_front = text.find("10.89.5.3\tweb\n");
    auto own_back = text.find("10.89.6.2\tweb www\n");
    ASSERT_NE(own_front, std::string::npos) << text;
    ASSERT_NE(own_back, std::string::npos) << text;
    EXPECT_LT(own_front, own_back) << text;
    EXPECT_NE(text.find("10.89.5.2\tdb\n"), std::string::npos) << text;
    EXPECT_NE(text.find("10.89.6.3\tcache\n"), std::string::npos) << text;
    EXPECT_EQ(hosts_file(state, "a").find("cache"), std::string::npos) << "a is not on back";
}

TEST(NetworkHostsFile, DefaultNetworkNamesOnlySelf) {
    auto network = network_of("10.89.0.0/24", "10.89.0.1");
    network.leases["a"] = Lease{.address = "10.89.0.2", .name = "db", .hostname = "db"};
    network.leases["b"] = Lease{.address = "10.89.0.3", .name = "web", .hostname = "web"};

    auto text = hosts_file(network, "b");

    EXPECT_NE(text.find("10.89.0.3\tweb\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("db"), std::string::npos) << text;
}

}  // namespace
}  // namespace isolab::network
