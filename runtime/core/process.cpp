#include "runtime/core/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "runtime/core/clock.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"

extern char** environ;

namespace isolab {

namespace {

std::string join_arguments(const std::vector<std::string>& argv) {
    std::string joined;
    for (const auto& argument : argv) {
        if (!joined.empty()) joined += ' ';
        joined += argument;
    }
    return joined;
}

int decode_wait_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, const CommandOptions& options) {
    if (argv.empty()) throw Error("run_command: empty argument list");
    spdlog::debug("run: {}", join_arguments(argv));

    int output_pipe[2] = {-1, -1};
    if (options.capture && pipe2(output_pipe, O_CLOEXEC) != 0) throw_errno("pipe");

    std::vector<char*> arguments;
    for (const auto& argument : argv) arguments.push_back(const_cast<char*>(argument.c_str()));
    arguments.push_back(nullptr);

    std::vector<std::string> environment_storage;
    for (char** entry = environ; *entry != nullptr; ++entry) environment_storage.emplace_back(*entry);
    for (const auto& extra : options.extra_environment) environment_storage.push_back(extra);
    std::vector<char*> environment;
    for (auto& entry : environment_storage) environment.push_back(entry.data());
    environment.push_back(nullptr);

    // fork+exec instead of posix_spawn: the child may need to chdir first.
    pid_t child = fork();
    if (child < 0) throw_errno("fork");
    if (child == 0) {
        if (options.capture) {
            dup2(output_pipe[1], STDOUT_FILENO);
            dup2(output_pipe[1], STDERR_FILENO);
        }
        int null_input = open("/dev/null", O_RDONLY);
        if (null_input >= 0) dup2(null_input, STDIN_FILENO);
        if (options.working_directory && chdir(options.working_directory->c_str()) != 0) _exit(126);
        execvpe(arguments[0], arguments.data(), environment.data());
        _exit(errno == ENOENT ? 127 : 126);
    }

    CommandResult result;
    auto deadline = Clock::now() + options.timeout;
    if (options.capture) {
        close(output_pipe[1]);
        char buffer[8192];
        while (true) {
            int wait_ms = -1;
            if (options.timeout.count() > 0) {
                auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
                wait_ms = static_cast<int>(std::max<long long>(0, left.count()));
            }
            pollfd descriptor{output_pipe[0], POLLIN, 0};
            int ready = poll(&descriptor, 1, wait_ms);
            if (ready == 0) {
                kill(child, SIGKILL);
                break;
            }
            if (ready < 0 && errno == EINTR) continue;
            ssize_t count = read(output_pipe[0], buffer, sizeof buffer);
            if (count < 0 && errno == EINTR) continue;
            if (count <= 0) break;
            result.output.append(buffer, static_cast<size_t>(count));
        }
        close(output_pipe[0]);
    }

    int status = 0;
    if (options.timeout.count() > 0 && !options.capture) {
        while (true) {
            pid_t done = waitpid(child, &status, WNOHANG);
            if (done == child) break;
            if (Clock::now() >= deadline) {
                kill(child, SIGKILL);
                waitpid(child, &status, 0);
                break;
            }
            usleep(10000);
        }
    } else {
        while (waitpid(child, &status, 0) < 0) {
            if (errno != EINTR) throw_errno("waitpid " + argv[0]);
        }
    }
    result.exit_code = decode_wait_status(status);
    if (result.exit_code == 127 && !program_available(argv[0])) {
        throw Error(argv[0] + " not found", "install it, or run scripts/setup");
    }
    return result;
}

std::string run_checked(const std::vector<std::string>& argv, const CommandOptions& options) {
    auto result = run_command(argv, options);
    if (result.exit_code != 0) {
        // An error is shown on one line: the tool's lines are joined with "; ".
        std::string output = joined_lines(result.output);
        throw Error(argv[0] + " failed with exit code " + std::to_string(result.exit_code) +
                    (output.empty() ? "" : ": " + output));
    }
    return result.output;
}

bool program_available(const std::string& program) {
    if (program.find('/') != std::string::npos) return access(program.c_str(), X_OK) == 0;
    const char* path = std::getenv("PATH");
    std::string search = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    size_t start = 0;
    while (start <= search.size()) {
        size_t end = search.find(':', start);
        if (end == std::string::npos) end = search.size();
        auto candidate = std::filesystem::path(search.substr(start, end - start)) / program;
        if (access(candidate.c_str(), X_OK) == 0) return true;
        start = end + 1;
    }
    return false;
}

std::string isolab_executable() {
    auto self = std::filesystem::read_symlink("/proc/self/exe");
    if (self.filename() == "isolab") return self.string();
    return (executable_directory() / "isolab").string();
}

namespace {

// Owns the posix_spawn attributes and file actions.
class SpawnSettings {
public:
    SpawnSettings() {
        posix_spawnattr_init(&attributes);
        posix_spawn_file_actions_init(&actions);
    }
    ~SpawnSettings() {
        posix_spawnattr_destroy(&attributes);
        posix_spawn_file_actions_destroy(&actions);
    }
    SpawnSettings(const SpawnSettings&) = delete;
    SpawnSettings& operator=(const SpawnSettings&) = delete;

