// PortProxy: one thread and one poll loop forward the traffic of all published ports of
// a container or VM. Every socket in the loop is non-blocking, so no connection can stall
// another one or the destructor.
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "runtime/core/clock.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"
#include "runtime/core/unique_fd.hpp"
#include "runtime/network/ports.hpp"

namespace isolab::network {

namespace {

// Bytes each direction of a TCP connection buffers. While a buffer is full the proxy stops
// reading from that direction's source, so the kernel's flow control slows the sender.
constexpr size_t direction_buffer_size = 64 * 1024;

std::string describe_address(const sockaddr_in& address) {
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &address.sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(address.sin_port));
}

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

// One direction of a TCP connection: bytes read from one socket and not yet written to
// the other, and how far the end of the stream has got.
class Direction {
public:
    bool wants_read() const { return !end_of_stream_ && end_ < buffer_.size(); }
    bool has_pending() const { return begin_ < end_; }

    // Reads what `from` has into the free part of the buffer. Returns false on a socket
    // error. A read of 0 bytes marks the end of the stream.
    bool read_from(int from) {
        if (begin_ > 0) {
            std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        ssize_t count = recv(from, buffer_.data() + end_, buffer_.size() - end_, 0);
        if (count < 0) return would_block(errno);
        if (count == 0) end_of_stream_ = true;
        end_ += static_cast<size_t>(count);
        return true;
    }

    // Writes as much of the buffer to `to` as its socket takes now. Returns false on a
    // socket error, e.g. when the peer reset the connection.
    bool write_to(int to) {
        ssize_t count = send(to, buffer_.data() + begin_, end_ - begin_, MSG_NOSIGNAL);
        if (count < 0) return would_block(errno);
        begin_ += static_cast<size_t>(count);
        if (begin_ == end_) begin_ = end_ = 0;
        return true;
    }

    // Passes the end of the stream on once every byte before it is written, so a client
    // that shut down its sending side still gets the response.
    void pass_end_of_stream(int to) {
        if (!end_of_stream_ || has_pending() || shut_down_) return;
        shutdown(to, SHUT_WR);
        shut_down_ = true;
    }

    bool finished() const { return shut_down_; }

private:
    std::vector<char> buffer_ = std::vector<char>(direction_buffer_size);
    size_t begin_ = 0;              // the pending bytes are [begin_, end_)
    size_t end_ = 0;
    bool end_of_stream_ = false;    // the source sent FIN
    bool shut_down_ = false;        // the FIN was passed on to the destination
};

// One forwarded TCP connection: the client's socket and the one to the container. It
// starts in `connecting` until the non-blocking connect succeeds, fails or passes its
// deadline, then forwards both directions until both ended or a socket failed.
class TcpConnection {
public:
    TcpConnection(UniqueFd client, const sockaddr_in& target, Clock::time_point deadline)
        : client_(std::move(client)), target_(describe_address(target)), deadline_(deadline) {
        upstream_.reset(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!upstream_) {
            fail("cannot open a socket", errno);
            return;
        }
        if (connect(upstream_.get(), reinterpret_cast<const sockaddr*>(&target), sizeof target) == 0) {
            state_ = State::forwarding;
        } else if (errno != EINPROGRESS) {
            fail("cannot connect", errno);
        }
    }

    bool closed() const { return state_ == State::closed; }
    bool connecting() const { return state_ == State::connecting; }
    Clock::time_point deadline() const { return deadline_; }

    // Appends two entries to `polled`, the client's and the container's socket, each with
    // the events the current state waits for. An entry with nothing to wait for gets
    // fd -1, which poll skips.
    void add_poll_entries(std::vector<pollfd>& polled) const {
        short client_events = 0;
        short upstream_events = 0;
        if (state_ == State::connecting) {
            upstream_events = POLLOUT;
        } else if (state_ == State::forwarding) {
            client_events = events_for(to_upstream_, to_client_);
            upstream_events = events_for(to_client_, to_upstream_);
        }
        polled.push_back({client_events != 0 ? client_.get() : -1, client_events, 0});
        polled.push_back({upstream_events != 0 ? upstream_.get() : -1, upstream_events, 0});
    }

