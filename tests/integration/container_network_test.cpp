// The default bridge network: a container gets eth0 with an address on isolab's bridge,
// reaches the gateway and other containers, and leaves no veth, lease, iptables rule or
// bridge behind after rm, rm -f, or a killed monitor and `system prune`. Needs root.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/container/record.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "runtime/network/bridge.hpp"
#include "runtime/network/netlink.hpp"
#include "support/test_support.hpp"

namespace isolab::testing {
namespace {

namespace fs = std::filesystem;

// Sends an HTTP/1.0 GET for / to `ip`:`port` and returns the whole response, retrying for
// up to 5 seconds while the server starts. Empty when no response came.
std::string http_get(const std::string& ip, std::uint16_t port) {
    for (int attempt = 0; attempt < 50; ++attempt) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        inet_pton(AF_INET, ip.c_str(), &address.sin_addr);
        std::string response;
        if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
            std::string request = "GET / HTTP/1.0\r\n\r\n";
            send(fd, request.data(), request.size(), MSG_NOSIGNAL);
            char buffer[4096];
            for (ssize_t count; (count = recv(fd, buffer, sizeof buffer, 0)) > 0;) response.append(buffer, static_cast<size_t>(count));
        }
        close(fd);
        if (!response.empty()) return response;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return {};
}

// busybox httpd serving one page that names `text`.
std::vector<std::string> web_server(const std::string& text) {
    return {"busybox", "sh", "-c", "mkdir -p /www && echo " + text + " > /www/index.html && exec httpd -f -p 80 -h /www"};
}

// What the network of one container is, read from `inspect` while it runs.
struct Attachment {
    std::string id;
    std::string address;
    std::string gateway;
    std::string bridge;
    std::string veth() const { return "isolab" + id.substr(0, 9); }
};

class ContainerNetwork : public ::testing::Test {
protected:
    void SetUp() override {
        if (!running_as_root()) GTEST_SKIP() << "running containers needs root";
    }

    CliResult isolab(const std::vector<std::string>& arguments) { return run_isolab(root_.paths(), arguments); }

    // Starts a detached web server named `name` that publishes `publish` (a -p value).
    CliResult run_web(const std::string& name, const std::string& publish, const std::string& text) {
        std::vector<std::string> arguments = {"run", "-d", "--name", name, "-p", publish};
        auto server = web_server(text);
        arguments.insert(arguments.end(), server.begin(), server.end());
        return isolab(arguments);
    }

    Attachment inspect(const std::string& name) {
        auto result = isolab({"inspect", name});
        auto json = nlohmann::json::parse(result.out, nullptr, false);
        Attachment attachment;
        if (json.is_discarded() || !json.is_array() || json.empty()) {
            ADD_FAILURE() << "inspect " << name << ": " << result.out << result.err;
            return attachment;
        }
        const auto& settings = json[0]["NetworkSettings"];
        attachment.id = json[0]["Id"].get<std::string>();
        attachment.address = settings.value("IPAddress", "");
        attachment.gateway = settings.value("Gateway", "");
        attachment.bridge = settings.value("Bridge", "");
        return attachment;
    }

    std::string ipam_text() {
        auto file = root_.root() / "network" / "ipam.json";
        return fs::exists(file) ? read_file(file) : "";
    }

    // Checks that nothing of the container's network is left on the host.
    void expect_released(const Attachment& attachment) {
        EXPECT_FALSE(network::link_exists(attachment.veth())) << attachment.veth();
        EXPECT_EQ(ipam_text().find(attachment.id), std::string::npos) << ipam_text();
        // This state root's bridge had only this container, so it went too.
        expect_bridge_gone(attachment.bridge);
    }

    // Checks that the bridge `bridge` of this state root and its iptables rules are gone.
    // Tests of other state roots run at the same time and may have taken the free name
    // again, so the bridge is recognised by the alias naming this state root.
    void expect_bridge_gone(const std::string& bridge) {
        const auto alias = network::owner_alias(root_.paths());
        bool name_reused = false;
        for (const auto& link : network::list_links()) {
            EXPECT_NE(link.alias, alias) << "bridge " << link.name << " of this state root is left";
            name_reused = name_reused || link.name == bridge;
        }
        if (name_reused) return;
        auto rules = run_command({"iptables", "-w", "5", "-S"}).output + run_command({"iptables", "-w", "5", "-t", "nat", "-S"}).output;
        EXPECT_EQ(rules.find(" " + bridge + " "), std::string::npos) << rules;
        EXPECT_EQ(rules.find(" " + bridge + "\n"), std::string::npos) << rules;
    }

