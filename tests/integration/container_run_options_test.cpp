// Run options a Docker user expects: --env-file, --entrypoint, --network host|none,
// --pid host and --ipc host, through the CLI. Needs root.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/root_cli_test.hpp"

namespace isolab::testing {
namespace {

namespace fs = std::filesystem;

class ContainerRunOptions : public RootCliTest {
protected:
    std::string write_file(const std::string& name, const std::string& content) {
        auto path = root_.root().parent_path() / name;
        std::ofstream(path) << content;
        return path.string();
    }
};

std::string host_namespace(const std::string& name) { return fs::read_symlink("/proc/self/ns/" + name).string(); }

TEST_F(ContainerRunOptions, EnvFileRules) {
    setenv("ISOLAB_PASSED_ON", "from caller", 1);
    auto file = write_file("vars.env", "# a comment\n\n  FIRST=one\nSECOND=a=b=c\nQUOTED=\"kept\"\nISOLAB_PASSED_ON\nISOLAB_UNSET_HERE\nOVERRIDDEN=file\n");
    unsetenv("ISOLAB_UNSET_HERE");
    auto result = isolab({"run", "--rm", "--env-file", file, "-e", "OVERRIDDEN=option", "busybox", "sh", "-c",
                          "echo $FIRST; echo $SECOND; echo $QUOTED; echo $ISOLAB_PASSED_ON; echo ${ISOLAB_UNSET_HERE-unset}; echo $OVERRIDDEN"});
    unsetenv("ISOLAB_PASSED_ON");

    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "one\na=b=c\n\"kept\"\nfrom caller\nunset\noption\n");
}

TEST_F(ContainerRunOptions, EnvFileErrorNamesLine) {
    auto file = write_file("broken.env", "GOOD=1\n# fine\nBAD NAME=2\n");
    auto result = isolab({"run", "--rm", "--env-file", file, "busybox", "true"});
    auto missing = isolab({"run", "--rm", "--env-file", "/no/such.env", "busybox", "true"});

    EXPECT_EQ(result.exit_code, 125);
    EXPECT_NE(result.err.find(file + ":3"), std::string::npos) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_EQ(missing.exit_code, 125);
    EXPECT_NE(missing.err.find("env file /no/such.env not found"), std::string::npos) << missing.err;
}

TEST_F(ContainerRunOptions, EntrypointReplacesAndClearsCmd) {
    auto with_command = isolab({"run", "--rm", "--entrypoint", "echo", "busybox", "a", "b"});
    // busybox's Cmd is ["sh"]: with --entrypoint and no command it is dropped, so echo prints an empty line.
    auto without_command = isolab({"run", "--rm", "--entrypoint", "echo", "busybox"});
    auto cleared = isolab({"run", "--rm", "--entrypoint", "", "busybox", "echo", "plain"});

    EXPECT_EQ(with_command.out, "a b\n") << with_command.err;
    EXPECT_EQ(without_command.out, "\n") << without_command.err;
    EXPECT_EQ(cleared.out, "plain\n") << cleared.err;
}

TEST_F(ContainerRunOptions, NetworkNoneHasOnlyLoopback) {
    auto result = isolab({"run", "--rm", "--network", "none", "busybox", "sh", "-c", "ls /sys/class/net; readlink /proc/self/ns/net; cat /sys/class/net/lo/operstate"});

    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out.substr(0, 3), "lo\n") << result.out;
    EXPECT_EQ(result.out.find(host_namespace("net")), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("unknown"), std::string::npos) << "lo reports unknown once up: " << result.out;
}

TEST_F(ContainerRunOptions, NetworkHostSharesNamespace) {
    auto result = isolab({"run", "--rm", "--network", "host", "busybox", "readlink", "/proc/self/ns/net"});

    EXPECT_EQ(result.out, host_namespace("net") + "\n") << result.err;
}

TEST_F(ContainerRunOptions, PidHostSharesNamespace) {
    auto own = isolab({"run", "--rm", "busybox", "sh", "-c", "readlink /proc/self/ns/pid; echo $$"});
    auto shared = isolab({"run", "--rm", "--pid", "host", "busybox", "sh", "-c", "readlink /proc/self/ns/pid; test $$ -ne 1 && echo not-pid-1"});

    EXPECT_EQ(own.out.find(host_namespace("pid")), std::string::npos) << own.out;
    EXPECT_NE(own.out.find("]\n1\n"), std::string::npos) << own.out;
    EXPECT_EQ(shared.out, host_namespace("pid") + "\nnot-pid-1\n") << shared.err;
}

TEST_F(ContainerRunOptions, IpcHostSharesNamespace) {
    auto shared = isolab({"run", "--rm", "--ipc", "host", "busybox", "readlink", "/proc/self/ns/ipc"});
    auto own = isolab({"run", "--rm", "busybox", "readlink", "/proc/self/ns/ipc"});

    EXPECT_EQ(shared.out, host_namespace("ipc") + "\n") << shared.err;
    EXPECT_NE(own.out, host_namespace("ipc") + "\n");
}

TEST_F(ContainerRunOptions, UnsupportedModesRejected) {
    auto network = isolab({"run", "--rm", "--network", "nosuch", "busybox", "true"});
    auto pid = isolab({"run", "--rm", "--pid", "container:x", "busybox", "true"});

    EXPECT_EQ(network.exit_code, 125);
    EXPECT_NE(network.err.find("network nosuch not found"), std::string::npos) << network.err;
    EXPECT_EQ(pid.exit_code, 125);
    EXPECT_NE(pid.err.find("unsupported --pid 'container:x'"), std::string::npos) << pid.err;
}

}  // namespace
}  // namespace isolab::testing
