// Several isolab processes on one state root at once: many containers started together
// all run and all clean up, and two processes building, running and removing images and
// volumes side by side leave the store consistent.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <future>
#include <sstream>
#include <set>

#include <nlohmann/json.hpp>

#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "runtime/image/layout.hpp"
#include "runtime/network/bridge.hpp"
#include "runtime/network/netlink.hpp"
#include "runtime/image/store.hpp"
#include "support/root_cli_test.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Runs `count` isolab commands at once, one thread each, and returns their results in order.
std::vector<testing::CliResult> run_together(const Paths& paths, int count,
                                             const std::function<std::vector<std::string>(int)>& arguments) {
    std::vector<std::future<testing::CliResult>> running;
    for (int i = 0; i < count; ++i) {
        running.push_back(std::async(std::launch::async, [&paths, args = arguments(i)] { return testing::run_isolab(paths, args); }));
    }
    std::vector<testing::CliResult> results;
    for (auto& result : running) results.push_back(result.get());
    return results;
}

using ConcurrencyTest = testing::BusyboxCliTest;

// 20 detached containers started at once are all running at the same time, then 20
// `rm -f` at once remove every one with its cgroup, veth, mounts and address lease.
TEST_F(ConcurrencyTest, TwentyContainersStartTogetherAndAllCleanUp) {
    constexpr int count = 20;
    auto started = run_together(root_.paths(), count, [](int i) {
        return std::vector<std::string>{"run", "-d", "--name", "c" + std::to_string(i), "busybox", "sleep", "600"};
    });
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
        EXPECT_EQ(started[i].exit_code, 0) << "c" << i << ": " << started[i].err;
        if (started[i].exit_code == 0) ids.push_back(started[i].out.substr(0, started[i].out.find('\n')));
    }

    auto listing = isolab({"ps", "--format", "json"});
    ASSERT_EQ(listing.exit_code, 0) << listing.err;
    std::set<std::string> addresses;
    int running = 0;
    std::istringstream lines(listing.out);
    for (std::string line; std::getline(lines, line);) running += json::parse(line)["State"] == "running";
    EXPECT_EQ(running, count) << listing.out;
    auto ipam = json::parse(read_file(root_.paths().root / "network/ipam.json"));
    for (const auto& [name, network] : ipam["networks"].items()) {
        for (const auto& [address, lease] : network["leases"].items()) addresses.insert(address);
    }
    EXPECT_EQ(addresses.size(), static_cast<size_t>(count)) << "each running container has its own address";

    auto removed = run_together(root_.paths(), count, [](int i) {
        return std::vector<std::string>{"rm", "-f", "c" + std::to_string(i)};
    });
    for (int i = 0; i < count; ++i) EXPECT_EQ(removed[i].exit_code, 0) << "c" << i << ": " << removed[i].err;

    EXPECT_EQ(isolab({"ps", "-a", "-q"}).out, "");
    EXPECT_TRUE(no_containers());
    expect_no_container_leftovers(ids);
}

// Runs `rounds` times: build an image tagged wN:ROUND, create a volume, run the image
// with the volume, remove the volume, and with `remove_image` also rmi the image. Returns
// one message per step that failed.
std::vector<std::string> build_run_remove(const Paths& paths, int worker, int rounds, bool remove_image) {
    std::vector<std::string> failures;
    auto context = paths.root.parent_path() / ("context" + std::to_string(worker));
    fs::create_directories(context);
    for (int round = 0; round < rounds; ++round) {
        std::string tag = "w" + std::to_string(worker) + ":" + std::to_string(round);
        std::string volume = "v" + std::to_string(worker) + "-" + std::to_string(round);
        write_file_atomic(context / "Dockerfile", "FROM busybox\nRUN echo " + tag + " > /built\n");
        std::vector<std::vector<std::string>> steps{
            {"build", "-t", tag, context.string()},
            {"volume", "create", volume},
            {"run", "--rm", "-v", volume + ":/data", tag, "sh", "-c", "cat /built > /data/copy && cat /data/copy"},
            {"volume", "rm", volume}};
        if (remove_image) steps.push_back({"rmi", tag});
        for (const auto& step : steps) {
            auto result = testing::run_isolab(paths, step);
            if (result.exit_code != 0) failures.push_back(step[0] + " " + tag + ": " + result.err);
            if (step[0] == "run" && result.out != tag + "\n") failures.push_back("run " + tag + " printed " + result.out);
        }
    }
    return failures;
}