    // Kills the monitor of a detached container and then the container, as a host crash
    // of isolab would leave them.
    void kill_monitor_and_container(const std::string& name) {
        auto container = container::find_container(root_.paths(), name);
        ASSERT_TRUE(container);
        ASSERT_GT(container->state.monitor_pid, 0);
        ASSERT_GT(container->state.pid, 0);
        ASSERT_EQ(kill(container->state.monitor_pid, SIGKILL), 0);
        ASSERT_EQ(kill(container->state.pid, SIGKILL), 0);
        for (int attempt = 0; attempt < 200; ++attempt) {
            if (!container::process_alive(container->state.pid, container->state.pid_start_ticks) &&
                !container::process_alive(container->state.monitor_pid, container->state.monitor_start_ticks)) {
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        FAIL() << "the monitor or the container of " << name << " did not end";
    }

    TestRoot root_;
};

TEST_F(ContainerNetwork, AddressAndGatewayReachable) {
    auto result = isolab({"run", "--rm", "busybox", "sh", "-c",
                          "ip -4 -o addr show eth0 | awk '{print $4}'; "
                          "gateway=$(ip route | awk '/^default/ {print $3}'); echo $gateway; "
                          "ping -c 1 -W 2 $gateway >/dev/null && echo ping-ok"});

    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("/24\n"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("ping-ok"), std::string::npos) << result.out;
}

TEST_F(ContainerNetwork, EtcFilesWritten) {
    auto result = isolab({"run", "--rm", "--hostname", "web1", "busybox", "sh", "-c",
                          "cat /etc/hostname; grep -c web1 /etc/hosts; grep -c '^nameserver 127' /etc/resolv.conf"});

    EXPECT_EQ(result.out, "web1\n1\n0\n") << result.err;
}

TEST_F(ContainerNetwork, ContainersReachEachOther) {
    auto started = isolab({"run", "-d", "--name", "server", "busybox", "sleep", "60"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    auto server = inspect("server");
    ASSERT_FALSE(server.address.empty());

    auto client = isolab({"run", "--rm", "busybox", "ping", "-c", "1", "-W", "2", server.address});
    auto own = isolab({"run", "--rm", "busybox", "sh", "-c", "ip -4 -o addr show eth0"});

    EXPECT_EQ(client.exit_code, 0) << client.out << client.err;
    EXPECT_EQ(own.out.find(server.address + "/"), std::string::npos) << "two containers got the same address";
    isolab({"rm", "-f", "server"});
}

TEST_F(ContainerNetwork, NetworkNoneHasOnlyLoopback) {
    auto result = isolab({"run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net"});

    EXPECT_EQ(result.out, "lo\n") << result.err;
}

TEST_F(ContainerNetwork, NothingLeftAfterRm) {
    auto started = isolab({"run", "-d", "--name", "short", "busybox", "sleep", "60"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    auto attachment = inspect("short");
    ASSERT_TRUE(network::link_exists(attachment.veth()));
    ASSERT_TRUE(network::link_exists(attachment.bridge));

    ASSERT_EQ(isolab({"stop", "-t", "1", "short"}).exit_code, 0);
    EXPECT_FALSE(network::link_exists(attachment.veth())) << "stop releases the address";
    auto removed = isolab({"rm", "short"});

    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    expect_released(attachment);
}

TEST_F(ContainerNetwork, NothingLeftAfterRmForce) {
    auto started = isolab({"run", "-d", "--name", "busy", "busybox", "sleep", "60"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    auto attachment = inspect("busy");
    ASSERT_FALSE(attachment.address.empty());

    auto removed = isolab({"rm", "-f", "busy"});

    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    expect_released(attachment);
}

TEST_F(ContainerNetwork, KilledMonitorLeftoversPruned) {
    auto started = isolab({"run", "-d", "--name", "orphan", "busybox", "sleep", "60"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    auto attachment = inspect("orphan");
    ASSERT_FALSE(attachment.address.empty());

    kill_monitor_and_container("orphan");
    EXPECT_NE(ipam_text().find(attachment.id), std::string::npos) << "the lease outlives its killed owner";
    auto pruned = isolab({"system", "prune", "--force", "--connect", "test:///default"});

    EXPECT_EQ(pruned.exit_code, 0) << pruned.err;
    EXPECT_NE(pruned.out.find("released address of " + attachment.id), std::string::npos) << pruned.out;
    expect_released(attachment);
}

TEST_F(ContainerNetwork, KilledMonitorLeftoversGoWithRmForce) {
    auto started = isolab({"run", "-d", "--name", "orphan", "busybox", "sleep", "60"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    auto attachment = inspect("orphan");
    auto container = container::find_container(root_.paths(), "orphan");
    ASSERT_TRUE(container);
    ASSERT_EQ(kill(container->state.monitor_pid, SIGKILL), 0);

    auto removed = isolab({"rm", "-f", "orphan"});

    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    expect_released(attachment);
}

TEST_F(ContainerNetwork, KilledMonitorLeftoversReleasedByPs) {
    auto started = isolab({"run", "-d", "--name", "orphan", "busybox", "sleep", "60"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    auto attachment = inspect("orphan");

    kill_monitor_and_container("orphan");
    auto listing = isolab({"ps", "-a"});

    EXPECT_EQ(listing.exit_code, 0) << listing.err;
    expect_released(attachment);
    isolab({"rm", "orphan"});
}

TEST_F(ContainerNetwork, PublishedPortServesLoopback) {
    auto port = free_port();
    auto started = run_web("web", std::to_string(port) + ":80", "served-by-web");
    ASSERT_EQ(started.exit_code, 0) << started.err;

    auto response = http_get("127.0.0.1", port);
    auto result = isolab({"inspect", "web"});

    EXPECT_NE(response.find("served-by-web"), std::string::npos) << response;
    auto inspected = nlohmann::json::parse(result.out, nullptr, false);
    ASSERT_TRUE(inspected.is_array()) << result.out;
    auto binding = inspected.at(0).at("NetworkSettings").at("Ports").at("80/tcp").at(0);
    EXPECT_EQ(binding.at("HostIp"), "0.0.0.0");
    EXPECT_EQ(binding.at("HostPort"), std::to_string(port));
    isolab({"rm", "-f", "web"});
}

TEST_F(ContainerNetwork, PublishedPortOnGivenAddress) {
    auto port = free_port();
    auto started = run_web("local", "127.0.0.1:" + std::to_string(port) + ":80", "loopback-only");
    ASSERT_EQ(started.exit_code, 0) << started.err;

    auto response = http_get("127.0.0.1", port);

    EXPECT_NE(response.find("loopback-only"), std::string::npos) << response;
    isolab({"rm", "-f", "local"});
}

TEST_F(ContainerNetwork, PortFreeAgainAfterRmForce) {
    auto port = std::to_string(free_port());
    ASSERT_EQ(run_web("a", port + ":80", "first").exit_code, 0);
    ASSERT_EQ(isolab({"rm", "-f", "a"}).exit_code, 0);

    auto again = run_web("a", port + ":80", "second");

    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(http_get("127.0.0.1", static_cast<std::uint16_t>(std::stoi(port))).find("second"), std::string::npos);
    isolab({"rm", "-f", "a"});
}

TEST_F(ContainerNetwork, PortFreeAgainAfterMonitorKilled) {
    auto port = std::to_string(free_port());
    ASSERT_EQ(run_web("a", port + ":80", "first").exit_code, 0);
    auto container = container::find_container(root_.paths(), "a");
    ASSERT_TRUE(container);
    ASSERT_EQ(kill(container->state.monitor_pid, SIGKILL), 0);
    for (int attempt = 0; attempt < 100 && container::process_alive(container->state.monitor_pid, container->state.monitor_start_ticks); ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }

    auto again = run_web("b", port + ":80", "second");

    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(http_get("127.0.0.1", static_cast<std::uint16_t>(std::stoi(port))).find("second"), std::string::npos);
    isolab({"rm", "-f", "a", "b"});
}

TEST_F(ContainerNetwork, PortConflictNamesHolder) {
    auto port = std::to_string(free_port());
    ASSERT_EQ(run_web("holder", port + ":80", "first").exit_code, 0);

    auto second = run_web("second", port + ":80", "second");

    EXPECT_EQ(second.exit_code, 125);
    EXPECT_NE(second.err.find("port " + port + "/tcp is already in use by container holder"), std::string::npos) << second.err;
    isolab({"rm", "-f", "holder", "second"});
}

TEST_F(ContainerNetwork, UdpPortConflictNamesHolder) {
    auto port = std::to_string(free_port());
    auto publish = "127.0.0.1:" + port + ":53/udp";
    ASSERT_EQ(isolab({"run", "-d", "--name", "udp-holder", "-p", publish, "busybox", "sleep", "60"}).exit_code, 0);

    auto second = isolab({"run", "-d", "--name", "udp-second", "-p", publish, "busybox", "sleep", "60"});

    EXPECT_EQ(second.exit_code, 125);
    EXPECT_NE(second.err.find("port " + port + "/udp is already in use by container udp-holder"), std::string::npos)
        << second.err;
    isolab({"rm", "-f", "udp-holder", "udp-second"});
}

TEST_F(ContainerNetwork, RepeatedHostPortRejected) {
    auto port = std::to_string(free_port());

    auto twice = isolab({"run", "--rm", "-p", port + ":80", "-p", port + ":81", "busybox", "true"});

    EXPECT_EQ(twice.exit_code, 125);
    EXPECT_NE(twice.err.find("host port " + port + "/tcp is given twice"), std::string::npos) << twice.err;
}

TEST_F(ContainerNetwork, InvalidPublishRejected) {
    auto port = isolab({"run", "--rm", "-p", "8080:99999", "busybox", "true"});
    auto mode = isolab({"run", "--rm", "--network", "none", "-p", "8080:80", "busybox", "true"});

    EXPECT_EQ(port.exit_code, 125);
    EXPECT_NE(port.err.find("invalid port '99999' in '8080:99999'"), std::string::npos) << port.err;
    EXPECT_EQ(mode.exit_code, 125);
    EXPECT_NE(mode.err.find("published ports need a bridge network"), std::string::npos) << mode.err;
}

TEST_F(ContainerNetwork, UserNetworkResolvesNames) {
    ASSERT_EQ(isolab({"network", "create", "appnet"}).exit_code, 0);
    ASSERT_EQ(isolab({"run", "-d", "--network", "appnet", "--name", "db", "busybox", "sleep", "60"}).exit_code, 0);
    ASSERT_EQ(isolab({"run", "-d", "--network", "appnet", "--name", "web", "busybox", "sleep", "60"}).exit_code, 0);

    auto by_name = isolab({"exec", "web", "ping", "-c", "1", "-W", "2", "db"});
    // db started first: its /etc/hosts was rewritten when web joined.
    auto updated = isolab({"exec", "db", "cat", "/etc/hosts"});
    // -w: a container's hostname is 12 hex digits of its id, which may contain "db".
    auto default_network = isolab({"run", "--rm", "busybox", "grep", "-cw", "db", "/etc/hosts"});

    EXPECT_EQ(by_name.exit_code, 0) << by_name.out << by_name.err;
    EXPECT_NE(updated.out.find("\tweb"), std::string::npos) << updated.out;
    EXPECT_EQ(default_network.out, "0\n") << "names resolve on user-defined networks only";
    isolab({"rm", "-f", "db", "web"});
    isolab({"network", "rm", "appnet"});
}

TEST_F(ContainerNetwork, UserNetworkLifecycle) {
    auto created = isolab({"network", "create", "--subnet", "10.89.231.0/24", "lab"});
    ASSERT_EQ(created.exit_code, 0) << created.err;
    auto inspected = nlohmann::json::parse(isolab({"network", "inspect", "lab"}).out);
    auto bridge = inspected[0]["Options"]["com.docker.network.bridge.name"].get<std::string>();
    ASSERT_TRUE(network::link_exists(bridge)) << bridge;
    ASSERT_EQ(isolab({"run", "-d", "--network", "lab", "--name", "member", "busybox", "sleep", "60"}).exit_code, 0);

    auto listing = isolab({"network", "ls"});
    auto address = inspect("member").address;
    auto busy = isolab({"network", "rm", "lab"});
    isolab({"rm", "-f", "member"});
    auto removed = isolab({"network", "rm", "lab"});

    EXPECT_NE(listing.out.find("10.89.231.0/24"), std::string::npos) << listing.out;
    EXPECT_EQ(address.rfind("10.89.231.", 0), 0u) << address;
    EXPECT_NE(busy.exit_code, 0);
    EXPECT_NE(busy.err.find("network lab is used by container member"), std::string::npos) << busy.err;
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    expect_bridge_gone(bridge);
}

TEST_F(ContainerNetwork, UserNetworkErrors) {
    auto unknown = isolab({"run", "--rm", "--network", "missing", "busybox", "true"});
    auto reserved = isolab({"network", "create", "host"});
    auto subnet = isolab({"network", "create", "--subnet", "10.89.232.1/24", "odd"});

    EXPECT_EQ(unknown.exit_code, 125);
    EXPECT_NE(unknown.err.find("network missing not found"), std::string::npos) << unknown.err;
    EXPECT_NE(reserved.err.find("network name 'host' is reserved"), std::string::npos) << reserved.err;
    EXPECT_NE(subnet.err.find("host bits are set"), std::string::npos) << subnet.err;
}

TEST_F(ContainerNetwork, ReservedSubnetsRejected) {
    for (const std::string subnet : {"127.0.0.0/24", "0.0.0.0/8", "169.254.0.0/24", "224.0.0.0/24", "240.1.0.0/16"}) {
        auto created = isolab({"network", "create", "--subnet", subnet, "reserved"});

        EXPECT_EQ(created.exit_code, 125) << subnet;
        EXPECT_NE(created.err.find("invalid --subnet " + subnet + ": it overlaps the"), std::string::npos) << created.err;
        EXPECT_NE(isolab({"network", "inspect", "reserved"}).exit_code, 0) << subnet << " was created";
    }
}

TEST_F(ContainerNetwork, ConnectAndDisconnect) {
    ASSERT_EQ(isolab({"network", "create", "--subnet", "10.89.233.0/24", "extra"}).exit_code, 0);
    ASSERT_EQ(isolab({"run", "-d", "--name", "joiner", "busybox", "sleep", "60"}).exit_code, 0);

    auto connected = isolab({"network", "connect", "extra", "joiner"});
    auto address = isolab({"exec", "joiner", "sh", "-c", "ip -4 -o addr show eth1 | awk '{print $4}'"});
    auto by_name = isolab({"run", "--rm", "--network", "extra", "busybox", "ping", "-c", "1", "-W", "2", "joiner"});
    auto disconnected = isolab({"network", "disconnect", "extra", "joiner"});
    auto devices = isolab({"exec", "joiner", "ls", "/sys/class/net"});
    isolab({"rm", "-f", "joiner"});
    auto removed = isolab({"network", "rm", "extra"});

    EXPECT_EQ(connected.exit_code, 0) << connected.err;
    EXPECT_EQ(address.out.rfind("10.89.233.", 0), 0u) << address.out << address.err;
    EXPECT_EQ(by_name.exit_code, 0) << by_name.out << by_name.err;
    EXPECT_EQ(disconnected.exit_code, 0) << disconnected.err;
    EXPECT_EQ(devices.out, "eth0\nlo\n") << devices.err;
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_EQ(ipam_text().find("joiner"), std::string::npos) << ipam_text();
}

TEST_F(ContainerNetwork, PsShowsPublishedPorts) {
    auto tcp = std::to_string(free_port());
    auto udp = std::to_string(free_port());
    ASSERT_EQ(isolab({"run", "-d", "--name", "ported", "-p", "127.0.0.1:" + tcp + ":80", "-p", udp + ":90/udp", "busybox",
                      "sleep", "60"})
                  .exit_code,
              0);
    const std::string expected = "127.0.0.1:" + tcp + "->80/tcp, 0.0.0.0:" + udp + "->90/udp";

    auto table = isolab({"ps"});
    auto templated = isolab({"ps", "--format", "{{.Names}}: {{.Ports}}"});
    auto lines = isolab({"ps", "--format", "json"});
    ASSERT_EQ(isolab({"stop", "-t", "1", "ported"}).exit_code, 0);
    auto stopped = isolab({"ps", "-a", "--format", "{{.Names}}: {{.Ports}}"});
    isolab({"rm", "-f", "ported"});

    EXPECT_NE(table.out.find("   PORTS   "), std::string::npos) << table.out;
    EXPECT_NE(table.out.find(expected + "   ported\n"), std::string::npos) << table.out;
    EXPECT_EQ(templated.out, "ported: " + expected + "\n") << templated.err;
    auto object = nlohmann::json::parse(lines.out, nullptr, false);
    ASSERT_FALSE(object.is_discarded()) << lines.out;
    EXPECT_EQ(object.value("Ports", ""), expected) << lines.out;
    EXPECT_EQ(stopped.out, "ported: \n") << "a stopped container publishes nothing";
}

TEST_F(ContainerNetwork, InspectPortsDockerShape) {
    auto context = root_.root() / "exposing";
    fs::create_directories(context);
    write_file_atomic(context / "Dockerfile", "FROM busybox\nEXPOSE 80 443/tcp\n");
    auto built = isolab({"build", "-t", "exposing", context.string()});
    ASSERT_EQ(built.exit_code, 0) << built.err;
    auto port = std::to_string(free_port());
    ASSERT_EQ(isolab({"run", "-d", "--name", "shaped", "-p", port + ":80", "exposing", "sleep", "60"}).exit_code, 0);

    auto running = nlohmann::json::parse(isolab({"inspect", "shaped"}).out)[0];
    ASSERT_EQ(isolab({"stop", "-t", "1", "shaped"}).exit_code, 0);
    auto stopped = nlohmann::json::parse(isolab({"inspect", "shaped"}).out)[0];
    isolab({"rm", "-f", "shaped"});

    auto published = nlohmann::json::parse(R"({"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": ")" + port + R"("}],
                                               "443/tcp": null})");
    auto bindings = nlohmann::json::parse(R"({"80/tcp": [{"HostIp": "", "HostPort": ")" + port + R"("}]})");
    EXPECT_EQ(running["NetworkSettings"]["Ports"], published) << running["NetworkSettings"];
    EXPECT_EQ(running["HostConfig"]["PortBindings"], bindings) << running["HostConfig"];
    EXPECT_EQ(running["HostConfig"]["PublishAllPorts"], false);
    EXPECT_EQ(stopped["NetworkSettings"]["Ports"], nlohmann::json::object()) << stopped["NetworkSettings"];
    EXPECT_EQ(stopped["HostConfig"]["PortBindings"], bindings) << stopped["HostConfig"];
}

TEST_F(ContainerNetwork, ConnectionAndPortsSurviveRestart) {
    ASSERT_EQ(isolab({"network", "create", "kept"}).exit_code, 0);
    auto port = std::to_string(free_port());
    ASSERT_EQ(run_web("keeper", port + ":80", "kept-page").exit_code, 0);
    ASSERT_EQ(isolab({"network", "connect", "kept", "keeper"}).exit_code, 0);
    auto subnet = nlohmann::json::parse(isolab({"network", "inspect", "kept"}).out)[0]["IPAM"]["Config"][0]["Subnet"].get<std::string>();
    auto prefix = subnet.substr(0, subnet.rfind('.') + 1);

    auto restarted = isolab({"restart", "-t", "1", "keeper"});
    auto after_restart = isolab({"exec", "keeper", "ip", "-4", "-o", "addr", "show", "eth1"});
    auto page_after_restart = http_get("127.0.0.1", static_cast<std::uint16_t>(std::stoi(port)));
    auto stopped = isolab({"stop", "-t", "1", "keeper"});
    auto started = isolab({"start", "keeper"});
    auto after_start = isolab({"exec", "keeper", "ip", "-4", "-o", "addr", "show", "eth1"});
    auto page_after_start = http_get("127.0.0.1", static_cast<std::uint16_t>(std::stoi(port)));
    isolab({"rm", "-f", "keeper"});
    auto removed = isolab({"network", "rm", "kept"});

    EXPECT_EQ(restarted.exit_code, 0) << restarted.err;
    EXPECT_NE(after_restart.out.find(" " + prefix), std::string::npos) << after_restart.out << after_restart.err;
    EXPECT_NE(page_after_restart.find("kept-page"), std::string::npos) << page_after_restart;
    EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
    EXPECT_EQ(started.exit_code, 0) << started.err;
    EXPECT_NE(after_start.out.find(" " + prefix), std::string::npos) << after_start.out << after_start.err;
    EXPECT_NE(page_after_start.find("kept-page"), std::string::npos) << page_after_start;
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_EQ(ipam_text().find("keeper"), std::string::npos) << ipam_text();
}

TEST_F(ContainerNetwork, ConnectionSurvivesPolicyRestart) {
    ASSERT_EQ(isolab({"network", "create", "policy"}).exit_code, 0);
    // Each run waits until /stop exists, then fails, so on-failure starts it again.
    ASSERT_EQ(isolab({"run", "-d", "--name", "flaky", "--restart", "on-failure", "busybox", "sh", "-c",
                      "rm -f /stop; while [ ! -f /stop ]; do sleep 0.1; done; exit 3"})
                  .exit_code,
              0);
    ASSERT_EQ(isolab({"network", "connect", "policy", "flaky"}).exit_code, 0);
    auto first_pid = container::find_container(root_.paths(), "flaky")->state.pid;

    ASSERT_EQ(isolab({"exec", "flaky", "touch", "/stop"}).exit_code, 0);
    bool restarted = false;
    for (int attempt = 0; attempt < 100 && !restarted; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        auto current = container::find_container(root_.paths(), "flaky");
        restarted = current && current->state.restart_count >= 1 && current->state.status == "running" &&
                    current->state.pid != first_pid;
    }
    // The owner joins the networks before it records the start, so they are there now.
    auto devices = isolab({"exec", "flaky", "ls", "/sys/class/net"});
    auto network = nlohmann::json::parse(isolab({"network", "inspect", "policy"}).out)[0];
    isolab({"rm", "-f", "flaky"});
    auto removed = isolab({"network", "rm", "policy"});

    ASSERT_TRUE(restarted) << "the restart policy did not start flaky again";
    EXPECT_EQ(devices.out, "eth0\neth1\nlo\n") << devices.err;
    EXPECT_EQ(network["Containers"].size(), 1u) << network;
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
}

TEST_F(ContainerNetwork, ConnectStoppedJoinsAtStart) {
    ASSERT_EQ(isolab({"network", "create", "later"}).exit_code, 0);
    ASSERT_EQ(isolab({"create", "--name", "idle", "busybox", "sleep", "60"}).exit_code, 0);

    auto connected = isolab({"network", "connect", "later", "idle"});
    auto twice = isolab({"network", "connect", "later", "idle"});
    auto started = isolab({"start", "idle"});
    auto devices = isolab({"exec", "idle", "ls", "/sys/class/net"});
    ASSERT_EQ(isolab({"stop", "-t", "1", "idle"}).exit_code, 0);
    auto disconnected = isolab({"network", "disconnect", "later", "idle"});
    auto restarted = isolab({"start", "idle"});
    auto devices_after = isolab({"exec", "idle", "ls", "/sys/class/net"});
    isolab({"rm", "-f", "idle"});
    auto removed = isolab({"network", "rm", "later"});

    EXPECT_EQ(connected.exit_code, 0) << connected.err;
    EXPECT_EQ(twice.exit_code, 1);
    EXPECT_NE(twice.err.find("container idle is already on network later"), std::string::npos) << twice.err;
    EXPECT_EQ(started.exit_code, 0) << started.err;
    EXPECT_EQ(devices.out, "eth0\neth1\nlo\n") << devices.err;
    EXPECT_EQ(disconnected.exit_code, 0) << disconnected.err;
    EXPECT_EQ(restarted.exit_code, 0) << restarted.err;
    EXPECT_EQ(devices_after.out, "eth0\nlo\n") << devices_after.err;
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
}

TEST_F(ContainerNetwork, NetworkAliasesResolveOnEachNetwork) {
    ASSERT_EQ(isolab({"network", "create", "--subnet", "10.89.236.0/24", "front"}).exit_code, 0);
    ASSERT_EQ(isolab({"network", "create", "--subnet", "10.89.237.0/24", "back"}).exit_code, 0);
    auto started = isolab({"run", "-d", "--network", "front", "--network-alias", "db", "--network-alias", "store",
                           "--name", "database", "busybox", "sleep", "60"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    ASSERT_EQ(isolab({"run", "-d", "--network", "front", "--name", "client", "busybox", "sleep", "60"}).exit_code, 0);

    auto by_alias = isolab({"exec", "client", "ping", "-c", "1", "-W", "2", "db"});
    auto by_second_alias = isolab({"exec", "client", "ping", "-c", "1", "-W", "2", "store"});
    auto connected = isolab({"network", "connect", "--alias", "cache", "back", "database"});
    auto on_back = isolab({"run", "--rm", "--network", "back", "busybox", "ping", "-c", "1", "-W", "2", "cache"});
    // Joining back keeps the names of front in the connected container's /etc/hosts.
    auto front_after_connect = isolab({"exec", "database", "ping", "-c", "1", "-W", "2", "client"});
    // An alias belongs to one network: "db" is not a name on back.
    auto front_alias_on_back = isolab({"run", "--rm", "--network", "back", "busybox", "grep", "-cw", "db", "/etc/hosts"});
    isolab({"rm", "-f", "database", "client"});
    isolab({"network", "rm", "front", "back"});

    EXPECT_EQ(by_alias.exit_code, 0) << by_alias.out << by_alias.err;
    EXPECT_NE(by_alias.out.find("10.89.236."), std::string::npos) << by_alias.out;
    EXPECT_EQ(by_second_alias.exit_code, 0) << by_second_alias.out << by_second_alias.err;
    EXPECT_EQ(connected.exit_code, 0) << connected.err;
    EXPECT_EQ(on_back.exit_code, 0) << on_back.out << on_back.err;
    EXPECT_NE(on_back.out.find("10.89.237."), std::string::npos) << on_back.out;
    EXPECT_EQ(front_alias_on_back.out, "0\n") << front_alias_on_back.err;
    EXPECT_EQ(front_after_connect.exit_code, 0) << front_after_connect.out << front_after_connect.err;
    EXPECT_NE(front_after_connect.out.find("10.89.236."), std::string::npos) << front_after_connect.out;
}

TEST_F(ContainerNetwork, NetworkAliasRejectedOffUserNetworks) {
    ASSERT_EQ(isolab({"create", "--name", "plain", "busybox", "sleep", "60"}).exit_code, 0);
    const std::vector<std::vector<std::string>> cases = {
        {"run", "--rm", "--network-alias", "db", "busybox", "true"},
        {"run", "--rm", "--network", "bridge", "--network-alias", "db", "busybox", "true"},
        {"create", "--network-alias", "db", "busybox", "true"},
        {"run", "--rm", "--network", "none", "--network-alias", "db", "busybox", "true"},
        {"run", "--rm", "--network", "host", "--network-alias", "db", "busybox", "true"},
        {"network", "connect", "--alias", "db", "bridge", "plain"},
    };
    for (const auto& arguments : cases) {
        auto result = isolab(arguments);

        EXPECT_EQ(result.exit_code, 125) << result.err;
        EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
        EXPECT_NE(result.err.find("network-scoped alias is supported only for containers in user-defined networks"),
                  std::string::npos)
            << result.err;
    }
    auto containers = isolab({"ps", "-a", "-q"});
    isolab({"rm", "plain"});

    EXPECT_EQ(std::count(containers.out.begin(), containers.out.end(), '\n'), 1) << "only 'plain' was created: " << containers.out;
}

TEST_F(ContainerNetwork, InspectNetworkDockerFields) {
    auto created = isolab({"network", "create", "--subnet", "10.89.238.0/24", "shown"});
    ASSERT_EQ(created.exit_code, 0) << created.err;
    ASSERT_EQ(isolab({"run", "-d", "--network", "shown", "--name", "member", "busybox", "sleep", "60"}).exit_code, 0);

    auto inspected = isolab({"network", "inspect", "shown"});
    auto mac_inside = isolab({"exec", "member", "cat", "/sys/class/net/eth0/address"});
    auto id = inspect("member").id;
    auto document = nlohmann::json::parse(inspected.out, nullptr, false);
    std::string network_id = document.is_array() && !document.empty() ? document[0].value("Id", "") : "";
    auto by_id = isolab({"network", "inspect", network_id.substr(0, 12)});
    isolab({"rm", "-f", "member"});
    isolab({"network", "rm", "shown"});

    ASSERT_EQ(inspected.exit_code, 0) << inspected.err;
    ASSERT_TRUE(document.is_array()) << inspected.out;
    ASSERT_EQ(document.size(), 1u) << inspected.out;
    const auto& network = document[0];
    EXPECT_EQ(network["Name"], "shown");
    EXPECT_EQ(network_id.size(), 64u) << network;
    EXPECT_EQ(network_id.find_first_not_of("0123456789abcdef"), std::string::npos) << network_id;
    EXPECT_EQ(network["Driver"], "bridge");
    EXPECT_EQ(network["Scope"], "local");
    EXPECT_FALSE(network.value("Created", "").empty()) << network;
    EXPECT_TRUE(network["Labels"].is_object()) << network;
    ASSERT_EQ(network["IPAM"]["Config"].size(), 1u) << network;
    EXPECT_EQ(network["IPAM"]["Config"][0]["Subnet"], "10.89.238.0/24");
    EXPECT_EQ(network["IPAM"]["Config"][0]["Gateway"], "10.89.238.1");
    ASSERT_TRUE(network["Containers"].contains(id)) << network;
    const auto& member = network["Containers"][id];
    EXPECT_EQ(member["Name"], "member");
    EXPECT_EQ(member["IPv4Address"], "10.89.238.2/24");
    // 02:42 and the address's bytes, on the container's eth0 too.
    EXPECT_EQ(member["MacAddress"], "02:42:0a:59:ee:02");
    EXPECT_EQ(mac_inside.out, "02:42:0a:59:ee:02\n") << mac_inside.err;
    EXPECT_EQ(by_id.exit_code, 0) << by_id.err;
    EXPECT_NE(by_id.out.find("\"shown\""), std::string::npos) << by_id.out;
}

}  // namespace
}  // namespace isolab::testing
