#pragma once
// Readiness checks made from the host: a TCP connect, or an HTTP GET whose status line
// says 200, to a port a container or VM publishes on the host. Every call has a short
// timeout, so a caller can retry every few milliseconds until its own deadline.
#include <optional>
#include <string>

#include "bench/workload.hpp"

namespace isolab::bench {

// True when a TCP connection to `address`:`port` (IPv4) is accepted within 200 ms and
// the peer does not close it within the next 100 ms.
bool tcp_port_accepts(const std::string& address, int port);

// The status code of `GET path HTTP/1.0` to `address`:`port`; nothing when the
// connection fails or the reply is not HTTP within 1 s.
std::optional<int> http_get_status(const std::string& address, int port, const std::string& path);

// Parses the status code of an HTTP status line ("HTTP/1.1 200 OK"); nothing for any
// other text.
std::optional<int> parse_http_status(const std::string& reply);

// True when `workload`'s port readiness rule holds at `address`:`host_port`.
bool port_readiness_holds(const Workload& workload, const std::string& address, int host_port);

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice for port 0).
int pick_free_port();

}  // namespace isolab::bench
