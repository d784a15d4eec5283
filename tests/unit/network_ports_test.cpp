// Parsing of -p values, docker's [IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], and of the
// "0.0.0.0:8080->80/tcp" text that `ps` shows and records keep.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/core/error.hpp"
#include "runtime/network/ports.hpp"

namespace isolab::network {
namespace {

// The message and hint of the Error that parsing `text` throws, or "" when it parses.
std::string parse_error(const std::string& text) {
    try {
        parse_port_mapping(text);
    } catch (const Error& error) {
        return std::string(error.what()) + " (" + error.hint() + ")";
    }
    return "";
}

TEST(PortMapping, ContainerPortOnlyTakesFreeHostPort) {
    auto mapping = parse_port_mapping("80");
    EXPECT_EQ(mapping.host_ip, "");
    EXPECT_EQ(mapping.host_port, 0);
    EXPECT_EQ(mapping.container_port, 80);
    EXPECT_EQ(mapping.protocol, "tcp");
}

TEST(PortMapping, HostPortZeroTakesFreeHostPort) {
    auto mapping = parse_port_mapping("0:80");
    EXPECT_EQ(mapping.host_port, 0);
    EXPECT_EQ(mapping.container_port, 80);

    auto empty_host_port = parse_port_mapping("127.0.0.1::80/udp");
    EXPECT_EQ(empty_host_port.host_ip, "127.0.0.1");
    EXPECT_EQ(empty_host_port.host_port, 0);
    EXPECT_EQ(empty_host_port.protocol, "udp");
}

TEST(PortMapping, AddressHostAndContainerPort) {
    auto mapping = parse_port_mapping("127.0.0.1:8080:80/tcp");
    EXPECT_EQ(mapping.host_ip, "127.0.0.1");
    EXPECT_EQ(mapping.host_port, 8080);
    EXPECT_EQ(mapping.container_port, 80);
    EXPECT_EQ(mapping.protocol, "tcp");
}

TEST(PortMapping, InvalidValuesNameTheValue) {
    struct Case {
        std::string text;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {"8080:0", "invalid port '0' in '8080:0' (use a number from 1 to 65535, e.g. -p 8080:80)"},
        {"0", "invalid port '0' in '0'"},
        {"65536:80", "invalid port '65536' in '65536:80' (use a number from 1 to 65535, or 0 for a free port"},
        {"-1:80", "invalid port '-1' in '-1:80'"},
        {"http:80", "invalid port 'http' in 'http:80'"},
        {"", "invalid port '' in ''"},
        {"80/sctp", "invalid protocol 'sctp' in '80/sctp'"},
        {"1.2.3.4:1:2:3", "invalid port mapping '1.2.3.4:1:2:3'"},
        {"300.0.0.1:8080:80", "invalid host address '300.0.0.1'"},
    };
    for (const auto& test : cases) {
        EXPECT_NE(parse_error(test.text).find(test.expected), std::string::npos)
            << "value '" << test.text << "' gave: " << parse_error(test.text);
    }
}

TEST(PortMapping, DescriptionRoundTrips) {
    auto mapping = parse_port_mapping("127.0.0.1:18080:80/udp");
    EXPECT_EQ(describe(mapping), "127.0.0.1:18080->80/udp");

    auto parsed = parse_description(describe(mapping));
    EXPECT_EQ(parsed.host_ip, "127.0.0.1");
    EXPECT_EQ(parsed.host_port, 18080);
    EXPECT_EQ(parsed.container_port, 80);
    EXPECT_EQ(parsed.protocol, "udp");
    EXPECT_EQ(port_key(parsed), "80/udp");

    EXPECT_THROW(parse_description("8080:80"), Error);
}

TEST(PortMapping, RepeatedHostPortRejected) {
    std::vector<PortMapping> same = {parse_port_mapping("8080:80"), parse_port_mapping("127.0.0.1:8080:81")};
    EXPECT_THROW(reject_repeated_host_ports(same), Error);

    std::vector<PortMapping> other_protocol = {parse_port_mapping("8080:80"), parse_port_mapping("8080:80/udp")};
    EXPECT_NO_THROW(reject_repeated_host_ports(other_protocol));

    std::vector<PortMapping> other_address = {parse_port_mapping("127.0.0.1:8080:80"),
                                              parse_port_mapping("127.0.0.2:8080:80")};
    EXPECT_NO_THROW(reject_repeated_host_ports(other_address));

    std::vector<PortMapping> free_ports = {parse_port_mapping("0:80"), parse_port_mapping("0:81")};
    EXPECT_NO_THROW(reject_repeated_host_ports(free_ports));
}

}  // namespace
}  // namespace isolab::network