    // Handles what poll returned for the two entries add_poll_entries appended.
    void handle(short client_revents, short upstream_revents, Clock::time_point now) {
        if (state_ == State::connecting) {
            if (upstream_revents != 0) {
                finish_connect();
            } else if (now >= deadline_) {
                spdlog::debug("net: connecting to {} timed out; closing the client's connection", target_);
                state_ = State::closed;
            }
        }
        if (state_ != State::forwarding) return;
        bool open = forward(to_upstream_, client_.get(), client_revents, upstream_.get(), upstream_revents) &&
                    forward(to_client_, upstream_.get(), upstream_revents, client_.get(), client_revents);
        if (!open || (to_upstream_.finished() && to_client_.finished())) state_ = State::closed;
    }

private:
    enum class State { connecting, forwarding, closed };

    // The events a socket waits for: readable while its outgoing direction has room,
    // writable while its incoming direction has bytes to write.
    static short events_for(const Direction& outgoing, const Direction& incoming) {
        return static_cast<short>((outgoing.wants_read() ? POLLIN : 0) | (incoming.has_pending() ? POLLOUT : 0));
    }

    void finish_connect() {
        int error = 0;
        socklen_t length = sizeof error;
        if (getsockopt(upstream_.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
        if (error != 0) {
            fail("cannot connect", error);
            return;
        }
        state_ = State::forwarding;
    }

    // Moves bytes of one direction from `from` to `to`. Returns false on a socket error.
    // Each call is tried only when poll reported its socket, except that bytes just read
    // are written at once.
    static bool forward(Direction& direction, int from, short from_revents, int to, short to_revents) {
        bool read = false;
        if (direction.wants_read() && from_revents != 0) {
            if (!direction.read_from(from)) return false;
            read = true;
        }
        if (direction.has_pending() && (read || to_revents != 0) && !direction.write_to(to)) return false;
        direction.pass_end_of_stream(to);
        return true;
    }

    void fail(const char* action, int error) {
        spdlog::debug("net: {} to {}: {}", action, target_, std::strerror(error));
        state_ = State::closed;
    }

    UniqueFd client_;
    UniqueFd upstream_;
    std::string target_;            // "10.88.0.2:80", for log lines
    Clock::time_point deadline_;    // of the connect
    State state_ = State::connecting;
    Direction to_upstream_;
    Direction to_client_;
};

// One UDP client of a published port and its connected socket to the container.
struct UdpClient {
    size_t listener = 0;            // index of the mapping
    sockaddr_in client{};
    UniqueFd upstream;
};

// The state of the proxy's poll loop: the open TCP connections and the known UDP clients.
class ForwardingLoop {
public:
    ForwardingLoop(const std::vector<PortMapping>& mappings, const std::vector<int>& listeners,
                   const std::string& container_address, std::chrono::milliseconds connect_timeout)
        : mappings_(mappings), listeners_(listeners), container_address_(container_address),
          connect_timeout_(connect_timeout) {}

    // Serves every port until `wake` becomes readable or poll fails.
    void run(int wake) {
        while (true) {
            std::vector<pollfd> polled = {{wake, POLLIN, 0}};
            for (int fd : listeners_) polled.push_back({fd, POLLIN, 0});
            for (const auto& connection : connections_) connection->add_poll_entries(polled);
            for (const auto& client : udp_clients_) polled.push_back({client.upstream.get(), POLLIN, 0});

            if (poll(polled.data(), polled.size(), poll_timeout_ms()) < 0) {
                if (errno == EINTR) continue;
                spdlog::error("net: port proxy stops: poll failed: {}", std::strerror(errno));
                return;
            }
            if (polled[0].revents != 0) return;

            // Connections and clients accepted below append no entries to this round's poll
            // set, so the existing ones are handled first, by their entries' positions.
            size_t index = 1 + listeners_.size();
            auto now = Clock::now();
            for (auto& connection : connections_) {
                connection->handle(polled[index].revents, polled[index + 1].revents, now);
                index += 2;
            }
            std::erase_if(connections_, [](const auto& connection) { return connection->closed(); });
            for (auto& client : udp_clients_) {
                if (polled[index++].revents != 0) reply_udp(client);
            }
            for (size_t listener = 0; listener < listeners_.size(); ++listener) {
                if (polled[1 + listener].revents == 0) continue;
                if (mappings_[listener].protocol == "tcp") {
                    accept_tcp(listener);
                } else {
                    receive_udp(listener);
                }
            }
        }
    }

private:
    sockaddr_in target(size_t listener) const { return socket_address(container_address_, mappings_[listener].container_port); }

    // Milliseconds until the earliest connect deadline, or -1 (no limit) when no connect
    // is in progress.
    int poll_timeout_ms() const {
        auto earliest = Clock::time_point::max();
        for (const auto& connection : connections_) {
            if (connection->connecting()) earliest = std::min(earliest, connection->deadline());
        }
        if (earliest == Clock::time_point::max()) return -1;
        auto left = std::chrono::ceil<std::chrono::milliseconds>(earliest - Clock::now()).count();
        return static_cast<int>(std::max<decltype(left)>(left, 0));
    }

    void accept_tcp(size_t listener) {
        UniqueFd client(accept4(listeners_[listener], nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!client) return;
        auto connection = std::make_unique<TcpConnection>(std::move(client), target(listener), Clock::now() + connect_timeout_);
        if (!connection->closed()) connections_.push_back(std::move(connection));
    }

    // Forwards one datagram from a client to the container. A datagram the container's
    // socket cannot take now is dropped, as a full network would drop it.
    void receive_udp(size_t listener) {
        sockaddr_in from{};
        socklen_t length = sizeof from;
        ssize_t count = recvfrom(listeners_[listener], datagram_.data(), datagram_.size(), 0,
                                 reinterpret_cast<sockaddr*>(&from), &length);
        if (count < 0) return;
        auto known = std::find_if(udp_clients_.begin(), udp_clients_.end(), [&](const UdpClient& client) {
            return client.listener == listener && client.client.sin_addr.s_addr == from.sin_addr.s_addr &&
                   client.client.sin_port == from.sin_port;
        });
        if (known == udp_clients_.end()) {
            UniqueFd upstream(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
            auto address = target(listener);
            if (!upstream || connect(upstream.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
                spdlog::debug("net: cannot connect to {}: {}", describe_address(address), std::strerror(errno));
                return;
            }
            udp_clients_.push_back({listener, from, std::move(upstream)});
            known = std::prev(udp_clients_.end());
        }
        send(known->upstream.get(), datagram_.data(), static_cast<size_t>(count), MSG_NOSIGNAL);
    }

    // Forwards one datagram from the container back to its client, or drops it as
    // receive_udp does.
    void reply_udp(const UdpClient& client) {
        ssize_t count = recv(client.upstream.get(), datagram_.data(), datagram_.size(), 0);
        if (count < 0) return;
        sendto(listeners_[client.listener], datagram_.data(), static_cast<size_t>(count), MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&client.client), sizeof client.client);
    }

    const std::vector<PortMapping>& mappings_;
    const std::vector<int>& listeners_;   // one per mapping, same order
    std::string container_address_;
    std::chrono::milliseconds connect_timeout_;
    std::vector<std::unique_ptr<TcpConnection>> connections_;
    std::vector<UdpClient> udp_clients_;
    std::vector<char> datagram_ = std::vector<char>(65536);
};

void close_fd(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
}

}  // namespace

PortProxy::PortProxy(std::vector<PortMapping> mappings, const std::function<std::string(const PortMapping&)>& holder,
                     std::chrono::milliseconds connect_timeout)
    : mappings_(std::move(mappings)), connect_timeout_(connect_timeout) {
    reject_repeated_host_ports(mappings_);
    try {
        for (auto& mapping : mappings_) {
            bool tcp = mapping.protocol == "tcp";
            int fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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
                if (saved == EADDRNOTAVAIL) {
                    throw Error("cannot publish " + describe(mapping) + ": " + mapping.host_ip + " is not an address of this host",
                                "use one of the host's addresses (ip -4 addr), 127.0.0.1, or leave the address out");
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
    socket_address(container_address_, 0);
    thread_ = std::thread([this] { run(); });
    for (const auto& mapping : mappings_) spdlog::info("net: publishing {} to {}", describe(mapping), container_address_);
}

void PortProxy::run() { ForwardingLoop(mappings_, listeners_, container_address_, connect_timeout_).run(wake_[0]); }

}  // namespace isolab::network
