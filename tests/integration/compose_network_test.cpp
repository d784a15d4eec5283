// `isolab compose` on networks with real containers: published ports (HTTP over
// loopback), the default and declared networks, name and alias resolution, scale, external
// networks, and a `down` that leaves no network, veth, iptables rule, container or
// cgroup. Needs root.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "runtime/container/record.hpp"
#include "runtime/core/process.hpp"
#include "runtime/linux/cgroups.hpp"
#include "runtime/network/bridge.hpp"
#include "runtime/network/netlink.hpp"
#include "support/root_cli_test.hpp"

namespace isolab::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class ComposeNetwork : public BusyboxCliTest {
protected:
    void SetUp() override {
        BusyboxCliTest::SetUp();
        if (IsSkipped()) return;
        project_dir_ = root_.root() / "project";
        fs::create_directories(project_dir_ / "www");
        std::ofstream(project_dir_ / "www" / "index.html") << "hello from compose\n";
    }

    void TearDown() override {
        if (IsSkipped()) return;
        compose({"down", "-v"});
        for (const auto& message : remove_all_containers(root_.paths())) ADD_FAILURE() << message;
        isolab({"network", "prune", "-f"});
    }

    void write_compose(const std::string& text) { std::ofstream(project_dir_ / "compose.yaml") << text; }

    // Runs `isolab compose -f PROJECT/compose.yaml -p demo ARGUMENTS`.
    CliResult compose(const std::vector<std::string>& arguments) {
        std::vector<std::string> full = {"compose", "-f", (project_dir_ / "compose.yaml").string(), "-p", "demo"};
        full.insert(full.end(), arguments.begin(), arguments.end());
        return isolab(full);
    }

    // Names of the project's containers that `compose ps` lists.
    std::set<std::string> container_names() {
        auto result = compose({"ps", "--format", "json"});
        EXPECT_EQ(result.exit_code, 0) << result.err;
        std::set<std::string> names;
        std::istringstream lines(result.out);
        std::string line;
        while (std::getline(lines, line)) {
            if (!line.empty()) names.insert(json::parse(line).at("Name").get<std::string>());
        }
        return names;
    }

    // Names of the networks `network ls -q` lists.
    std::set<std::string> network_names() {
        auto result = isolab({"network", "ls", "-q"});
        EXPECT_EQ(result.exit_code, 0) << result.err;
        std::set<std::string> names;
        std::istringstream lines(result.out);
        std::string line;
        while (std::getline(lines, line)) {
            if (!line.empty()) names.insert(line);
        }
        return names;
    }

    // Runs a command in the first container of `service`; returns its exit code.
    int exec_in(const std::string& service, const std::vector<std::string>& command) {
        std::vector<std::string> arguments = {"exec", "-T", service};
        arguments.insert(arguments.end(), command.begin(), command.end());
        return compose(arguments).exit_code;
    }

    std::string httpd_service(std::uint16_t port) {
        return "  web:\n    image: busybox\n    command: [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n"
               "    volumes: [\"./www:/www:ro\"]\n"
               "    ports: [\"127.0.0.1:" + std::to_string(port) + ":80\"]\n";
    }

    fs::path project_dir_;
};

TEST_F(ComposeNetwork, PublishedPortServesHttp) {
    auto port = free_port();
    write_compose("services:\n" + httpd_service(port));

    auto up = compose({"up", "-d"});
    ASSERT_EQ(up.exit_code, 0) << up.err;

    auto response = http_get_when_up(port, "/index.html");
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "hello from compose\n");
    EXPECT_EQ(up.err.find("warning"), std::string::npos) << up.err;
}

TEST_F(ComposeNetwork, LongSyntaxPortServesHttp) {
    auto port = free_port();
    write_compose("services:\n  web:\n    image: busybox\n    command: [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n"
                  "    volumes: [\"./www:/www:ro\"]\n"
                  "    ports:\n      - target: 80\n        published: " + std::to_string(port) +
                  "\n        host_ip: 127.0.0.1\n        protocol: tcp\n");

    auto up = compose({"up", "-d"});
    ASSERT_EQ(up.exit_code, 0) << up.err;

    EXPECT_EQ(http_get_when_up(port, "/index.html").body, "hello from compose\n");
}

TEST_F(ComposeNetwork, PortReleasedAfterDown) {
    auto port = free_port();
    write_compose("services:\n" + httpd_service(port));
    ASSERT_EQ(compose({"up", "-d"}).exit_code, 0);
    ASSERT_EQ(http_get_when_up(port, "/index.html").status, 200);
    EXPECT_FALSE(port_free(port));

    auto down = compose({"down"});

    ASSERT_EQ(down.exit_code, 0) << down.err;
    EXPECT_TRUE(port_free(port));
    EXPECT_EQ(http_get(port, "/index.html").status, 0);
}

