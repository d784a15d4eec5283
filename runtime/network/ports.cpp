#include "runtime/network/ports.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"

namespace isolab::network {

namespace {

std::uint16_t parse_port(const std::string& text, const std::string& value, bool zero_allowed) {
    bool digits = !text.empty() && text.size() <= 5 && text.find_first_not_of("0123456789") == std::string::npos;
    long port = digits ? std::stol(text) : -1;
    if (port < (zero_allowed ? 0 : 1) || port > 65535) {
        throw Error("invalid port '" + text + "' in '" + value + "'", "use a number from 1 to 65535, e.g. -p 8080:80");
    }
    return static_cast<std::uint16_t>(port);
}

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

void close_fd(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
}

// Writes all of `data`, waiting while the socket's buffer is full. Returns false when the
// peer is gone.
bool send_all(int fd, const char* data, size_t size) {
    while (size > 0) {
        ssize_t sent = send(fd, data, size, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) continue;
        if (sent <= 0) return false;
        data += sent;
        size -= static_cast<size_t>(sent);
    }
    return true;
}

// One forwarded TCP connection: the client's socket and the one to the container.
struct TcpPair {
    int client = -1;
    int upstream = -1;
    bool client_done = false;     // the client closed its sending side
    bool upstream_done = false;
};

// One UDP client of a published port and its socket to the container.
struct UdpClient {
    size_t listener = 0;          // index of the mapping
    sockaddr_in client{};
    int upstream = -1;
};

}  // namespace

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
    if (parts.size() >= 2 && !parts[parts.size() - 2].empty()) mapping.host_port = parse_port(parts[parts.size() - 2], text, false);
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

PortProxy::PortProxy(std::vector<PortMapping> mappings, const std::function<std::string(const PortMapping&)>& holder)
    : mappings_(std::move(mappings)) {
    reject_repeated_host_ports(mappings_);
    try {
        for (auto& mapping : mappings_) {
            bool tcp = mapping.protocol == "tcp";
            int fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
            if (fd < 0) throw_errno("cannot open a socket for port " + describe(mapping));
            listeners_.push_back(fd);
            // Lets a new container bind a TCP port whose last connections still linger in
            // TIME_WAIT. Not for UDP: there SO_REUSEADDR lets a second socket bind the same
            // port, so two containers would share it.
            if (tcp) {
                int on = 1;
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
            }
            auto address = socket_address(mapping.host_ip, mapping.host_port);
            if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
                int saved = errno;
                if (saved == EADDRINUSE) {
                    auto owner = holder(mapping);
                    throw Error("port " + std::to_string(mapping.host_port) + "/" + mapping.protocol + " is already in use" +
                                    (owner.empty() ? " on this host" : " by container " + owner),
                                owner.empty() ? "choose another host port with -p" : "remove that container or choose another host port");
                }
                throw_errno(saved, "cannot bind port " + describe(mapping));
            }
            if (tcp && listen(fd, 128) != 0) throw_errno("cannot listen on port " + describe(mapping));
            sockaddr_in bound{};
            socklen_t length = sizeof bound;
            getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
            mapping.host_port = ntohs(bound.sin_port);
        }
        if (pipe2(wake_, O_CLOEXEC) != 0) throw_errno("cannot create the port proxy's pipe");
    } catch (...) {
        for (auto& fd : listeners_) close_fd(fd);
        throw;
    }
}

PortProxy::~PortProxy() {
    if (thread_.joinable()) {
        [[maybe_unused]] auto written = write(wake_[1], "x", 1);
        thread_.join();
    }
    for (auto& fd : listeners_) close_fd(fd);
    close_fd(wake_[0]);
    close_fd(wake_[1]);
}

void PortProxy::start(const std::string& container_address) {
    if (mappings_.empty()) return;
    container_address_ = container_address;
    thread_ = std::thread([this] { run(); });
    for (const auto& mapping : mappings_) spdlog::info("net: publishing {} to {}", describe(mapping), container_address_);
}

