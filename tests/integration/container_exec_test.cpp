// `isolab exec` against a running container: the namespaces, cgroup, environment, user,
// capabilities and seccomp filter it joins, exit codes, failures that leave the container
// running, -d, -i and -t with a pseudo-terminal the test creates. Needs root.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/stat.h>
#include <termios.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <fstream>
#include <string>
#include <vector>

#include "integration/running_container.hpp"
#include "runtime/container/record.hpp"
#include "runtime/core/files.hpp"
#include "runtime/linux/cgroups.hpp"
#include "support/root_cli_test.hpp"

namespace isolab::testing {
namespace {

namespace fs = std::filesystem;

class ContainerExec : public BusyboxCliTest {};

// The inode of a namespace link such as "net:[4026531840]".
std::string namespace_link(pid_t pid, const std::string& name) {
    return fs::read_symlink("/proc/" + std::to_string(pid) + "/ns/" + name).string();
}

// The lines of /proc/PID/status that describe privileges.
std::string privilege_lines(const std::string& status) {
    std::istringstream lines(status);
    std::string line;
    std::string selected;
    while (std::getline(lines, line)) {
        for (const char* key : {"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "NoNewPrivs:", "Seccomp:"}) {
            if (line.rfind(key, 0) == 0) selected += line + "\n";
        }
    }
    return selected;
}

TEST_F(ContainerExec, JoinsEveryNamespace) {
    RunningContainer container(root_.paths(), "exec-ns");
    ASSERT_TRUE(container.started());

    std::string expected;
    for (const char* name : {"mnt", "uts", "ipc", "net", "pid", "cgroup"}) expected += namespace_link(container.pid(), name) + "\n";
    auto result = isolab({"exec", "exec-ns", "sh", "-c",
                          "for n in mnt uts ipc net pid cgroup; do readlink /proc/self/ns/$n; done"});

    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, expected);
}

TEST_F(ContainerExec, SeesContainerProcessesAndRoot) {
    RunningContainer container(root_.paths(), "exec-view", {"--hostname", "inside"});
    ASSERT_TRUE(container.started());

    auto result = isolab({"exec", "exec-view", "sh", "-c", "hostname; cat /proc/1/comm; ls /.isolab-init; pwd"});

    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "inside\n.isolab-init\n/.isolab-init\n/\n");
}

TEST_F(ContainerExec, JoinsContainerCgroup) {
    RunningContainer container(root_.paths(), "exec-cgroup");
    ASSERT_TRUE(container.started());

    // Inside the container's cgroup namespace its own cgroup is the root "/".
    auto host = kernel::detect_cgroups();
    std::string pattern = host.version == kernel::CgroupVersion::v1 ? ":memory:" : "^0::";
    auto result = isolab({"exec", "exec-cgroup", "grep", "-E", pattern, "/proc/self/cgroup"});

    EXPECT_EQ(result.exit_code, 0) << result.err;
    ASSERT_FALSE(result.out.empty());
    EXPECT_EQ(result.out.substr(result.out.size() - 3), ":/\n") << result.out;
}

TEST_F(ContainerExec, HostSeesProcessInCgroup) {
    RunningContainer container(root_.paths(), "exec-member");
    ASSERT_TRUE(container.started());

    auto top = isolab({"exec", "-d", "exec-member", "sleep", "5"});
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto listed = isolab({"top", "exec-member"});

    EXPECT_EQ(top.exit_code, 0) << top.err;
    EXPECT_NE(listed.out.find("sleep 5"), std::string::npos) << listed.out << listed.err;
}

TEST_F(ContainerExec, SamePrivilegesAsContainer) {
    RunningContainer container(root_.paths(), "exec-caps", {"--cap-drop", "ALL", "--cap-add", "NET_ADMIN"});
    ASSERT_TRUE(container.started());

    auto expected = privilege_lines(read_file("/proc/" + std::to_string(container.pid()) + "/status"));
    auto result = isolab({"exec", "exec-caps", "cat", "/proc/self/status"});

    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(privilege_lines(result.out), expected);
    EXPECT_NE(expected.find("CapEff:\t0000000000001000"), std::string::npos) << expected;
    EXPECT_NE(expected.find("Seccomp:\t2"), std::string::npos) << expected;
}

TEST_F(ContainerExec, UnconfinedContainerExecUnconfined) {
    RunningContainer container(root_.paths(), "exec-unconfined", {"--security-opt", "seccomp=unconfined"});
    ASSERT_TRUE(container.started());

    auto result = isolab({"exec", "exec-unconfined", "grep", "^Seccomp:", "/proc/self/status"});

    EXPECT_EQ(result.out, "Seccomp:\t0\n") << result.err;
}

TEST_F(ContainerExec, EnvironmentAndExtraVariables) {
    RunningContainer container(root_.paths(), "exec-env", {"-e", "FROM_RUN=1", "-e", "SHARED=run"});
    ASSERT_TRUE(container.started());

    auto result = isolab({"exec", "-e", "SHARED=exec", "-e", "ONLY_EXEC=a=b", "exec-env", "sh", "-c",
                          "echo $FROM_RUN $SHARED $ONLY_EXEC $HOME; echo $PATH"});

    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "1 exec a=b /root\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
}

TEST_F(ContainerExec, UserAndWorkingDir) {
    RunningContainer container(root_.paths(), "exec-user");
    ASSERT_TRUE(container.started());

    auto as_nobody = isolab({"exec", "-u", "nobody", "-w", "/tmp", "exec-user", "sh", "-c", "id -u; id -g; pwd; echo $HOME"});
    auto as_numbers = isolab({"exec", "-u", "1234:4321", "exec-user", "sh", "-c", "id -u; id -g"});

    // busybox's /etc/passwd gives nobody the home /nonexistent.
    EXPECT_EQ(as_nobody.out, "65534\n65534\n/tmp\n/nonexistent\n") << as_nobody.err;
    EXPECT_EQ(as_numbers.out, "1234\n4321\n") << as_numbers.err;
}

TEST_F(ContainerExec, ContainerUserIsDefault) {
    RunningContainer container(root_.paths(), "exec-default-user", {"-u", "nobody", "-w", "/var"});
    ASSERT_TRUE(container.started());

    auto result = isolab({"exec", "exec-default-user", "sh", "-c", "id -u; pwd"});

    EXPECT_EQ(result.out, "65534\n/var\n") << result.err;
}

TEST_F(ContainerExec, ExitCodePassedBack) {
    RunningContainer container(root_.paths(), "exec-code");
    ASSERT_TRUE(container.started());

    auto result = isolab({"exec", "exec-code", "sh", "-c", "echo out; echo err >&2; exit 7"});

    EXPECT_EQ(result.exit_code, 7);
    EXPECT_EQ(result.out, "out\n");
    EXPECT_EQ(result.err, "err\n");
}

TEST_F(ContainerExec, FailuresLeaveContainerRunning) {
    RunningContainer container(root_.paths(), "exec-fail");
    ASSERT_TRUE(container.started());

    auto missing = isolab({"exec", "exec-fail", "no-such-command"});
    auto not_executable = isolab({"exec", "exec-fail", "/etc/passwd"});
    auto bad_user = isolab({"exec", "-u", "no-such-user", "exec-fail", "true"});
    auto bad_dir = isolab({"exec", "-w", "/no/such/dir", "exec-fail", "true"});

    EXPECT_EQ(missing.exit_code, 127);
    EXPECT_EQ(missing.err, "isolab: exec: \"no-such-command\": executable file not found in $PATH\n");
    EXPECT_EQ(not_executable.exit_code, 126);
    EXPECT_EQ(bad_user.exit_code, 126);
    EXPECT_NE(bad_user.err.find("user 'no-such-user' not found"), std::string::npos) << bad_user.err;
    EXPECT_EQ(bad_dir.exit_code, 126);
    for (const auto* result : {&missing, &not_executable, &bad_user, &bad_dir}) {
        EXPECT_EQ(std::count(result->err.begin(), result->err.end(), '\n'), 1) << result->err;
    }
    EXPECT_TRUE(container.still_running());
    EXPECT_EQ(isolab({"exec", "exec-fail", "true"}).exit_code, 0);
}

TEST_F(ContainerExec, MissingAndStoppedContainer) {
    auto missing = isolab({"exec", "no-such-container", "true"});
    auto finished = isolab({"run", "--name", "exec-done", "busybox", "true"});
    auto stopped = isolab({"exec", "exec-done", "true"});

    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_EQ(missing.err, "isolab: no such container: no-such-container (list them with 'isolab ps -a')\n");
    EXPECT_EQ(finished.exit_code, 0);
    EXPECT_EQ(stopped.exit_code, 1);
    EXPECT_NE(stopped.err.find("container exec-done is not running"), std::string::npos) << stopped.err;
}

TEST_F(ContainerExec, DetachReturnsAtOnce) {
    RunningContainer container(root_.paths(), "exec-detach");
    ASSERT_TRUE(container.started());

    auto started = std::chrono::steady_clock::now();
    auto detached = isolab({"exec", "-d", "exec-detach", "sh", "-c", "sleep 1; echo done > /tmp/detached"});
    auto elapsed = std::chrono::steady_clock::now() - started;
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    auto check = isolab({"exec", "exec-detach", "cat", "/tmp/detached"});

    EXPECT_EQ(detached.exit_code, 0) << detached.err;
    EXPECT_EQ(detached.out, "");
    EXPECT_LT(elapsed, std::chrono::milliseconds(1000));
    EXPECT_EQ(check.out, "done\n") << check.err;
}

TEST_F(ContainerExec, InteractiveForwardsStdin) {
    RunningContainer container(root_.paths(), "exec-stdin");
    ASSERT_TRUE(container.started());

    auto with_input = run_isolab_with_input(root_.paths(), {"exec", "-i", "exec-stdin", "sh", "-c", "cat; echo end"}, "line one\nline two\n");
    auto without_i = run_isolab_with_input(root_.paths(), {"exec", "exec-stdin", "sh", "-c", "cat; echo end"}, "ignored\n");

    EXPECT_EQ(with_input.exit_code, 0);
    EXPECT_EQ(with_input.output, "line one\nline two\nend\n");
    EXPECT_EQ(without_i.output, "end\n");
}

TEST_F(ContainerExec, TerminalHasCallerWindowSize) {
    RunningContainer container(root_.paths(), "exec-tty");
    ASSERT_TRUE(container.started());

    auto result = run_isolab_on_terminal(root_.paths(), {"exec", "-t", "exec-tty", "sh", "-c", "stty size; tty -s && echo is-tty"}, 33, 101);

    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find("33 101"), std::string::npos) << result.output;
    EXPECT_NE(result.output.find("is-tty"), std::string::npos) << result.output;
}

