// Crashes at named steps: ISOLAB_FAULT makes isolab kill itself with SIGKILL at one
// step of run, build, volume create or compose up (runtime/core/fault.hpp). Afterwards
// `ps`, `images` and `volume ls` tell the truth, `system prune` removes every mount,
// cgroup, veth, address lease and container folder the crash left, and no image or
// volume content is lost.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "runtime/network/bridge.hpp"
#include "runtime/network/netlink.hpp"
#include "running_container.hpp"
#include "support/root_cli_test.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int killed = 128 + 9;

class CrashTest : public testing::BusyboxCliTest {
protected:
    void SetUp() override {
        BusyboxCliTest::SetUp();
        if (IsSkipped()) return;
        auto filled = isolab({"run", "--rm", "--network", "none", "-v", "kept:/data", "busybox", "sh", "-c", "echo safe > /data/f"});
        ASSERT_EQ(filled.exit_code, 0) << filled.err;
    }

    // Runs isolab with ISOLAB_FAULT=point; it must die there with SIGKILL.
    void crash_at(const std::string& point, const std::vector<std::string>& arguments) {
        setenv("ISOLAB_FAULT", point.c_str(), 1);
        auto result = isolab(arguments);
        unsetenv("ISOLAB_FAULT");
        ASSERT_EQ(result.exit_code, killed) << point << " was not reached: " << result.err;
    }

    // The ids of the container folders under the state root.
    std::vector<std::string> container_ids() const {
        std::vector<std::string> ids;
        std::error_code error;
        for (const auto& entry : fs::directory_iterator(root_.paths().containers(), error)) {
            if (entry.path().filename().string().front() != '.') ids.push_back(entry.path().filename());
        }
        return ids;
    }

    // `system prune --force` on this state root and the test driver of libvirt, then
    // nothing of the containers in `ids` is left anywhere, and busybox and the volume
    // `kept` are intact.
    void expect_prune_removes_everything(const std::vector<std::string>& ids) {
        auto pruned = isolab({"system", "prune", "--force", "--connect", "test:///default"});
        EXPECT_EQ(pruned.exit_code, 0) << pruned.err;
        EXPECT_EQ(isolab({"ps", "-a", "-q"}).out, "");
        EXPECT_TRUE(no_containers());
        expect_no_container_leftovers(ids);
        auto kept = isolab({"run", "--rm", "-v", "kept:/data", "busybox", "cat", "/data/f"});
        EXPECT_EQ(kept.exit_code, 0) << kept.err;
        EXPECT_EQ(kept.out, "safe\n") << "the volume's content was lost";
    }

    // No bridge of this state root is left, and no iptables rule names one of `bridges`.
    void expect_no_network_leftovers(const std::vector<std::string>& bridges) {
        const auto alias = network::owner_alias(root_.paths());
        for (const auto& link : network::list_links()) {
            EXPECT_NE(link.alias, alias) << "bridge " << link.name << " of this state root is left";
        }
        auto rules = run_command({"iptables", "-w", "5", "-S"}).output +
                     run_command({"iptables", "-w", "5", "-t", "nat", "-S"}).output;
        for (const auto& bridge : bridges) {
            // Tests of other state roots may reuse a free bridge name at once, so a rule
            // is only this test's while no link of that name exists.
            if (network::link_exists(bridge)) continue;
            EXPECT_EQ(rules.find(" " + bridge + " "), std::string::npos) << rules;
            EXPECT_EQ(rules.find(" " + bridge + "\n"), std::string::npos) << rules;
        }
    }

    // The one container record `ps -a` shows, as JSON.
    json only_container() {
        auto listing = isolab({"ps", "-a", "--format", "json"});
        EXPECT_EQ(listing.exit_code, 0) << listing.err;
        EXPECT_EQ(std::count(listing.out.begin(), listing.out.end(), '\n'), 1) << listing.out;
        return json::parse(listing.out.substr(0, listing.out.find('\n')));
    }
};

