// `isolab run` as a user calls it: option parsing, one-line errors and exit codes
// (125 isolab failed, 126 not executable, 127 not found, 128+n killed). Needs root.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/root_cli_test.hpp"

namespace isolab::testing {
namespace {

namespace fs = std::filesystem;

class ContainerCli : public RootCliTest {};

size_t line_count(const std::string& text) {
    size_t lines = 0;
    for (char c : text) lines += c == '\n';
    return lines;
}

TEST_F(ContainerCli, OutputPassedThrough) {
    auto result = isolab({"run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 9"});

    EXPECT_EQ(result.exit_code, 9);
    EXPECT_EQ(result.out, "out\n");
    EXPECT_EQ(result.err, "err\n");
    EXPECT_TRUE(no_containers());
}

TEST_F(ContainerCli, EnvValueWithEquals) {
    setenv("ISOLAB_FROM_CALLER", "caller=value", 1);
    auto result = isolab({"run", "--rm", "-e", "A=b=c==d", "-e", "ISOLAB_FROM_CALLER", "busybox", "sh", "-c",
                          "echo \"$A\"; echo \"$ISOLAB_FROM_CALLER\""});
    unsetenv("ISOLAB_FROM_CALLER");

    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "b=c==d\ncaller=value\n");
}

TEST_F(ContainerCli, EmptyEnvNameRejected) {
    auto result = isolab({"run", "--rm", "-e", "=x", "busybox", "true"});

    EXPECT_EQ(result.exit_code, 125);
    EXPECT_EQ(line_count(result.err), 1u) << result.err;
    EXPECT_NE(result.err.find("name is empty"), std::string::npos) << result.err;
    EXPECT_TRUE(no_containers());
}

TEST_F(ContainerCli, Hostname65CharactersRejected) {
    auto result = isolab({"run", "--rm", "--hostname", std::string(65, 'a'), "busybox", "hostname"});

    EXPECT_EQ(result.exit_code, 125);
    EXPECT_EQ(line_count(result.err), 1u) << result.err;
    EXPECT_NE(result.err.find("64 characters"), std::string::npos) << result.err;
    EXPECT_TRUE(result.out.empty());
    EXPECT_TRUE(no_containers());
}

TEST_F(ContainerCli, Hostname64CharacterLabelRejected) {
    auto result = isolab({"run", "--rm", "--hostname", std::string(64, 'a'), "busybox", "hostname"});

    EXPECT_EQ(result.exit_code, 125);
    EXPECT_EQ(line_count(result.err), 1u) << result.err;
    EXPECT_NE(result.err.find("has 64 characters, the limit is 63"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("63 between two dots"), std::string::npos) << result.err;
    EXPECT_TRUE(no_containers());
}

TEST_F(ContainerCli, CpusNotFiniteOrNegativeRejected) {
    for (const char* cpus : {"nan", "inf", "-1"}) {
        auto result = isolab({"run", "--rm", "--cpus", cpus, "busybox", "true"});

        EXPECT_EQ(result.exit_code, 125) << cpus;
        EXPECT_EQ(line_count(result.err), 1u) << result.err;
        EXPECT_NE(result.err.find("invalid --cpus"), std::string::npos) << result.err;
        EXPECT_TRUE(no_containers()) << cpus;
    }
}

// As runc does, a mount may not hide the container's own /proc, /sys or /dev/pts.
TEST_F(ContainerCli, MountOverKernelFilesystemsRejected) {
    auto host_folder = root_.root().parent_path().string();
    for (const char* target : {"/proc", "/proc/sys", "/sys", "/dev/pts", "/proc/"}) {
        auto result = isolab({"run", "--rm", "-v", host_folder + ":" + target, "busybox", "true"});

        EXPECT_EQ(result.exit_code, 125) << target;
        EXPECT_EQ(line_count(result.err), 1u) << result.err;
        EXPECT_NE(result.err.find("would hide the container's own"), std::string::npos) << result.err;
        EXPECT_TRUE(no_containers()) << target;
    }
    auto mount = isolab({"run", "--rm", "--mount", "type=bind,source=" + host_folder + ",target=/proc", "busybox", "true"});
    EXPECT_EQ(mount.exit_code, 125);
    EXPECT_NE(mount.err.find("would hide the container's own /proc"), std::string::npos) << mount.err;
}

TEST_F(ContainerCli, UidOutOfRangeRejected) {
    auto result = isolab({"run", "--rm", "-u", "99999999999", "busybox", "true"});

    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find("uid 99999999999 is out of range"), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("/etc/passwd"), std::string::npos) << result.err;
}

TEST_F(ContainerCli, InvalidMemoryRejected) {
    auto result = isolab({"run", "--rm", "-m", "64X", "busybox", "true"});

    EXPECT_EQ(result.exit_code, 125);
    EXPECT_EQ(line_count(result.err), 1u) << result.err;
    EXPECT_NE(result.err.find("invalid memory limit '64X'"), std::string::npos) << result.err;
    EXPECT_TRUE(no_containers());
}

TEST_F(ContainerCli, PidsLimitOutOfRangeRejected) {
    for (const char* limit : {"-5", "4194305", "99999999999"}) {
        auto result = isolab({"run", "--rm", "--pids-limit", limit, "busybox", "true"});

        EXPECT_EQ(result.exit_code, 125) << limit;
        EXPECT_EQ(line_count(result.err), 1u) << result.err;
        EXPECT_NE(result.err.find(std::string("invalid --pids-limit ") + limit), std::string::npos) << result.err;
        EXPECT_TRUE(no_containers());
    }
}

TEST_F(ContainerCli, ReaderLeavingEarlyLeavesNothing) {
    // `| head -n 1` closes the pipe while the container still writes; isolab must still
    // wait for it and remove its cgroup.
    std::string command = "ISOLAB_ROOT='" + root_.paths().root.string() + "' ISOLAB_CACHE='" +
                          root_.paths().cache.string() + "' '" + ISOLAB_BINARY +
                          "' run --name piped busybox sh -c 'for i in 1 2 3 4 5; do echo $i; sleep 0.1; done' | head -n 1";
    FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    char first[16] = {};
    ASSERT_NE(std::fgets(first, sizeof first, pipe), nullptr);
    pclose(pipe);

    auto status = isolab({"ps", "-a", "--format", "{{.Names}} {{.Status}}"});
    auto inspect = isolab({"inspect", "piped"});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    std::string id = nlohmann::json::parse(inspect.out).at(0).at("Id");

    EXPECT_EQ(std::string(first), "1\n");
    EXPECT_EQ(status.out.rfind("piped Exited (0)", 0), 0U) << status.out << status.err;
    ASSERT_EQ(id.size(), 64U) << inspect.out << inspect.err;
    EXPECT_FALSE(fs::exists("/sys/fs/cgroup/memory/isolab-" + id));
    EXPECT_FALSE(fs::exists("/sys/fs/cgroup/isolab-" + id));
}

TEST_F(ContainerCli, UnknownImageOneLine) {
    auto result = isolab({"run", "--rm", "no-such-image:1", "true"});

    EXPECT_EQ(result.exit_code, 125);
    EXPECT_EQ(line_count(result.err), 1u) << result.err;
    EXPECT_TRUE(no_containers());
}

TEST_F(ContainerCli, CommandNotFound127) {
    auto result = isolab({"run", "--rm", "busybox", "no-such-command"});

    EXPECT_EQ(result.exit_code, 127);
    EXPECT_EQ(result.err, "isolab: exec: \"no-such-command\": executable file not found in $PATH\n");
    EXPECT_TRUE(no_containers());
}

TEST_F(ContainerCli, NotExecutable126) {
    auto result = isolab({"run", "--rm", "busybox", "/etc/passwd"});

    EXPECT_EQ(result.exit_code, 126);
    EXPECT_EQ(line_count(result.err), 1u) << result.err;
    EXPECT_NE(result.err.find("permission denied"), std::string::npos) << result.err;
}

TEST_F(ContainerCli, KilledBySignal128PlusN) {
    // The shell's child kills itself; the shell (pid 1) exits with the child's status.
    auto result = isolab({"run", "--rm", "busybox", "sh", "-c", "sh -c 'kill -TERM $$'; exit $?"});

    EXPECT_EQ(result.exit_code, 128 + 15);
}

TEST_F(ContainerCli, InitPassesSignalExit) {
    // With --init the workload is not pid 1, so its own SIGTERM kills it: 128 + 15.
    auto result = isolab({"run", "--rm", "--init", "busybox", "sh", "-c", "kill -TERM $$; sleep 5"});

    EXPECT_EQ(result.exit_code, 128 + 15);
}

TEST_F(ContainerCli, CommandArgumentsKeepDashes) {
    auto result = isolab({"run", "--rm", "busybox", "echo", "-n", "--rm", "-e"});

    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "--rm -e");
}

}  // namespace
}  // namespace isolab::testing