TEST_F(ContainerExec, EnvFileOption) {
    RunningContainer container(root_.paths(), "exec-env-file");
    ASSERT_TRUE(container.started());
    auto file = root_.root().parent_path() / "exec.env";
    std::ofstream(file) << "# comment\nFROM_FILE=1\nBOTH=file\n";

    auto result = isolab({"exec", "--env-file", file.string(), "-e", "BOTH=option", "exec-env-file", "sh", "-c", "echo $FROM_FILE $BOTH"});

    EXPECT_EQ(result.out, "1 option\n") << result.err;
}

TEST_F(ContainerExec, WindowChangeReachesCommand) {
    RunningContainer container(root_.paths(), "exec-winch");
    ASSERT_TRUE(container.started());
    int master = -1;
    int slave = -1;
    winsize size{33, 101, 0, 0};
    ASSERT_EQ(openpty(&master, &slave, nullptr, nullptr, &size), 0);
    pid_t child = start_isolab_on_terminal(root_.paths(), {"exec", "-t", "exec-winch", "sh", "-c", "stty size; sleep 2; stty size"},
                                           master, slave);
    close(slave);

    // Resizing the test's terminal sends SIGWINCH to isolab, which passes the new size on.
    std::string output;
    char buffer[512];
    ssize_t count;
    bool resized = false;
    while ((count = read(master, buffer, sizeof buffer)) > 0) {
        output.append(buffer, static_cast<size_t>(count));
        if (!resized && output.find("33 101") != std::string::npos) {
            winsize bigger{50, 150, 0, 0};
            ioctl(master, TIOCSWINSZ, &bigger);
            resized = true;
        }
    }
    close(master);

    EXPECT_EQ(wait_exit_code(child), 0);
    EXPECT_TRUE(resized) << output;
    EXPECT_NE(output.find("50 150"), std::string::npos) << output;
}