    posix_spawnattr_t attributes;
    posix_spawn_file_actions_t actions;
};

// This process's environment with ISOLAB_ROOT and ISOLAB_CACHE set to `paths`.
std::vector<std::string> helper_environment(const Paths& paths) {
    std::vector<std::string> environment = {"ISOLAB_ROOT=" + paths.root.string(), "ISOLAB_CACHE=" + paths.cache.string()};
    for (char** entry = environ; *entry != nullptr; ++entry) {
        std::string_view text(*entry);
        if (!text.starts_with("ISOLAB_ROOT=") && !text.starts_with("ISOLAB_CACHE=")) environment.emplace_back(text);
    }
    return environment;
}

std::vector<char*> pointers(std::vector<std::string>& words) {
    std::vector<char*> result;
    for (auto& word : words) result.push_back(word.data());
    result.push_back(nullptr);
    return result;
}

}  // namespace

pid_t spawn_isolab_helper(const Paths& paths, const HelperSpawn& spawn) {
    SpawnSettings settings;
    if (spawn.stdin_fd >= 0) {
        posix_spawn_file_actions_adddup2(&settings.actions, spawn.stdin_fd, STDIN_FILENO);
    } else {
        posix_spawn_file_actions_addopen(&settings.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    }
    posix_spawn_file_actions_addopen(&settings.actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&settings.actions, STDERR_FILENO, spawn.log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0640);
    if (spawn.ready_fd >= 0) posix_spawn_file_actions_adddup2(&settings.actions, spawn.ready_fd, spawn.ready_fd_number);

    sigset_t signals;
    sigemptyset(&signals);
    posix_spawnattr_setsigmask(&settings.attributes, &signals);
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) sigaddset(&signals, signal_number);
    posix_spawnattr_setsigdefault(&settings.attributes, &signals);
    posix_spawnattr_setflags(&settings.attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    auto executable = isolab_executable();
    std::vector<std::string> arguments = {executable};
    arguments.insert(arguments.end(), spawn.arguments.begin(), spawn.arguments.end());
    auto environment = helper_environment(paths);
    auto argv = pointers(arguments);
    auto envp = pointers(environment);

    pid_t pid = 0;
    int error = posix_spawn(&pid, executable.c_str(), &settings.actions, &settings.attributes, argv.data(), envp.data());
    if (error != 0) throw_errno(error, "cannot start " + executable + " " + join_arguments(spawn.arguments));
    spdlog::debug("started helper pid {}: {}", pid, join_arguments(arguments));
    return pid;
}

}  // namespace isolab
