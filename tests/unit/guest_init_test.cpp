// isolab-init in container mode, run directly: reaping, signal forwarding, exit codes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace {

pid_t start_init(std::vector<std::string> command) {
    command.insert(command.begin(), {ISOLAB_INIT_BINARY, "--"});
    pid_t child = fork();
    if (child == 0) {
        std::vector<char*> argv;
        for (auto& argument : command) argv.push_back(argument.data());
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(99);
    }
    return child;
}

int wait_exit_code(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run_init(const std::vector<std::string>& command) { return wait_exit_code(start_init(command)); }

struct ProcessState {
    pid_t pid;
    char state;
};

// Children of `parent` from /proc/<pid>/stat (field 3 is the state, field 4 the ppid).
std::vector<ProcessState> children_of(pid_t parent) {
    std::vector<ProcessState> children;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        if (!std::getline(stat, line)) continue;
        auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        char state = 0;
        int ppid = 0;
        if (sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) != 2) continue;
        if (ppid == parent) children.push_back({std::stoi(name), state});
    }
    return children;
}

}  // namespace

TEST(GuestInitContainer, ExitCodePassedThrough) {
    EXPECT_EQ(run_init({"sh", "-c", "exit 5"}), 5);
    EXPECT_EQ(run_init({"true"}), 0);
}

TEST(GuestInitContainer, SignalDeathIs128PlusSignal) {
    EXPECT_EQ(run_init({"sh", "-c", "kill -KILL $$"}), 128 + SIGKILL);
}

TEST(GuestInitContainer, ExecFailureCodes) {
    EXPECT_EQ(run_init({"isolab-no-such-command"}), 127);
    EXPECT_EQ(run_init({"/etc/hostname"}), 126);
}

TEST(GuestInitContainer, MissingCommandIsUsageError) {
    EXPECT_EQ(run_init({}), 2);
}

TEST(GuestInitContainer, ReapsOrphansAndForwardsTerm) {
    pid_t init = start_init({"sh", "-c", "(sleep 1 &) ; exec sleep 30"});

    // The subshell exits at once, so its `sleep 1` is reparented to the init (a child
    // subreaper outside a PID namespace).
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto children = children_of(init);
    EXPECT_EQ(children.size(), 2u) << "expected the workload and the orphaned sleep";

    // After the orphan exits, nothing of the init's may stay a zombie.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    children = children_of(init);
    EXPECT_EQ(children.size(), 1u);
    for (const auto& child : children) EXPECT_NE(child.state, 'Z') << "pid " << child.pid << " is a zombie";

    auto sent = std::chrono::steady_clock::now();
    ASSERT_EQ(kill(init, SIGTERM), 0);
    EXPECT_EQ(wait_exit_code(init), 128 + SIGTERM);
    EXPECT_LT(std::chrono::steady_clock::now() - sent, std::chrono::seconds(5));
}

TEST(GuestInitContainer, ForwardsUsr1ToTrap) {
    pid_t init = start_init({"sh", "-c", "trap 'exit 42' USR1; while :; do sleep 0.05; done"});
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_EQ(kill(init, SIGUSR1), 0);
    EXPECT_EQ(wait_exit_code(init), 42);
}
