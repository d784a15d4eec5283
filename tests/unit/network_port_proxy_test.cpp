// PortProxy forwarding real TCP and UDP traffic on loopback: half-close, refused and
// silent backends, and a client that stops reading. The backends are sockets and threads
// of the test, and the proxy's "container address" is 127.0.0.1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/core/error.hpp"
#include "runtime/core/unique_fd.hpp"
#include "runtime/network/ports.hpp"

namespace isolab::network {
namespace {

using namespace std::chrono_literals;

// Bounds every blocking read and write of a test socket, so a proxy that stalls fails the
// test instead of hanging it.
constexpr auto socket_timeout = 30s;

void set_timeouts(int fd) {
    timeval timeout{std::chrono::duration_cast<std::chrono::seconds>(socket_timeout).count(), 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
}

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

std::uint16_t bound_port(int fd) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    return ntohs(address.sin_port);
}

// A socket of `type` bound to a free port of 127.0.0.1; a TCP socket also listens with
// `backlog`.
UniqueFd loopback_socket(int type, int backlog = 16) {
    UniqueFd fd(socket(AF_INET, type | SOCK_CLOEXEC, 0));
    auto address = loopback(0);
    if (!fd || bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return {};
    if (type == SOCK_STREAM && listen(fd.get(), backlog) != 0) return {};
    return fd;
}

// A blocking TCP client of 127.0.0.1:`port` with bounded reads and writes.
UniqueFd connect_to(std::uint16_t port, int receive_buffer = 0) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (receive_buffer > 0) setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    set_timeouts(fd.get());
    auto address = loopback(port);
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return {};
    return fd;
}

bool send_text(int fd, const std::string& text) {
    return send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

// Reads until `fd` reaches its end. Appends "<read timed out>" or "<read failed: ...>"
// when a read does not succeed, so the caller's assertion shows it.
std::string read_to_end(int fd) {
    std::string text;
    char buffer[65536];
    while (true) {
        ssize_t count = recv(fd, buffer, sizeof buffer, 0);
        if (count < 0) return text + (errno == EAGAIN ? "<read timed out>" : "<read failed: " + std::string(std::strerror(errno)) + ">");
        if (count == 0) return text;
        text.append(buffer, static_cast<size_t>(count));
    }
}

std::string read_line(int fd) {
    std::string line;
    char c = 0;
    while (recv(fd, &c, 1, 0) == 1 && c != '\n') line += c;
    return line;
}

// A TCP backend on 127.0.0.1 that serves each connection on its own thread with
// `serve(fd)`. The destructor stops accepting and waits for the connections' threads.
class TcpBackend {
public:
    explicit TcpBackend(std::function<void(int)> serve) : listener_(loopback_socket(SOCK_STREAM)), serve_(std::move(serve)) {
        port_ = bound_port(listener_.get());
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~TcpBackend() {
        shutdown(listener_.get(), SHUT_RDWR);
        acceptor_.join();
        for (auto& worker : workers_) worker.join();
    }

    std::uint16_t port() const { return port_; }

private:
    void accept_loop() {
        while (true) {
            UniqueFd connection(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (!connection) return;
            set_timeouts(connection.get());
            workers_.emplace_back([this, fd = std::make_shared<UniqueFd>(std::move(connection))] { serve_(fd->get()); });
        }
    }

    UniqueFd listener_;
    std::function<void(int)> serve_;
    std::uint16_t port_ = 0;
    std::thread acceptor_;
    std::vector<std::thread> workers_;
};

// Reads a request line "N", sends N bytes of a known pattern and returns, so a test can
// request a large or a small response on the same port.
void serve_pattern(int fd, std::atomic<size_t>& sent) {
    auto size = std::stoul("0" + read_line(fd));
    std::vector<char> chunk(65536);
    for (size_t offset = 0; offset < size;) {
        size_t count = std::min(chunk.size(), size - offset);
        for (size_t i = 0; i < count; ++i) chunk[i] = static_cast<char>((offset + i) % 251);
        ssize_t written = send(fd, chunk.data(), count, MSG_NOSIGNAL);
        if (written <= 0) return;
        offset += static_cast<size_t>(written);
        sent += static_cast<size_t>(written);
    }
}

bool matches_pattern(const std::string& data) {
    for (size_t i = 0; i < data.size(); ++i) {
        if (data[i] != static_cast<char>(i % 251)) return false;
    }
    return true;
}

PortMapping loopback_mapping(std::uint16_t container_port, const std::string& protocol = "tcp") {
    PortMapping mapping;
    mapping.host_ip = "127.0.0.1";
    mapping.container_port = container_port;
    mapping.protocol = protocol;
    return mapping;
}

std::unique_ptr<PortProxy> start_proxy(std::vector<PortMapping> mappings,
                                       std::chrono::milliseconds connect_timeout = PortProxy::default_connect_timeout) {
    auto proxy = std::make_unique<PortProxy>(std::move(mappings), [](const PortMapping&) { return std::string(); },
                                             connect_timeout);
    proxy->start("127.0.0.1");
    return proxy;
}

// Destroys `proxy` on another thread and returns whether that ended within `limit`. A
// destructor that hangs then fails the test instead of hanging it.
bool destroyed_within(std::unique_ptr<PortProxy> proxy, std::chrono::seconds limit) {
    auto done = std::make_shared<std::promise<void>>();
    auto finished = done->get_future();
    std::thread([proxy = std::move(proxy), done]() mutable {
        proxy.reset();
        done->set_value();
    }).detach();
    return finished.wait_for(limit) == std::future_status::ready;
}

// A TCP port on 127.0.0.1 whose SYNs go unanswered: a listener with a backlog of 0 whose
// accept queue contains one connection the test never accepts. Linux then drops further
// SYNs (tcp_conn_request in net/ipv4/tcp_input.c).
struct SilentBackend {
    UniqueFd listener = loopback_socket(SOCK_STREAM, 0);
    UniqueFd queued = connect_to(bound_port(listener.get()));

    std::uint16_t port() const { return bound_port(listener.get()); }

    // True once the queued connection sits in the accept queue, which is then full.
    bool full() const {
        pollfd ready{listener.get(), POLLIN, 0};
        return queued && poll(&ready, 1, static_cast<int>(std::chrono::milliseconds(socket_timeout).count())) == 1;
    }
};

// With tcp_abort_on_overflow the kernel resets instead of dropping, so no SYN goes
// unanswered.
bool overflow_resets() {
    std::ifstream setting("/proc/sys/net/ipv4/tcp_abort_on_overflow");
    int value = 0;
    setting >> value;
    return value != 0;
}

TEST(PortProxy, ForwardsHalfClosedRequest) {
    TcpBackend backend([](int fd) {
        auto request = read_to_end(fd);
        send_text(fd, "got " + request);
    });
    auto proxy = start_proxy({loopback_mapping(backend.port())});

    auto client = connect_to(proxy->mappings()[0].host_port);
    ASSERT_TRUE(client);
    ASSERT_TRUE(send_text(client.get(), "hello"));
    shutdown(client.get(), SHUT_WR);

    EXPECT_EQ(read_to_end(client.get()), "got hello");
}

TEST(PortProxy, RefusedBackendClosesClient) {
    auto unused = loopback_socket(SOCK_STREAM);
    auto port = bound_port(unused.get());
    unused.reset();
    auto proxy = start_proxy({loopback_mapping(port)});

    auto client = connect_to(proxy->mappings()[0].host_port);
    ASSERT_TRUE(client);

    EXPECT_EQ(read_to_end(client.get()), "");
}

TEST(PortProxy, SilentBackendStallsNoOtherPort) {
    if (overflow_resets()) GTEST_SKIP() << "net.ipv4.tcp_abort_on_overflow is set, so a full backlog resets new connections";
    SilentBackend silent;
    ASSERT_TRUE(silent.full());
    std::atomic<size_t> sent = 0;
    TcpBackend answering([&](int fd) { serve_pattern(fd, sent); });
    // A connect timeout far beyond the test's run keeps the first connect in progress.
    auto proxy = start_proxy({loopback_mapping(silent.port()), loopback_mapping(answering.port())}, 10min);

    auto waiting = connect_to(proxy->mappings()[0].host_port);
    ASSERT_TRUE(waiting);
    auto served = connect_to(proxy->mappings()[1].host_port);
    ASSERT_TRUE(served);
    ASSERT_TRUE(send_text(served.get(), "5\n"));

    auto response = read_to_end(served.get());
    EXPECT_EQ(response.size(), 5u) << response;
    EXPECT_TRUE(matches_pattern(response));
    pollfd closed{waiting.get(), POLLIN, 0};
    EXPECT_EQ(poll(&closed, 1, 0), 0) << "the proxy closed the client while its connect was in progress";
    EXPECT_TRUE(destroyed_within(std::move(proxy), socket_timeout)) << "the destructor waited for the connect";
}

TEST(PortProxy, ConnectDeadlineClosesClient) {
    if (overflow_resets()) GTEST_SKIP() << "net.ipv4.tcp_abort_on_overflow is set, so a full backlog resets new connections";
    SilentBackend silent;
    ASSERT_TRUE(silent.full());
    auto proxy = start_proxy({loopback_mapping(silent.port())}, 200ms);

    auto client = connect_to(proxy->mappings()[0].host_port);
    ASSERT_TRUE(client);

    EXPECT_EQ(read_to_end(client.get()), "");
}

TEST(PortProxy, SlowReaderStallsNoOtherConnection) {
    std::atomic<size_t> sent = 0;
    TcpBackend backend([&](int fd) { serve_pattern(fd, sent); });
    auto proxy = start_proxy({loopback_mapping(backend.port())});
    auto port = proxy->mappings()[0].host_port;
    // More than the socket buffers of the client, the proxy and the backend buffer together.
    constexpr size_t large = 64u << 20;

    auto slow = connect_to(port, 4096);
    ASSERT_TRUE(slow);
    ASSERT_TRUE(send_text(slow.get(), std::to_string(large) + "\n"));
    // Waits until the backend stops making progress, which means every buffer between it
    // and the slow client is full.
    size_t last = 0;
    for (auto end = std::chrono::steady_clock::now() + socket_timeout; std::chrono::steady_clock::now() < end;) {
        std::this_thread::sleep_for(200ms);
        if (sent > 0 && sent == last) break;
        last = sent;
    }
    ASSERT_LT(sent.load(), large) << "the backend sent everything, so the slow client blocked nothing";

    auto fast = connect_to(port);
    ASSERT_TRUE(fast);
    ASSERT_TRUE(send_text(fast.get(), "1000\n"));
    auto small = read_to_end(fast.get());
    EXPECT_EQ(small.size(), 1000u) << small.substr(small.size() > 100 ? small.size() - 100 : 0);
    EXPECT_TRUE(matches_pattern(small));

    auto everything = read_to_end(slow.get());
    EXPECT_EQ(everything.size(), large) << everything.substr(everything.size() > 100 ? everything.size() - 100 : 0);
    EXPECT_TRUE(matches_pattern(everything));
}

TEST(PortProxy, ForwardsUdpDatagrams) {
    auto backend = loopback_socket(SOCK_DGRAM);
    ASSERT_TRUE(backend);
    set_timeouts(backend.get());
    std::thread echo([fd = backend.get()] {
        char buffer[512];
        sockaddr_in from{};
        socklen_t length = sizeof from;
        ssize_t count = recvfrom(fd, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &length);
        if (count > 0) sendto(fd, buffer, static_cast<size_t>(count), 0, reinterpret_cast<sockaddr*>(&from), length);
    });
    auto proxy = start_proxy({loopback_mapping(bound_port(backend.get()), "udp")});

    UniqueFd client(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    set_timeouts(client.get());
    auto address = loopback(proxy->mappings()[0].host_port);
    ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_TRUE(send_text(client.get(), "ping"));
    char buffer[512];
    ssize_t count = recv(client.get(), buffer, sizeof buffer, 0);
    echo.join();

    ASSERT_GT(count, 0) << std::strerror(errno);
    EXPECT_EQ(std::string(buffer, static_cast<size_t>(count)), "ping");
}

TEST(PortProxy, ForeignHostAddressIsNamed) {
    std::ifstream nonlocal("/proc/sys/net/ipv4/ip_nonlocal_bind");
    int allowed = 0;
    nonlocal >> allowed;
    if (allowed != 0) GTEST_SKIP() << "net.ipv4.ip_nonlocal_bind is set, so any address binds";
    auto mapping = loopback_mapping(80);
    mapping.host_ip = "192.0.2.1";  // TEST-NET-1, never a host's own address
    try {
        PortProxy proxy({mapping}, [](const PortMapping&) { return std::string(); });
        FAIL() << "bound an address this host does not have";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("192.0.2.1 is not an address of this host"), std::string::npos)
            << error.what();
        EXPECT_FALSE(error.hint().empty());
    }
}

}  // namespace
}  // namespace isolab::network