TEST_F(ComposeNetwork, PortTakenFailsWithOneLine) {
    auto port = free_port();
    write_compose("services:\n" + httpd_service(port));
    ASSERT_EQ(compose({"up", "-d"}).exit_code, 0);
    // A second project that publishes the same host port.
    auto second = isolab({"compose", "-f", (project_dir_ / "compose.yaml").string(), "-p", "other", "up", "-d"});

    EXPECT_NE(second.exit_code, 0);
    EXPECT_NE(second.err.find("port " + std::to_string(port) + "/tcp is already in use"), std::string::npos) << second.err;
    isolab({"compose", "-f", (project_dir_ / "compose.yaml").string(), "-p", "other", "down"});
}

TEST_F(ComposeNetwork, DefaultNetworkCreatedAndRemoved) {
    write_compose("services:\n  app:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n");

    auto up = compose({"up", "-d"});
    ASSERT_EQ(up.exit_code, 0) << up.err;
    EXPECT_TRUE(network_names().count("demo_default"));
    auto inspect = isolab({"network", "inspect", "demo_default"});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    EXPECT_EQ(json::parse(inspect.out).at(0).at("Labels").at("com.docker.compose.project"), "demo");

    ASSERT_EQ(compose({"down"}).exit_code, 0);
    EXPECT_FALSE(network_names().count("demo_default"));
}

TEST_F(ComposeNetwork, ServicesResolveByNameAndAlias) {
    write_compose("services:\n"
                  "  db:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n"
                  "    networks:\n      back:\n        aliases: [database]\n"
                  "  app:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n    networks: [back]\n"
                  "networks:\n  back:\n");
    auto up = compose({"up", "-d"});
    ASSERT_EQ(up.exit_code, 0) << up.err;

    EXPECT_EQ(exec_in("app", {"ping", "-c", "1", "-W", "2", "db"}), 0);
    EXPECT_EQ(exec_in("app", {"ping", "-c", "1", "-W", "2", "database"}), 0);
    EXPECT_EQ(exec_in("app", {"ping", "-c", "1", "-W", "2", "demo-db-1"}), 0);
    EXPECT_EQ(exec_in("db", {"ping", "-c", "1", "-W", "2", "app"}), 0);
    EXPECT_NE(exec_in("app", {"ping", "-c", "1", "-W", "1", "nosuchservice"}), 0);
}

TEST_F(ComposeNetwork, SecondNetworkReachedByAlias) {
    write_compose("services:\n"
                  "  web:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n"
                  "    networks:\n      front:\n      back:\n        aliases: [api]\n"
                  "  db:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n    networks: [back]\n"
                  "  proxy:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n    networks: [front]\n"
                  "networks:\n  front:\n  back:\n    ipam:\n      config:\n        - subnet: 10.89.213.0/24\n");
    auto up = compose({"up", "-d"});
    ASSERT_EQ(up.exit_code, 0) << up.err;

    EXPECT_EQ(exec_in("db", {"ping", "-c", "1", "-W", "2", "api"}), 0);
    EXPECT_EQ(exec_in("db", {"ping", "-c", "1", "-W", "2", "web"}), 0);
    EXPECT_EQ(exec_in("proxy", {"ping", "-c", "1", "-W", "2", "web"}), 0);
    // db and proxy share no network, so neither resolves the other's name.
    EXPECT_NE(exec_in("proxy", {"ping", "-c", "1", "-W", "1", "db"}), 0);
    auto inspect = isolab({"network", "inspect", "demo_back"});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    EXPECT_EQ(json::parse(inspect.out).at(0).at("IPAM").at("Config").at(0).at("Subnet"), "10.89.213.0/24");
}