TEST_F(ContainerExec, InteractiveTerminalForwardsInput) {
    RunningContainer container(root_.paths(), "exec-it");
    ASSERT_TRUE(container.started());
    int master = -1;
    int slave = -1;
    winsize size{24, 80, 0, 0};
    ASSERT_EQ(openpty(&master, &slave, nullptr, nullptr, &size), 0);
    pid_t child = start_isolab_on_terminal(root_.paths(), {"exec", "-it", "exec-it", "sh", "-c", "read line; echo got-$line"},
                                           master, slave);
    close(slave);

    // "\r" is what Enter sends. The command prints nothing before it has read the line.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    bool typed = write(master, "hello\r", 6) == 6;
    std::string output;
    char buffer[512];
    ssize_t count;
    while ((count = read(master, buffer, sizeof buffer)) > 0) output.append(buffer, static_cast<size_t>(count));
    close(master);

    EXPECT_TRUE(typed);
    EXPECT_EQ(wait_exit_code(child), 0);
    EXPECT_NE(output.find("got-hello"), std::string::npos) << output;
}

TEST_F(ContainerExec, RawModeRestoredAfterExit) {
    RunningContainer container(root_.paths(), "exec-raw");
    ASSERT_TRUE(container.started());

    // The test's terminal starts in cooked mode (ICANON, ECHO). isolab makes it raw while
    // the command runs and must restore it, which the test reads back on its slave end.
    int master = -1;
    int slave = -1;
    winsize size{24, 80, 0, 0};
    ASSERT_EQ(openpty(&master, &slave, nullptr, nullptr, &size), 0);
    termios before{};
    tcgetattr(slave, &before);
    pid_t child = start_isolab_on_terminal(root_.paths(), {"exec", "-t", "exec-raw", "sh", "-c", "exit 3"}, master, slave);
    std::string output;
    char buffer[512];
    ssize_t count;
    // Stop reading once isolab exited, while the test still holds the slave end.
    while (waitpid(child, nullptr, WNOHANG) == 0) {
        pollfd descriptor{master, POLLIN, 0};
        if (poll(&descriptor, 1, 50) > 0 && (count = read(master, buffer, sizeof buffer)) > 0) output.append(buffer, static_cast<size_t>(count));
    }
    termios after{};
    tcgetattr(slave, &after);
    close(slave);
    close(master);

    EXPECT_EQ(after.c_lflag & (ICANON | ECHO), before.c_lflag & (ICANON | ECHO));
    EXPECT_NE(before.c_lflag & ICANON, 0u);
}

