#pragma once
// Published ports (-p, -P): a userspace proxy in the container's owner process, as
// docker-proxy does. It listens on the host's address and port and forwards each TCP
// connection or UDP datagram to the container's address. Because the listening sockets
// belong to the owner process, the port is free again as soon as that process ends, even
// when it was killed.
#include <netinet/in.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace isolab::network {

struct PortMapping {
    std::string host_ip;              // empty: every address of the host (0.0.0.0)
    std::uint16_t host_port = 0;      // 0: a free port the kernel picks
    std::uint16_t container_port = 0;
    std::string protocol = "tcp";     // "tcp" or "udp"
};

// Parses a -p value: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp], as Docker takes it.
// Throws Error naming the value.
PortMapping parse_port_mapping(const std::string& text);

// The IPv4 socket address of `ip` (empty: INADDR_ANY) and `port`. Throws Error naming an
// invalid address.
sockaddr_in socket_address(const std::string& ip, std::uint16_t port);

// The mappings of -P: each exposed port ("80/tcp") of the image to a free host port.
std::vector<PortMapping> publish_all_mappings(const std::vector<std::string>& exposed_ports);

// "0.0.0.0:18080->80/tcp", as `docker ps` shows a published port.
std::string describe(const PortMapping& mapping);

// Parses the text `describe` returns back into a mapping. Throws Error for other text.
PortMapping parse_description(const std::string& text);

// "80/tcp": the container port and protocol, as Docker keys its port maps.
std::string port_key(const PortMapping& mapping);

// Throws Error when two mappings bind the same host port and protocol on one address
// (or on every address), as `-p 8080:80 -p 8080:81` would.
void reject_repeated_host_ports(const std::vector<PortMapping>& mappings);

// The listening sockets of a container's published ports and the thread that forwards
// their traffic. The thread never blocks on one connection: it connects to the container
// without waiting, and a peer that reads slowly stops only the reading of its own
// connection. The destructor stops the thread and closes every socket.
class PortProxy {
public:
    // How long a client waits for the connection to the container before the proxy closes
    // it, e.g. while a VM still boots and drops the SYN.
    static constexpr std::chrono::milliseconds default_connect_timeout{5000};

    // Binds every mapping; the bound port replaces a host port of 0. Throws Error when a
    // port is taken, naming the container `holder` returns for it (empty: not a container).
    PortProxy(std::vector<PortMapping> mappings, const std::function<std::string(const PortMapping&)>& holder,
              std::chrono::milliseconds connect_timeout = default_connect_timeout);
    ~PortProxy();
    PortProxy(const PortProxy&) = delete;
    PortProxy& operator=(const PortProxy&) = delete;

    const std::vector<PortMapping>& mappings() const { return mappings_; }

    // Starts forwarding to `container_address` (IPv4, dotted).
    void start(const std::string& container_address);

private:
    void run();

    std::vector<PortMapping> mappings_;
    std::vector<int> listeners_;      // one per mapping, same order
    std::string container_address_;
    std::chrono::milliseconds connect_timeout_;
    int wake_[2] = {-1, -1};           // a pipe that ends the thread's poll
    std::thread thread_;
};

}  // namespace isolab::network