TEST_F(ComposeNetwork, DownLeavesNoLeftovers) {
    auto port = free_port();
    write_compose("services:\n" + httpd_service(port) +
                  "  db:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n    networks: [back, default]\n"
                  "networks:\n  back:\n");
    const auto alias = network::owner_alias(root_.paths());
    auto networks_before = network_names();

    auto up = compose({"up", "-d"});
    ASSERT_EQ(up.exit_code, 0) << up.err;
    ASSERT_EQ(http_get_when_up(port, "/index.html").status, 200);

    std::vector<std::string> bridges;
    for (const auto& name : {"demo_default", "demo_back"}) {
        auto inspect = isolab({"network", "inspect", name});
        ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
        bridges.push_back(json::parse(inspect.out).at(0).at("Options").at("com.docker.network.bridge.name"));
    }
    std::vector<std::string> ids;
    for (const auto& stored : container::list_containers(root_.paths())) ids.push_back(stored.config.id);
    ASSERT_EQ(ids.size(), 2u);
    for (const auto& id : ids) ASSERT_TRUE(network::link_exists(network::veth_name(id))) << id;

    auto down = compose({"down"});
    ASSERT_EQ(down.exit_code, 0) << down.err;

    EXPECT_EQ(network_names(), networks_before);
    EXPECT_TRUE(no_containers());
    for (const auto& link : network::list_links()) {
        EXPECT_NE(link.alias, alias) << "bridge " << link.name << " of this state root is left";
    }
    for (const auto& id : ids) {
        EXPECT_FALSE(network::link_exists(network::veth_name(id))) << id;
        for (const auto& directory : kernel::cgroup_directories(kernel::detect_cgroups(), "isolab-" + id)) {
            EXPECT_FALSE(fs::exists(directory)) << directory;
        }
    }
    auto rules = run_command({"iptables", "-w", "5", "-S"}).output + run_command({"iptables", "-w", "5", "-t", "nat", "-S"}).output;
    for (const auto& bridge : bridges) {
        // Tests of other state roots may reuse a free bridge name at once, so a rule is
        // only ours while no link of that name exists.
        if (network::link_exists(bridge)) continue;
        EXPECT_EQ(rules.find(" " + bridge + " "), std::string::npos) << rules;
        EXPECT_EQ(rules.find(" " + bridge + "\n"), std::string::npos) << rules;
    }
    EXPECT_TRUE(port_free(port));
}

TEST_F(ComposeNetwork, NetworkModeNoneHasOnlyLoopback) {
    write_compose("services:\n  app:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n    network_mode: none\n");

    auto up = compose({"up", "-d"});
    ASSERT_EQ(up.exit_code, 0) << up.err;

    EXPECT_FALSE(network_names().count("demo_default"));
    EXPECT_NE(exec_in("app", {"ip", "link", "show", "eth0"}), 0);
}

TEST_F(ComposeNetwork, ExternalNetworkKeptByDown) {
    ASSERT_EQ(isolab({"network", "create", "shared"}).exit_code, 0);
    write_compose("services:\n  app:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n    networks: [outside]\n"
                  "networks:\n  outside:\n    external: true\n    name: shared\n");

    auto up = compose({"up", "-d"});
    ASSERT_EQ(up.exit_code, 0) << up.err;
    EXPECT_FALSE(network_names().count("demo_outside"));
    ASSERT_EQ(compose({"down"}).exit_code, 0);

    EXPECT_TRUE(network_names().count("shared"));
}

TEST_F(ComposeNetwork, MissingExternalNetworkFails) {
    write_compose("services:\n  app:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n    networks: [outside]\n"
                  "networks:\n  outside:\n    external: true\n");

    auto up = compose({"up", "-d"});

    EXPECT_NE(up.exit_code, 0);
    EXPECT_EQ(up.err.find('\n'), up.err.size() - 1) << up.err;
    EXPECT_NE(up.err.find("external network outside not found"), std::string::npos) << up.err;
    EXPECT_TRUE(no_containers());
}

TEST_F(ComposeNetwork, ScaleMakesNContainers) {
    write_compose("services:\n  worker:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n");

    auto up = compose({"up", "-d", "--scale", "worker=3"});
    ASSERT_EQ(up.exit_code, 0) << up.err;
    EXPECT_EQ(container_names(), (std::set<std::string>{"demo-worker-1", "demo-worker-2", "demo-worker-3"}));
    // Replicas share the service's name on the network.
    EXPECT_EQ(exec_in("worker", {"ping", "-c", "1", "-W", "2", "demo-worker-3"}), 0);

    auto down_scale = compose({"up", "-d", "--scale", "worker=1"});
    ASSERT_EQ(down_scale.exit_code, 0) << down_scale.err;
    EXPECT_EQ(container_names(), (std::set<std::string>{"demo-worker-1"}));
}

TEST_F(ComposeNetwork, DeployReplicasMakesNContainers) {
    write_compose("services:\n  worker:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n"
                  "    deploy:\n      replicas: 2\n");

    auto up = compose({"up", "-d"});
    ASSERT_EQ(up.exit_code, 0) << up.err;

    EXPECT_EQ(container_names(), (std::set<std::string>{"demo-worker-1", "demo-worker-2"}));
}

