#include "runtime/network/ports.hpp"

#include <arpa/inet.h>

#include "runtime/core/error.hpp"

namespace isolab::network {

namespace {

// A host port may be 0, which requests a free port from the kernel, as docker's `-p 0:80` does.
std::uint16_t parse_port(const std::string& text, const std::string& value, bool host_port) {
    bool digits = !text.empty() && text.size() <= 5 && text.find_first_not_of("0123456789") == std::string::npos;
    long port = digits ? std::stol(text) : -1;
    if (port < (host_port ? 0 : 1) || port > 65535) {
        throw Error("invalid port '" + text + "' in '" + value + "'",
                    host_port ? "use a number from 1 to 65535, or 0 for a free port, e.g. -p 8080:80"
                              : "use a number from 1 to 65535, e.g. -p 8080:80");
    }
    return static_cast<std::uint16_t>(port);
}

}  // namespace

sockaddr_in socket_address(const std::string& ip, std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    if (!ip.empty() && inet_pton(AF_INET, ip.c_str(), &address.sin_addr) != 1) {
        throw Error("invalid host address '" + ip + "'", "use an IPv4 address of this host, e.g. 127.0.0.1");
    }
    return address;
}

PortMapping parse_port_mapping(const std::string& text) {
    PortMapping mapping;
    std::string rest = text;
    auto slash = rest.find('/');
    if (slash != std::string::npos) {
        mapping.protocol = rest.substr(slash + 1);
        rest = rest.substr(0, slash);
        if (mapping.protocol != "tcp" && mapping.protocol != "udp") {
            throw Error("invalid protocol '" + mapping.protocol + "' in '" + text + "'", "use tcp or udp, e.g. -p 53:53/udp");
        }
    }
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t colon; (colon = rest.find(':', start)) != std::string::npos; start = colon + 1) {
        parts.push_back(rest.substr(start, colon - start));
    }
    parts.push_back(rest.substr(start));
    if (parts.size() > 3) throw Error("invalid port mapping '" + text + "'", "use [IP:]HOST_PORT:CONTAINER_PORT[/PROTOCOL]");

    mapping.container_port = parse_port(parts.back(), text, false);
    if (parts.size() >= 2 && !parts[parts.size() - 2].empty()) mapping.host_port = parse_port(parts[parts.size() - 2], text, true);
    if (parts.size() == 3) {
        mapping.host_ip = parts[0];
        socket_address(mapping.host_ip, 0);
    }
    return mapping;
}

std::vector<PortMapping> publish_all_mappings(const std::vector<std::string>& exposed_ports) {
    std::vector<PortMapping> mappings;
    for (const auto& port : exposed_ports) mappings.push_back(parse_port_mapping(port));
    return mappings;
}

void reject_repeated_host_ports(const std::vector<PortMapping>& mappings) {
    for (size_t i = 0; i < mappings.size(); ++i) {
        for (size_t j = i + 1; j < mappings.size(); ++j) {
            const auto& first = mappings[i];
            const auto& second = mappings[j];
            bool same_address = first.host_ip.empty() || second.host_ip.empty() || first.host_ip == second.host_ip;
            if (first.host_port == 0 || first.host_port != second.host_port || first.protocol != second.protocol ||
                !same_address) {
                continue;
            }
            throw Error("host port " + std::to_string(first.host_port) + "/" + first.protocol + " is given twice (" +
                            describe(first) + " and " + describe(second) + ")",
                        "give each host port once");
        }
    }
}

std::string describe(const PortMapping& mapping) {
    return (mapping.host_ip.empty() ? "0.0.0.0" : mapping.host_ip) + ":" + std::to_string(mapping.host_port) + "->" +
           std::to_string(mapping.container_port) + "/" + mapping.protocol;
}

PortMapping parse_description(const std::string& text) {
    auto arrow = text.find("->");
    if (arrow == std::string::npos) throw Error("invalid published port '" + text + "'", "expected e.g. 0.0.0.0:8080->80/tcp");
    return parse_port_mapping(text.substr(0, arrow) + ":" + text.substr(arrow + 2));
}

std::string port_key(const PortMapping& mapping) { return std::to_string(mapping.container_port) + "/" + mapping.protocol; }

}  // namespace isolab::network