TEST_F(CrashTest, RunKilledAfterItsRecordWasCreated) {
    crash_at("run.created", {"run", "--name", "victim", "busybox", "true"});
    auto ids = container_ids();
    ASSERT_EQ(ids.size(), 1u);
    auto victim = only_container();
    EXPECT_EQ(victim["Names"], "victim");
    EXPECT_NE(victim["State"], "running") << victim.dump();
    expect_prune_removes_everything(ids);
}

TEST_F(CrashTest, RunKilledWithCgroupAndNetwork) {
    crash_at("run.cgroup", {"run", "--name", "victim", "busybox", "true"});
    auto ids = container_ids();
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_NE(only_container()["State"], "running");
    expect_prune_removes_everything(ids);
}

TEST_F(CrashTest, RunKilledAfterRecordingRunning) {
    crash_at("run.running", {"run", "--name", "victim", "busybox", "true"});
    auto ids = container_ids();
    ASSERT_EQ(ids.size(), 1u);
    auto victim = only_container();
    // The workload never got the start signal and its owner is gone: not running.
    EXPECT_EQ(victim["State"], "exited") << victim.dump();
    expect_prune_removes_everything(ids);
}

TEST_F(CrashTest, BuildKilledAfterALayerOrBeforeTheTag) {
    auto context = root_.root().parent_path() / "context";
    fs::create_directories(context);
    write_file_atomic(context / "Dockerfile", "FROM busybox\nRUN echo built > /built\n");
    for (const std::string point : {"build.layer", "build.tag"}) {
        crash_at(point, {"build", "-t", "lab/crash:1", context.string()});
        auto images = isolab({"images", "--format", "json"});
        ASSERT_EQ(images.exit_code, 0) << point << ": " << images.err;
        EXPECT_EQ(json::parse(images.out).size(), 1u) << point << ": only busybox: " << images.out;
        expect_prune_removes_everything(container_ids());
    }
    auto built = isolab({"build", "-t", "lab/crash:1", context.string()});
    ASSERT_EQ(built.exit_code, 0) << built.err;
    auto run = isolab({"run", "--rm", "lab/crash:1", "cat", "/built"});
    EXPECT_EQ(run.out, "built\n") << run.err;
}

