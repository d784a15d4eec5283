#pragma once
// A minimal HTTP/1.0 client over loopback for tests of published ports (free_port() is
// in tests/support/test_support.hpp).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "support/test_support.hpp"

namespace isolab::testing {

struct HttpResponse {
    int status = 0;    // 0: no connection or no valid response
    std::string body;
};

// Sends GET `path` to 127.0.0.1:`port` and reads the whole response, waiting at most
// 5 seconds for it.
inline HttpResponse http_get(std::uint16_t port, const std::string& path) {
    HttpResponse response;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return response;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        close(fd);
        return response;
    }
    std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        close(fd);
        return response;
    }
    std::string text;
    char buffer[4096];
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd ready{fd, POLLIN, 0};
        if (poll(&ready, 1, 200) <= 0) continue;
        ssize_t count = read(fd, buffer, sizeof buffer);
        if (count <= 0) break;
        text.append(buffer, static_cast<size_t>(count));
    }
    close(fd);
    auto space = text.find(' ');
    auto header_end = text.find("\r\n\r\n");
    if (!text.starts_with("HTTP/") || space == std::string::npos || header_end == std::string::npos) return response;
    response.status = std::atoi(text.c_str() + space + 1);
    response.body = text.substr(header_end + 4);
    return response;
}

// Repeats http_get until a response arrives (the server may still be starting), for at
// most `timeout`.
inline HttpResponse http_get_when_up(std::uint16_t port, const std::string& path,
                                     std::chrono::seconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        auto response = http_get(port, path);
        if (response.status != 0 || std::chrono::steady_clock::now() > deadline) return response;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

// Returns a TCP socket bound to 127.0.0.1:`port`, or -1 when the bind fails. SO_REUSEADDR
// lets it bind while earlier connections to the port are in TIME_WAIT, as the port proxy does.
inline int bind_loopback(std::uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// True when a TCP socket can bind 127.0.0.1:`port`, so no process listens on it.
inline bool port_free(std::uint16_t port) {
    int fd = bind_loopback(port);
    if (fd < 0) return false;
    close(fd);
    return true;
}

}  // namespace isolab::testing