TEST_F(ComposeNetwork, ScaledServiceCommandsReachEveryReplica) {
    write_compose("services:\n  worker:\n    image: busybox\n    command: [\"sh\", \"-c\", \"echo up; exec sleep 600\"]\n"
                  "    deploy:\n      replicas: 2\n");
    auto up = compose({"up", "-d"});
    ASSERT_EQ(up.exit_code, 0) << up.err;

    auto first = compose({"exec", "-T", "worker", "hostname"});
    auto second = compose({"exec", "-T", "--index", "2", "worker", "hostname"});
    auto missing = compose({"exec", "-T", "--index", "3", "worker", "true"});
    auto first_id = json::parse(isolab({"inspect", "demo-worker-1"}).out)[0]["Id"].get<std::string>();
    auto second_id = json::parse(isolab({"inspect", "demo-worker-2"}).out)[0]["Id"].get<std::string>();
    auto stopped = compose({"stop", "-t", "1"});
    auto running_after_stop = container_names();
    auto started = compose({"start"});
    auto running_after_start = container_names();
    auto restarted = compose({"restart", "-t", "1"});
    auto running_after_restart = container_names();
    auto logs = compose({"logs"});

    EXPECT_EQ(first.out, first_id.substr(0, 12) + "\n") << first.err;
    EXPECT_EQ(second.out, second_id.substr(0, 12) + "\n") << second.err;
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
    EXPECT_NE(missing.err.find("service worker of project demo has no container with index 3"), std::string::npos)
        << missing.err;
    EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
    EXPECT_TRUE(running_after_stop.empty()) << "stop leaves a replica running";
    EXPECT_EQ(started.exit_code, 0) << started.err;
    EXPECT_EQ(running_after_start, (std::set<std::string>{"demo-worker-1", "demo-worker-2"}));
    EXPECT_EQ(restarted.exit_code, 0) << restarted.err;
    EXPECT_EQ(running_after_restart, (std::set<std::string>{"demo-worker-1", "demo-worker-2"}));
    // Each replica printed "up" at up, start and restart, and logs shows all of it.
    for (const std::string name : {"demo-worker-1", "demo-worker-2"}) {
        size_t lines = 0;
        for (auto at = logs.out.find(name); at != std::string::npos; at = logs.out.find(name, at + 1)) ++lines;
        EXPECT_EQ(lines, 3u) << name << " in:\n" << logs.out;
    }
}

TEST_F(ComposeNetwork, ScaleWithFixedHostPortRejected) {
    write_compose("services:\n" + httpd_service(free_port()));

    auto up = compose({"up", "-d", "--scale", "web=2"});

    EXPECT_NE(up.exit_code, 0);
    EXPECT_EQ(up.err.find('\n'), up.err.size() - 1) << up.err;
    EXPECT_NE(up.err.find("service web cannot run 2 replicas: each would publish host port"), std::string::npos) << up.err;
    EXPECT_TRUE(no_containers());
    EXPECT_FALSE(network_names().count("demo_default"));
}

TEST_F(ComposeNetwork, ScaleWithContainerPortOnly) {
    write_compose("services:\n  web:\n    image: busybox\n    command: [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n"
                  "    volumes: [\"./www:/www:ro\"]\n    ports: [\"127.0.0.1::80\"]\n");

    auto up = compose({"up", "-d", "--scale", "web=2"});
    ASSERT_EQ(up.exit_code, 0) << up.err;

    std::set<std::uint16_t> ports;
    for (const auto& name : {"demo-web-1", "demo-web-2"}) {
        auto inspect = isolab({"inspect", name});
        ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
        // Docker's shape: {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "PORT"}]}
        auto binding = json::parse(inspect.out).at(0).at("NetworkSettings").at("Ports").at("80/tcp").at(0);
        EXPECT_EQ(binding.at("HostIp"), "127.0.0.1") << name;
        auto port = static_cast<std::uint16_t>(std::stoi(binding.at("HostPort").get<std::string>()));
        ports.insert(port);
        EXPECT_EQ(http_get_when_up(port, "/index.html").body, "hello from compose\n") << name;
    }
    EXPECT_EQ(ports.size(), 2u);
}

TEST_F(ComposeNetwork, InvalidScaleRejected) {
    write_compose("services:\n  worker:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n");

    auto unknown = compose({"up", "-d", "--scale", "nosuch=2"});
    auto malformed = compose({"up", "-d", "--scale", "worker=many"});

    EXPECT_NE(unknown.exit_code, 0);
    EXPECT_NE(unknown.err.find("--scale nosuch=2: no such service"), std::string::npos) << unknown.err;
    EXPECT_NE(malformed.exit_code, 0);
    EXPECT_NE(malformed.err.find("invalid --scale worker=many"), std::string::npos) << malformed.err;
    EXPECT_TRUE(no_containers());
}