TEST_F(ContainerExec, RunWithTerminal) {
    auto result = run_isolab_on_terminal(root_.paths(), {"run", "--rm", "-t", "busybox", "sh", "-c", "stty size; tty; exit 4"}, 40, 120);

    EXPECT_EQ(result.exit_code, 4);
    EXPECT_NE(result.output.find("40 120"), std::string::npos) << result.output;
    EXPECT_NE(result.output.find("/dev/pts/0"), std::string::npos) << "the terminal comes from the container's devpts: " << result.output;
}

TEST_F(ContainerExec, RunInteractiveReadsStdin) {
    auto result = run_isolab_with_input(root_.paths(), {"run", "--rm", "-i", "busybox", "wc", "-l"}, "a\nb\nc\n");

    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.output, "3\n");
}

TEST_F(ContainerExec, NoLeftoversAfterExec) {
    {
        RunningContainer container(root_.paths(), "exec-clean");
        ASSERT_TRUE(container.started());
        isolab({"exec", "exec-clean", "true"});
        isolab({"exec", "exec-clean", "no-such-command"});
        EXPECT_EQ(container.stop(), 143);
    }
    auto mountinfo = read_file("/proc/self/mountinfo");
    EXPECT_EQ(mountinfo.find(root_.root().string()), std::string::npos);
    EXPECT_TRUE(container::list_containers(root_.paths()).empty());
    auto host = kernel::detect_cgroups();
    for (const auto& leftover : kernel::find_isolab_cgroups(host)) {
        EXPECT_EQ(leftover.string().find(root_.root().string()), std::string::npos);
    }
}

}  // namespace
}  // namespace isolab::testing
