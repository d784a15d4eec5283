// Conventions of the docker CLI that scripts rely on: the exit code of each kind of error,
// and signals sent to an attached isolab reaching the container (--sig-proxy). Needs root.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "runtime/core/unique_fd.hpp"
#include "support/background_isolab.hpp"
#include "support/root_cli_test.hpp"

namespace isolab::testing {
namespace {

size_t line_count(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

class ExitCodes : public BusyboxCliTest {};

TEST_F(ExitCodes, MissingTargetsExitOne) {
    ASSERT_EQ(isolab({"network", "create", "taken"}).exit_code, 0);
    ASSERT_EQ(isolab({"create", "--name", "idle", "busybox", "true"}).exit_code, 0);
    struct Case {
        std::vector<std::string> arguments;
        std::string message;
    };
    const std::vector<Case> cases = {
        {{"rm", "nosuch"}, "no such container: nosuch"},
        {{"logs", "nosuch"}, "no such container: nosuch"},
        {{"inspect", "nosuch"}, "no such container: nosuch"},
        {{"start", "nosuch"}, "no such container: nosuch"},
        {{"stop", "nosuch"}, "no such container: nosuch"},
        {{"kill", "nosuch"}, "no such container: nosuch"},
        {{"diff", "nosuch"}, "no such container: nosuch"},
        {{"exec", "nosuch", "true"}, "no such container: nosuch"},
        {{"stats", "--no-stream", "nosuch"}, "no such container: nosuch"},
        {{"exec", "idle", "true"}, "container idle is not running"},
        {{"kill", "idle"}, "container idle is not running"},
        {{"network", "rm", "nosuchnet"}, "network nosuchnet not found"},
        {{"network", "inspect", "nosuchnet"}, "network nosuchnet not found"},
        {{"network", "connect", "nosuchnet", "idle"}, "network nosuchnet not found"},
        {{"network", "connect", "taken", "nosuch"}, "no such container: nosuch"},
        {{"network", "disconnect", "nosuchnet", "idle"}, "network nosuchnet not found"},
        {{"network", "create", "taken"}, "network taken already exists"},
        {{"rmi", "nosuchimage"}, "image 'nosuchimage' not found"},
        {{"image", "inspect", "nosuchimage"}, "image 'nosuchimage' not found"},
        {{"history", "nosuchimage"}, "image 'nosuchimage' not found"},
        {{"tag", "nosuchimage", "other:1"}, "image 'nosuchimage' not found"},
        {{"pull", "nosuchimage"}, "image 'nosuchimage' not found locally, and isolab pulls from no registry"},
    };
    for (const auto& test_case : cases) {
        auto result = isolab(test_case.arguments);

        EXPECT_EQ(result.exit_code, 1) << test_case.arguments[0] << " " << test_case.arguments[1] << ": " << result.err;
        EXPECT_EQ(line_count(result.err), 1u) << result.err;
        EXPECT_NE(result.err.find(test_case.message), std::string::npos) << result.err;
    }
    isolab({"rm", "idle"});
    isolab({"network", "rm", "taken"});
}

TEST_F(ExitCodes, RunAndInvalidInputExit125) {
    const std::vector<std::vector<std::string>> cases = {
        {"run", "--rm", "--network", "nosuchnet", "busybox", "true"},
        {"run", "--rm", "nosuchimage", "true"},
        {"run", "-d", "nosuchimage", "true"},
        {"create", "nosuchimage", "true"},
        {"run", "--rm", "--restart", "sometimes", "busybox", "true"},
        {"network", "create", "--subnet", "10.90.0.1/24", "odd"},
        {"ps", "--no-such-flag"},
    };
    for (const auto& arguments : cases) {
        auto result = isolab(arguments);

        EXPECT_EQ(result.exit_code, 125) << arguments[0] << " " << arguments[1] << ": " << result.err;
    }
    EXPECT_TRUE(no_containers());
}

TEST_F(ExitCodes, MissingImageMessagesAreOneLine) {
    for (const auto& command : {"run", "create"}) {
        auto result = isolab({command, "nosuchimage", "true"});

        EXPECT_EQ(line_count(result.err), 1u) << result.err;
        EXPECT_NE(result.err.find("image 'nosuchimage' not found"), std::string::npos) << result.err;
    }
}

TEST_F(ExitCodes, ImageCommandsGoOnAfterMissingImage) {
    ASSERT_EQ(isolab({"tag", "busybox", "spare:1"}).exit_code, 0);

    auto removed = isolab({"rmi", "nosuchimage", "spare:1"});
    auto forced = isolab({"rmi", "-f", "nosuchimage"});
    auto inspected = isolab({"image", "inspect", "busybox", "nosuchimage"});
    auto spare = isolab({"image", "inspect", "spare:1"});

    EXPECT_EQ(removed.exit_code, 1) << removed.err;
    EXPECT_EQ(line_count(removed.err), 1u) << removed.err;
    EXPECT_NE(removed.out.find("Untagged: "), std::string::npos) << removed.out;
    EXPECT_EQ(spare.exit_code, 1) << "spare:1 was removed after the missing image";
    // docker rmi -f reports a missing image but does not fail.
    EXPECT_EQ(forced.exit_code, 0) << forced.err;
    EXPECT_NE(forced.err.find("image 'nosuchimage' not found"), std::string::npos) << forced.err;
    EXPECT_EQ(inspected.exit_code, 1);
    EXPECT_EQ(line_count(inspected.err), 1u) << inspected.err;
    auto documents = nlohmann::json::parse(inspected.out, nullptr, false);
    ASSERT_TRUE(documents.is_array()) << inspected.out;
    EXPECT_EQ(documents.size(), 1u) << "the image found is still printed";
}

TEST_F(ExitCodes, PullFindsLocalImage) {
    auto pulled = isolab({"pull", "busybox"});

    EXPECT_EQ(pulled.exit_code, 0) << pulled.err;
    EXPECT_EQ(pulled.out, "Status: Image is up to date for busybox:latest\n");
}

// Exits with a code of its own for each forwarded signal. busybox sh as pid 1 receives
// only signals it has a handler for, which `trap` installs.
const std::vector<std::string> trapping_workload = {
    "busybox", "sh", "-c",
    "trap 'echo got INT; exit 7' INT; trap 'echo got TERM; exit 8' TERM; trap 'echo got HUP; exit 9' HUP; "
    "echo ready; while true; do sleep 0.1; done"};

class SignalProxy : public BusyboxCliTest {};

TEST_F(SignalProxy, StartAttachedForwards) {
    std::vector<std::string> create = {"create", "--name", "trapper"};
    create.insert(create.end(), trapping_workload.begin(), trapping_workload.end());
    ASSERT_EQ(isolab(create).exit_code, 0);

    struct Case {
        int signal_number;
        int exit_code;
        std::string line;
    };
    for (const auto& test_case : std::vector<Case>{{SIGINT, 7, "got INT"}, {SIGTERM, 8, "got TERM"}, {SIGHUP, 9, "got HUP"}}) {
        BackgroundIsolab attached(root_.paths(), {"start", "-a", "trapper"});
        ASSERT_TRUE(attached.wait_for_output("ready\n")) << attached.output();

        attached.send(test_case.signal_number);

        EXPECT_EQ(attached.wait_exit(), test_case.exit_code) << attached.output();
        EXPECT_NE(attached.output().find(test_case.line), std::string::npos) << attached.output();
    }
    isolab({"rm", "-f", "trapper"});
}

TEST_F(SignalProxy, RunForegroundForwards) {
    std::vector<std::string> run = {"run", "--rm"};
    run.insert(run.end(), trapping_workload.begin(), trapping_workload.end());
    BackgroundIsolab attached(root_.paths(), run);
    ASSERT_TRUE(attached.wait_for_output("ready\n")) << attached.output();

    attached.send(SIGINT);

    EXPECT_EQ(attached.wait_exit(), 7) << attached.output();
    EXPECT_NE(attached.output().find("got INT"), std::string::npos) << attached.output();
    EXPECT_TRUE(no_containers());
}

}  // namespace
}  // namespace isolab::testing