// A build killed with SIGKILL while a RUN step runs takes the step's workload with it,
// and `system prune` removes the step's record, cgroup and files.
TEST_F(CrashTest, BuildKilledDuringRunStep) {
    auto context = root_.root().parent_path() / "context";
    fs::create_directories(context);
    write_file_atomic(context / "Dockerfile", "FROM busybox\nRUN sleep 300\n");
    pid_t builder = fork();
    ASSERT_GE(builder, 0);
    if (builder == 0) {
        int null_fd = open("/dev/null", O_RDWR);
        dup2(null_fd, 0);
        dup2(null_fd, 1);
        dup2(null_fd, 2);
        testing::exec_isolab(root_.paths(), {"build", "-t", "lab/slow:1", context.string()});
    }
    std::string running;
    for (int attempt = 0; attempt < 300 && running.empty(); ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        running = isolab({"ps", "-q"}).out;
    }
    // The record says running just before the workload is executed: give it time to start.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    kill(builder, SIGKILL);
    EXPECT_EQ(testing::wait_exit_code(builder), killed);
    ASSERT_FALSE(running.empty()) << "the RUN step never showed as running";
    auto ids = container_ids();
    ASSERT_EQ(ids.size(), 1u);

    EXPECT_EQ(isolab({"ps", "-q"}).out, "") << "the RUN step still shows as running";
    auto state = json::parse(read_file(root_.paths().containers() / ids[0] / "state.json"));
    pid_t workload = state.value("pid", 0);
    ASSERT_GT(workload, 0);
    // A zombie waiting for its new parent to reap it counts as ended.
    auto process_running = [](pid_t pid) {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        auto state_at = text.rfind(") ");
        return state_at != std::string::npos && text.at(state_at + 2) != 'Z';
    };
    bool alive = true;
    for (int attempt = 0; attempt < 50 && alive; ++attempt) {
        alive = process_running(workload);
        if (alive) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_FALSE(alive) << "the RUN step's sleep outlived the build as pid " << workload;
    expect_prune_removes_everything(ids);
}

TEST_F(CrashTest, VolumeCreateKilledBeforeItsMetadata) {
    crash_at("volume.folder", {"volume", "create", "half"});
    auto listing = isolab({"volume", "ls", "-q"});
    EXPECT_EQ(listing.out, "kept\n") << "a volume without metadata is not listed";
    ASSERT_TRUE(fs::exists(root_.paths().volumes() / "half"));
    expect_prune_removes_everything(container_ids());
    EXPECT_FALSE(fs::exists(root_.paths().volumes() / "half")) << "prune left the unfinished volume folder";
    auto created = isolab({"volume", "create", "half"});
    EXPECT_EQ(created.exit_code, 0) << created.err;
    EXPECT_EQ(isolab({"volume", "ls", "-q"}).out, "half\nkept\n");
}

// A torn config.json (cut in the middle, as a write without the atomic rename could
// leave it) is reported by `ps` with what to do, and `system prune` removes the container.
TEST_F(CrashTest, TornContainerConfigReportedAndPruned) {
    auto run = isolab({"run", "--name", "torn", "--network", "none", "busybox", "true"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    auto ids = container_ids();
    ASSERT_EQ(ids.size(), 1u);
    auto config = root_.paths().containers() / ids[0] / "config.json";
    fs::resize_file(config, fs::file_size(config) / 2);

    auto listing = isolab({"ps", "-a"});
    EXPECT_EQ(listing.exit_code, 0) << listing.err;
    EXPECT_NE(listing.err.find("container " + ids[0].substr(0, 12) + " is damaged"), std::string::npos) << listing.err;
    EXPECT_NE(listing.err.find("isolab system prune"), std::string::npos) << listing.err;
    expect_prune_removes_everything(ids);
}

// A torn volume.json loses the labels, never the data: the volume is still listed, mounts
// with its content, and `volume rm` removes it.
TEST_F(CrashTest, TornVolumeMetadataKeepsData) {
    auto metadata = root_.paths().volumes() / "kept" / "volume.json";
    fs::resize_file(metadata, fs::file_size(metadata) / 2);

    auto listing = isolab({"volume", "ls", "-q"});
    EXPECT_EQ(listing.out, "kept\n");
    EXPECT_NE(listing.err.find("volume kept has a damaged volume.json"), std::string::npos) << listing.err;
    auto read = isolab({"run", "--rm", "--network", "none", "-v", "kept:/data", "busybox", "cat", "/data/f"});
    EXPECT_EQ(read.out, "safe\n") << read.err;
    auto removed = isolab({"volume", "rm", "kept"});
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_FALSE(fs::exists(root_.paths().volumes() / "kept"));
}

// Crashes of `compose up -d` of a project with two services on its default network and
// one of them on a second network.
class ComposeCrashTest : public CrashTest {
protected:
    void SetUp() override {
        CrashTest::SetUp();
        if (IsSkipped()) return;
        project_ = root_.root().parent_path() / "project";
        fs::create_directories(project_);
        write_file_atomic(project_ / "compose.yaml",
                          "services:\n"
                          "  first:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n"
                          "  second:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n"
                          "    networks: [default, back]\n"
                          "networks:\n  back:\n");
    }

    std::vector<std::string> compose(const std::vector<std::string>& arguments) const {
        std::vector<std::string> full{"compose", "-f", (project_ / "compose.yaml").string(), "-p", "demo"};
        full.insert(full.end(), arguments.begin(), arguments.end());
        return full;
    }

    // Service name to State of each container `compose ps -a` lists.
    std::map<std::string, std::string> service_states() {
        auto listing = isolab(compose({"ps", "-a", "--format", "json"}));
        EXPECT_EQ(listing.exit_code, 0) << listing.err;
        std::map<std::string, std::string> states;
        std::istringstream lines(listing.out);
        for (std::string line; std::getline(lines, line);) {
            if (line.empty()) continue;
            auto container = json::parse(line);
            states[container.at("Service").get<std::string>()] = container.at("State").get<std::string>();
        }
        return states;
    }

    std::set<std::string> network_names() {
        auto listing = isolab({"network", "ls", "-q"});
        EXPECT_EQ(listing.exit_code, 0) << listing.err;
        std::set<std::string> names;
        std::istringstream lines(listing.out);
        for (std::string line; std::getline(lines, line);) {
            if (!line.empty()) names.insert(line);
        }
        return names;
    }

    // The bridge device of each network `network ls` lists.
    std::vector<std::string> bridges() {
        std::vector<std::string> devices;
        for (const auto& name : network_names()) {
            auto inspect = isolab({"network", "inspect", name});
            if (inspect.exit_code != 0) continue;
            devices.push_back(json::parse(inspect.out).at(0).at("Options").at("com.docker.network.bridge.name"));
        }
        return devices;
    }

    // `compose down` and `system prune` leave no container, network, bridge, rule,
    // lease, cgroup or mount of the project.
    void expect_down_and_prune_remove_everything(const std::vector<std::string>& bridges) {
        auto ids = container_ids();
        auto down = isolab(compose({"down"}));
        EXPECT_EQ(down.exit_code, 0) << down.err;
        expect_prune_removes_everything(ids);
        EXPECT_EQ(network_names(), std::set<std::string>{"bridge"});
        expect_no_network_leftovers(bridges);
    }

    fs::path project_;
};

// Killed after the first network was created, before any container: `network ls` shows
// that network, `compose ps` no container, and `system prune` alone removes the network
// with its bridge.
TEST_F(ComposeCrashTest, KilledAfterNetworkCreated) {
    crash_at("compose.network", compose({"up", "-d"}));
    EXPECT_TRUE(service_states().empty());
    auto names = network_names();
    EXPECT_EQ(names.size(), 2u) << "bridge and one network of the project";
    auto devices = bridges();

    expect_prune_removes_everything(container_ids());
    EXPECT_EQ(network_names(), std::set<std::string>{"bridge"});
    expect_no_network_leftovers(devices);
}

// Killed after the first container started, before the second was created: `compose
// ps -a` shows the first running and no second, and both networks exist.
TEST_F(ComposeCrashTest, KilledAfterFirstContainerStarted) {
    crash_at("compose.started", compose({"up", "-d"}));
    auto states = service_states();
    EXPECT_EQ(states["first"], "running");
    EXPECT_EQ(states.count("second"), 0u) << "the second container was never created";
    EXPECT_EQ(network_names().size(), 3u) << "bridge, demo_default and demo_back";

    auto devices = bridges();
    expect_down_and_prune_remove_everything(devices);
}

// Killed after the second container started (compose.started@2) and after it joined its
// second network (compose.connected@2): both run, and a second `up` finishes the project
// without a duplicate.
TEST_F(ComposeCrashTest, KilledAfterContainersStarted) {
    for (const std::string point : {"compose.started@2", "compose.connected@2"}) {
        crash_at(point, compose({"up", "-d"}));
        auto states = service_states();
        EXPECT_EQ(states["first"], "running") << point;
        EXPECT_EQ(states["second"], "running") << point;

        auto again = isolab(compose({"up", "-d"}));
        EXPECT_EQ(again.exit_code, 0) << point << ": " << again.err;
        EXPECT_EQ(container_ids().size(), 2u) << point << ": a container was duplicated";
        auto devices = bridges();
        expect_down_and_prune_remove_everything(devices);
    }
}

}  // namespace
}  // namespace isolab