// One poll loop serves every published port. Writes block until the peer takes the data,
// so one slow reader slows the other connections of this container too.
void PortProxy::run() {
    std::vector<TcpPair> pairs;
    std::vector<UdpClient> udp_clients;
    std::vector<char> buffer(65536);

    while (true) {
        std::vector<pollfd> polled = {{wake_[0], POLLIN, 0}};
        for (int fd : listeners_) polled.push_back({fd, POLLIN, 0});
        // poll skips a negative descriptor: a side that reached its end is not read again.
        for (const auto& pair : pairs) {
            polled.push_back({pair.client_done ? -1 : pair.client, POLLIN, 0});
            polled.push_back({pair.upstream_done ? -1 : pair.upstream, POLLIN, 0});
        }
        for (const auto& client : udp_clients) polled.push_back({client.upstream, POLLIN, 0});
        if (poll(polled.data(), polled.size(), -1) < 0) {
            if (errno == EINTR) continue;
            spdlog::error("net: port proxy stops: poll failed: {}", std::strerror(errno));
            break;
        }
        if (polled[0].revents != 0) break;

        size_t index = 1;
        for (size_t listener = 0; listener < listeners_.size(); ++listener, ++index) {
            if (polled[index].revents == 0) continue;
            const auto& mapping = mappings_[listener];
            auto target = socket_address(container_address_, mapping.container_port);
            if (mapping.protocol == "tcp") {
                int client = accept4(listeners_[listener], nullptr, nullptr, SOCK_CLOEXEC);
                if (client < 0) continue;
                int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (upstream < 0 || connect(upstream, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0) {
                    spdlog::debug("net: cannot connect to {}:{}: {}", container_address_, mapping.container_port, std::strerror(errno));
                    if (upstream >= 0) close(upstream);
                    close(client);
                    continue;
                }
                pairs.push_back({client, upstream, false, false});
                continue;
            }
            sockaddr_in from{};
            socklen_t length = sizeof from;
            ssize_t count = recvfrom(listeners_[listener], buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&from), &length);
            if (count < 0) continue;
            UdpClient* client = nullptr;
            for (auto& known : udp_clients) {
                if (known.listener == listener && known.client.sin_addr.s_addr == from.sin_addr.s_addr && known.client.sin_port == from.sin_port) {
                    client = &known;
                }
            }
            if (client == nullptr) {
                int upstream = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (upstream < 0 || connect(upstream, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0) {
                    if (upstream >= 0) close(upstream);
                    continue;
                }
                udp_clients.push_back({listener, from, upstream});
                client = &udp_clients.back();
            }
            send(client->upstream, buffer.data(), static_cast<size_t>(count), MSG_NOSIGNAL);
        }

        std::vector<TcpPair> open_pairs;
        for (auto& pair : pairs) {
            bool open = true;
            for (int side = 0; side < 2; ++side, ++index) {
                if (!open || polled[index].revents == 0) continue;
                int from = side == 0 ? pair.client : pair.upstream;
                int to = side == 0 ? pair.upstream : pair.client;
                ssize_t count = recv(from, buffer.data(), buffer.size(), 0);
                if (count == 0) {
                    // Pass the half-close on, so a client that shut down its sending side
                    // still gets the response.
                    shutdown(to, SHUT_WR);
                    (side == 0 ? pair.client_done : pair.upstream_done) = true;
                    continue;
                }
                open = count > 0 && send_all(to, buffer.data(), static_cast<size_t>(count));
            }
            if (open && !(pair.client_done && pair.upstream_done)) {
                open_pairs.push_back(pair);
            } else {
                close(pair.client);
                close(pair.upstream);
            }
        }
        pairs = std::move(open_pairs);

        for (auto& client : udp_clients) {
            if (polled[index++].revents == 0) continue;
            ssize_t count = recv(client.upstream, buffer.data(), buffer.size(), 0);
            if (count < 0) continue;
            sendto(listeners_[client.listener], buffer.data(), static_cast<size_t>(count), 0,
                   reinterpret_cast<const sockaddr*>(&client.client), sizeof client.client);
        }
    }
    for (auto& pair : pairs) {
        close(pair.client);
        close(pair.upstream);
    }
    for (auto& client : udp_clients) close(client.upstream);
}

}  // namespace isolab::network