// Two processes each build an image, create a volume, run the image with the volume and
// remove the volume, three times over, on the same state root. Every step succeeds, and
// after the images are removed the store holds only busybox: no image, layer folder,
// blob, volume or container of theirs is left.
TEST_F(ConcurrencyTest, TwoProcessesBuildRunAndRemoveAtOnce) {
    auto first = std::async(std::launch::async, build_run_remove, root_.paths(), 1, 3, false);
    auto second = std::async(std::launch::async, build_run_remove, root_.paths(), 2, 3, false);
    for (auto* future : {&first, &second}) {
        for (const auto& failure : future->get()) ADD_FAILURE() << failure;
    }
    auto listed = isolab({"images", "--format", "json"});
    ASSERT_EQ(listed.exit_code, 0) << listed.err;
    EXPECT_EQ(json::parse(listed.out).size(), 7u) << "busybox and six built images: " << listed.out;
    for (int worker = 1; worker <= 2; ++worker) {
        for (int round = 0; round < 3; ++round) {
            auto removed = isolab({"rmi", "w" + std::to_string(worker) + ":" + std::to_string(round)});
            EXPECT_EQ(removed.exit_code, 0) << removed.err;
        }
    }

    auto images = isolab({"images", "--format", "json"});
    ASSERT_EQ(images.exit_code, 0) << images.err;
    EXPECT_EQ(json::parse(images.out).size(), 1u) << images.out;
    EXPECT_EQ(isolab({"volume", "ls", "-q"}).out, "");
    EXPECT_TRUE(no_containers());
    expect_no_container_leftovers({});
    std::set<std::string> layers_after;
    for (const auto& entry : fs::directory_iterator(root_.paths().layers())) {
        if (entry.path().filename().string().front() != '.') layers_after.insert(entry.path().filename());
    }
    // The runs unpacked busybox's layers; nothing else may stay.
    std::set<std::string> busybox_layers;
    for (const auto& layer : image::Store(root_.paths()).resolve("busybox").layers) {
        busybox_layers.insert(image::digest_hex(layer.digest));
    }
    EXPECT_EQ(layers_after, busybox_layers) << "a layer of a removed image was left";
}

// Each process removes its image while the other builds: a build pins the blobs it
// writes or reuses until its tag is written, so the other's `rmi` keeps them.
TEST_F(ConcurrencyTest, RmiDuringBuildKeepsItsLayers) {
    auto first = std::async(std::launch::async, build_run_remove, root_.paths(), 1, 3, true);
    auto second = std::async(std::launch::async, build_run_remove, root_.paths(), 2, 3, true);
    for (auto* future : {&first, &second}) {
        for (const auto& failure : future->get()) ADD_FAILURE() << failure;
    }
}

// The user-defined networks in ipam.json, by name.
std::map<std::string, json> user_networks(const Paths& paths) {
    std::map<std::string, json> networks;
    auto ipam = json::parse(read_file(paths.root / "network/ipam.json"));
    for (const auto& [name, network] : ipam["networks"].items()) {
        if (name != "bridge") networks[name] = network;
    }
    return networks;
}

// Every network has a subnet and a bridge of its own, and every lease an address of its own.
void expect_distinct_subnets_and_addresses(const std::map<std::string, json>& networks) {
    std::set<std::string> subnets, bridges;
    for (const auto& [name, network] : networks) {
        EXPECT_TRUE(subnets.insert(network["subnet"].get<std::string>()).second) << name << " shares subnet " << network["subnet"];
        EXPECT_TRUE(bridges.insert(network["bridge"].get<std::string>()).second) << name << " shares bridge " << network["bridge"];
        std::set<std::string> addresses;
        for (const auto& [id, lease] : network["leases"].items()) {
            EXPECT_TRUE(addresses.insert(lease["address"].get<std::string>()).second) << name << ": " << lease.dump();
        }
    }
}

