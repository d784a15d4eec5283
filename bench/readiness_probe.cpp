#include "bench/readiness_probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/core/error.hpp"

namespace isolab::bench {

namespace {

class Socket {
public:
    Socket() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) {}
    ~Socket() {
        if (fd_ >= 0) ::close(fd_);
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    int fd() const { return fd_; }

private:
    int fd_;
};

bool wait_for(int fd, short events, int timeout_ms) {
    pollfd entry{fd, events, 0};
    return ::poll(&entry, 1, timeout_ms) == 1 && (entry.revents & events) != 0;
}

// Connects `socket` to `address`:`port`; false when refused or not done within the timeout.
bool connect_within(const Socket& socket, const std::string& address, int port, int timeout_ms) {
    if (socket.fd() < 0) return false;
    sockaddr_in target{};
    target.sin_family = AF_INET;
    target.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, address.c_str(), &target.sin_addr) != 1) return false;

    if (::connect(socket.fd(), reinterpret_cast<const sockaddr*>(&target), sizeof target) == 0) return true;
    if (errno != EINPROGRESS) return false;
    if (!wait_for(socket.fd(), POLLOUT, timeout_ms)) return false;
    int error = 0;
    socklen_t length = sizeof error;
    return ::getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
}

}  // namespace

bool tcp_port_accepts(const std::string& address, int port) {
    Socket socket;
    if (!connect_within(socket, address, port, 200)) return false;
    // A userspace port proxy accepts at once and closes the connection when the server
    // behind it refuses, so a connection closed within 100 ms does not count.
    if (!wait_for(socket.fd(), POLLIN, 100)) return true;
    char byte = 0;
    return ::recv(socket.fd(), &byte, 1, MSG_PEEK) > 0;
}

std::optional<int> parse_http_status(const std::string& reply) {
    if (!reply.starts_with("HTTP/")) return std::nullopt;
    auto space = reply.find(' ');
    if (space == std::string::npos || reply.size() < space + 4) return std::nullopt;
    int status = 0;
    for (std::size_t i = space + 1; i < space + 4; ++i) {
        if (reply[i] < '0' || reply[i] > '9') return std::nullopt;
        status = status * 10 + (reply[i] - '0');
    }
    return status;
}

std::optional<int> http_get_status(const std::string& address, int port, const std::string& path) {
    Socket socket;
    if (!connect_within(socket, address, port, 200)) return std::nullopt;

    std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + address + "\r\nConnection: close\r\n\r\n";
    if (::send(socket.fd(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        return std::nullopt;
    }

    // The status line is in the first bytes of the reply.
    std::string reply;
    char buffer[256];
    while (reply.find("\r\n") == std::string::npos && reply.size() < 1024) {
        if (!wait_for(socket.fd(), POLLIN, 1000)) return std::nullopt;
        auto count = ::recv(socket.fd(), buffer, sizeof buffer, 0);
        if (count <= 0) break;
        reply.append(buffer, static_cast<std::size_t>(count));
    }
    return parse_http_status(reply);
}

bool port_readiness_holds(const Workload& workload, const std::string& address, int host_port) {
    switch (workload.readiness) {
    case ReadinessKind::tcp_port:
        return tcp_port_accepts(address, host_port);
    case ReadinessKind::http_path:
        return http_get_status(address, host_port, workload.http_path) == 200;
    case ReadinessKind::log_line:
        break;
    }
    return false;
}

int pick_free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw Error(std::string("cannot create a socket: ") + std::strerror(errno));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                 ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    int saved_errno = errno;
    ::close(fd);
    if (!bound) throw Error(std::string("cannot find a free TCP port on 127.0.0.1: ") + std::strerror(saved_errno));
    return ntohs(address.sin_port);
}

}  // namespace isolab::bench
