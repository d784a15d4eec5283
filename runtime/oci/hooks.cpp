#include "runtime/oci/hooks.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "runtime/container/status_pipe.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"
#include "runtime/linux/namespaces.hpp"

namespace isolab::oci {

namespace {

// Sends `text` on a socket, which unlike a pipe raises no SIGPIPE when the hook exits
// without reading its stdin.
void send_state(int fd, const std::string& text) {
    size_t sent = 0;
    while (sent < text.size()) {
        ssize_t count = send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) return;
        sent += static_cast<size_t>(count);
    }
}

void run_hook(const OciHook& hook, const std::string& stage, const std::string& state_json) {
    auto name = stage + " hook " + hook.path;
    int sockets[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) throw_errno("cannot run the " + name);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, sockets[1], STDIN_FILENO);
    // args[0] is the hook's argv[0], as in execv; without args the path is.
    auto arguments = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
    auto argv = container::c_strings(arguments);
    auto envp = container::c_strings(hook.env);
    pid_t pid = 0;
    int error = posix_spawn(&pid, hook.path.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(sockets[1]);
    if (error != 0) {
        close(sockets[0]);
        throw_errno(error, "cannot run the " + name);
    }
    kernel::ChildProcess child(pid);
    send_state(sockets[0], state_json);
    shutdown(sockets[0], SHUT_WR);

    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(hook.timeout.value_or(0));
    int exit_code = -1;
    while ((exit_code = child.try_wait()) < 0) {
        if (hook.timeout && std::chrono::steady_clock::now() >= deadline) {
            close(sockets[0]);
            throw Error("the " + name + " timed out after " + std::to_string(*hook.timeout) + " s");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    close(sockets[0]);
    if (exit_code != 0) throw Error("the " + name + " exited with " + std::to_string(exit_code));
    spdlog::debug("hook: {} succeeded", name);
}

}  // namespace

void run_hooks(const std::vector<OciHook>& hooks, const std::string& stage, const std::string& state_json) {
    for (const auto& hook : hooks) run_hook(hook, stage, state_json);
}

void run_hooks_warning(const std::vector<OciHook>& hooks, const std::string& stage, const std::string& state_json) {
    for (const auto& hook : hooks) {
        try {
            run_hook(hook, stage, state_json);
        } catch (const Error& error) {
            spdlog::warn("{}", error.what());
        }
    }
}

}  // namespace isolab::oci