// Processes at once on one state root: 20 `network create`, then 10 `run -d --network`
// on ten of them while 10 `network rm` remove the other ten and 10 more `network create`
// add new ones, then 10 `network connect` to one shared network. No subnet, bridge or
// address is given twice, no lease is lost, and removing everything at once leaves no
// bridge, iptables rule or lease.
TEST_F(ConcurrencyTest, NetworksCreatedUsedAndRemovedAtOnce) {
    auto created = run_together(root_.paths(), 20, [](int i) {
        return std::vector<std::string>{"network", "create", "n" + std::to_string(i)};
    });
    for (int i = 0; i < 20; ++i) EXPECT_EQ(created[i].exit_code, 0) << "n" << i << ": " << created[i].err;
    auto networks = user_networks(root_.paths());
    EXPECT_EQ(networks.size(), 20u);
    expect_distinct_subnets_and_addresses(networks);

    auto mixed = run_together(root_.paths(), 30, [](int i) {
        std::string n = std::to_string(i % 10);
        if (i < 10) return std::vector<std::string>{"run", "-d", "--name", "c" + n, "--network", "n" + n, "busybox", "sleep", "600"};
        if (i < 20) return std::vector<std::string>{"network", "rm", "n1" + n};
        return std::vector<std::string>{"network", "create", "m" + n};
    });
    for (int i = 0; i < 30; ++i) EXPECT_EQ(mixed[i].exit_code, 0) << "step " << i << ": " << mixed[i].err;
    auto shared = isolab({"network", "create", "shared"});
    ASSERT_EQ(shared.exit_code, 0) << shared.err;
    auto connected = run_together(root_.paths(), 10, [](int i) {
        return std::vector<std::string>{"network", "connect", "shared", "c" + std::to_string(i)};
    });
    for (int i = 0; i < 10; ++i) EXPECT_EQ(connected[i].exit_code, 0) << "c" << i << ": " << connected[i].err;

    networks = user_networks(root_.paths());
    EXPECT_EQ(networks.size(), 21u) << "n0..n9, m0..m9 and shared";
    expect_distinct_subnets_and_addresses(networks);
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(networks["n" + std::to_string(i)]["leases"].size(), 1u) << "n" << i;
        EXPECT_EQ(networks.count("n1" + std::to_string(i)), 0u);
    }
    EXPECT_EQ(networks["shared"]["leases"].size(), 10u) << networks["shared"].dump();
    std::vector<std::string> bridges;
    for (const auto& [name, network] : networks) bridges.push_back(network["bridge"]);
    std::vector<std::string> ids;
    for (int i = 0; i < 10; ++i) ids.push_back(json::parse(isolab({"inspect", "c" + std::to_string(i)}).out)[0]["Id"]);

    auto removed = run_together(root_.paths(), 10, [](int i) {
        return std::vector<std::string>{"rm", "-f", "c" + std::to_string(i)};
    });
    for (int i = 0; i < 10; ++i) EXPECT_EQ(removed[i].exit_code, 0) << "c" << i << ": " << removed[i].err;
    auto networks_removed = run_together(root_.paths(), 21, [](int i) {
        if (i == 20) return std::vector<std::string>{"network", "rm", "shared"};
        return std::vector<std::string>{"network", "rm", (i < 10 ? "n" : "m") + std::to_string(i % 10)};
    });
    for (int i = 0; i < 21; ++i) EXPECT_EQ(networks_removed[i].exit_code, 0) << "network " << i << ": " << networks_removed[i].err;

    EXPECT_EQ(isolab({"network", "ls", "-q"}).out, "bridge\n");
    EXPECT_TRUE(no_containers());
    expect_no_container_leftovers(ids);
    const auto alias = network::owner_alias(root_.paths());
    for (const auto& link : network::list_links()) {
        EXPECT_NE(link.alias, alias) << "bridge " << link.name << " of this state root is left";
    }
    auto rules = run_command({"iptables", "-w", "5", "-S"}).output + run_command({"iptables", "-w", "5", "-t", "nat", "-S"}).output;
    for (const auto& bridge : bridges) {
        // Tests of other state roots may reuse a free bridge name at once, so a rule is
        // only this test's while no link of that name exists.
        if (network::link_exists(bridge)) continue;
        EXPECT_EQ(rules.find(" " + bridge + " "), std::string::npos) << bridge << ":\n" << rules;
        EXPECT_EQ(rules.find(" " + bridge + "\n"), std::string::npos) << bridge << ":\n" << rules;
    }
}

}  // namespace
}  // namespace isolab