TEST_F(ComposeNetwork, InvalidPortNamesFileLineAndKey) {
    write_compose("services:\n  web:\n    image: busybox\n    ports: [\"99999:80\"]\n");

    auto up = compose({"up", "-d"});

    EXPECT_NE(up.exit_code, 0);
    EXPECT_EQ(up.err.find('\n'), up.err.size() - 1) << up.err;
    EXPECT_NE(up.err.find("compose.yaml:4: services.web.ports: invalid port '99999'"), std::string::npos) << up.err;
    EXPECT_TRUE(no_containers());
}

// A name that cannot become a container, volume or network name fails when the file is
// read, with its file, line and key, before any network or volume exists.
TEST_F(ComposeNetwork, InvalidNamesCreateNothing) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"services:\n  \"a b\":\n    image: busybox\n", "compose.yaml:2: services.a b: invalid service name \"a b\""},
        {"services:\n  app:\n    image: busybox\nvolumes:\n  \"x/y\":\n",
         "compose.yaml:5: volumes.x/y: invalid volume name \"x/y\""},
        {"services:\n  app:\n    image: busybox\n    networks: [back]\nnetworks:\n  back:\n    name: host\n",
         "compose.yaml:6: networks.back: network name \"host\" is reserved"},
    };
    for (const auto& [text, message] : cases) {
        write_compose(text);
        auto up = compose({"up", "-d"});
        EXPECT_EQ(up.exit_code, 1) << text;
        EXPECT_EQ(up.err.find('\n'), up.err.size() - 1) << up.err;
        EXPECT_NE(up.err.find(message), std::string::npos) << up.err;
        EXPECT_EQ(network_names(), std::set<std::string>{"bridge"}) << text;
        EXPECT_EQ(isolab({"volume", "ls", "-q"}).out, "") << text;
        EXPECT_TRUE(no_containers()) << text;
    }
}

// An up that fails before its first container started removes the network and volume it
// created.
TEST_F(ComposeNetwork, FailedUpRemovesWhatItCreated) {
    write_compose("services:\n  app:\n    image: lab/missing:1\n    volumes: [\"data:/data\"]\nvolumes:\n  data:\n");

    auto up = compose({"up", "-d"});

    EXPECT_NE(up.exit_code, 0);
    EXPECT_NE(up.err.find("lab/missing:1"), std::string::npos) << up.err;
    EXPECT_EQ(network_names(), std::set<std::string>{"bridge"});
    EXPECT_EQ(isolab({"volume", "ls", "-q"}).out, "");
    EXPECT_TRUE(no_containers());
}

// A network of the project's name that the project did not create is not used, and the
// message does not suggest removing it.
TEST_F(ComposeNetwork, ForeignNetworkOfSameNameRejected) {
    ASSERT_EQ(isolab({"network", "create", "demo_default"}).exit_code, 0);
    write_compose("services:\n  app:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n");

    auto up = compose({"up", "-d"});

    EXPECT_EQ(up.exit_code, 1);
    EXPECT_EQ(up.err.find('\n'), up.err.size() - 1) << up.err;
    EXPECT_NE(up.err.find("network demo_default exists but was not created by project demo"), std::string::npos) << up.err;
    EXPECT_EQ(up.err.find("network rm"), std::string::npos) << up.err;
    EXPECT_TRUE(no_containers());
    EXPECT_TRUE(network_names().count("demo_default"));
}

// Concurrent ups of one project wait for each other and end with one set of containers.
TEST_F(ComposeNetwork, ConcurrentUpsMakeOneSet) {
    write_compose("services:\n  app:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n"
                  "  other:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n");

    std::vector<std::future<CliResult>> ups;
    for (int i = 0; i < 3; ++i) ups.push_back(std::async(std::launch::async, [this] { return compose({"up", "-d"}); }));
    for (auto& up : ups) {
        auto result = up.get();
        EXPECT_EQ(result.exit_code, 0) << result.err;
    }

    EXPECT_EQ(container_names(), (std::set<std::string>{"demo-app-1", "demo-other-1"}));
    EXPECT_EQ(container::list_containers(root_.paths()).size(), 2u);
    EXPECT_EQ(network_names(), (std::set<std::string>{"bridge", "demo_default"}));
}

}  // namespace
}  // namespace isolab::testing
