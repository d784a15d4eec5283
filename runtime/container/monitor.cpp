#include "runtime/container/monitor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/container/health_checker.hpp"
#include "runtime/container/logs.hpp"
#include "runtime/container/output.hpp"
#include "runtime/container/restart_policy.hpp"
#include "runtime/container/setup.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/core/process.hpp"
#include "runtime/linux/cgroup_warmup.hpp"

namespace isolab::container {

namespace fs = std::filesystem;

namespace {

// The descriptor number the monitor finds its ready pipe at.
constexpr int monitor_ready_fd = 3;

// After a workload ran at least this long, the restart delay starts again at its minimum.
constexpr std::chrono::seconds stable_run{10};

std::string read_until_end(int fd) {
    std::string text;
    char buffer[4096];
    ssize_t count;
    while ((count = read(fd, buffer, sizeof buffer)) != 0) {
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) break;
        text.append(buffer, static_cast<size_t>(count));
    }
    return text;
}

// Starts `isolab container-monitor` for the container, with its messages in monitor.log.
pid_t spawn_monitor(const Paths& paths, const StoredContainer& container, int ready_write) {
    HelperSpawn spawn;
    spawn.arguments = {"--log-level", "info", monitor_command, "--ready-fd", std::to_string(monitor_ready_fd),
                       container.config.id};
    spawn.ready_fd = ready_write;
    spawn.ready_fd_number = monitor_ready_fd;
    spawn.log = container.paths.directory / "monitor.log";
    pid_t pid = spawn_isolab_helper(paths, spawn);
    spdlog::debug("monitor: started pid {} for container {}", pid, container.config.id);
    return pid;
}

void ignore_signal(int) {}

// The one line the monitor sends to the process that started it.
class ReadyReport {
public:
    explicit ReadyReport(int fd) : fd_(fd) {}
    ~ReadyReport() { close_fd(); }
    ReadyReport(const ReadyReport&) = delete;
    ReadyReport& operator=(const ReadyReport&) = delete;

    void started() { send({{"started", true}}); }
    void failed(const Error& error) {
        send({{"started", false}, {"exit_code", error.exit_code()}, {"message", error.what()}, {"hint", error.hint()}});
    }

private:
    void send(const nlohmann::json& message) {
        if (fd_ < 0) return;
        auto line = message.dump() + "\n";
        // A starter that went away is no reason to stop the container: errors are ignored.
        [[maybe_unused]] auto written = write(fd_, line.data(), line.size());
        close_fd();
    }
    void close_fd() {
        if (fd_ >= 0) close(fd_);
        fd_ = -1;
    }

    int fd_;
};

struct RunOutcome {
    bool started = false;
    int exit_code = 0;
    bool restart = false;     // the restart policy restarts it
    int restart_count = 0;    // restarts so far
};

class Monitor {
public:
    Monitor(const Paths& paths, StoredContainer container, ReadyReport& ready)
        : paths_(paths),
          container_(std::move(container)),
          ready_(ready),
          policy_(parse_restart_policy(container_.config.request.restart_policy)),
          log_(container_.paths.log()) {}

    void run() {
        image::Store store(paths_);
        auto image_id = container_.config.image_id.substr(container_.config.image_id.find(':') + 1);
        auto image = load_image_rootfs(store, image_id);

        for (int consecutive = 0;; ) {
            auto begin = std::chrono::steady_clock::now();
            auto outcome = run_once(image);
            if (!outcome.started || !outcome.restart) break;

            if (std::chrono::steady_clock::now() - begin >= stable_run) consecutive = 0;
            auto delay = restart_delay(consecutive++);
            spdlog::info("container {} exited with {}: restarting in {} ms (restart {})", container_.config.id,
                         outcome.exit_code, delay.count(), outcome.restart_count + 1);
            if (!wait_unless_stopped(delay)) {
                update_state(container_.paths, [](ContainerState& next) { next.status = "exited"; });
                spdlog::info("container {} stopped while waiting to restart", container_.config.id);
                break;
            }
            update_state(container_.paths, [](ContainerState& next) { ++next.restart_count; });
        }
    }

private:
    // Starts the workload once and waits for it. Returns started = false when it could
    // not be started, after recording and reporting that failure.
    RunOutcome run_once(const ImageRootfs& image) {
        const auto& config = container_.config;
        try {
            return start_and_wait(image);
        } catch (const Error& error) {
            spdlog::error("container {} could not be started: {}", config.id, error.one_line());
            record_exit(error.exit_code(), false, false);
            ready_.failed(error);
            return {};
        }
    }

    RunOutcome start_and_wait(const ImageRootfs& image) {
        const auto& config = container_.config;
        auto cgroup_host = kernel::detect_cgroups();
        kernel::CgroupMoveWarmup cgroup_warmup(cgroup_host);
        // Declared in this order so that on any failure the process dies first, then its
        // network goes, then its cgroup, then the reader thread ends.
        OutputCapture output(logging_handler(log_, {}));
        std::unique_ptr<kernel::Cgroup> cgroup;
        auto plan = launch_plan(config, container_.paths, image, config.request);
        auto container_network = network::attach_network(paths_, config.request, image.config.exposed_ports, config.id,
                                                         config.name, config.hostname, container_.paths.directory);
        if (container_network) add_network_mounts(plan, *container_network);
        cgroup_warmup.wait();
        Launch launch(plan, output.child_stdout(), output.child_stderr());
        if (container_network) container_network->connect(launch.pid());
        cgroup = kernel::create_cgroup(cgroup_host, "isolab-" + config.id);
        cgroup->apply(cgroup_limits(config.request));
        cgroup->add_process(launch.pid());
        output.start_reading();
        record_start(launch.pid());

        PhaseRecorder phases;
        bool started = launch.start(phases);
        if (started) {
            ready_.started();
            spdlog::info("container {} started: pid {}", config.id, launch.pid());
        }
        std::optional<HealthChecker> health;
        if (started) health.emplace(config, container_.paths, launch.pid());
        int exit_code = started ? wait_for_exit(launch.child(), *cgroup) : launch.child().wait();
        // Stopped before the exit is recorded, so no check result lands after it.
        health.reset();
        output.finish();
        bool oom_killed = cgroup->oom_kills() > 0;
        cgroup->remove();
        if (!started) throw launch.failure();
        // Released before the exit is recorded, so `stop` and `wait` return with the
        // address, the veth and the published ports free.
        container_network.reset();

        auto state = record_exit(exit_code, oom_killed, true);
        spdlog::info("container {} exited with {}", config.id, exit_code);
        return {true, exit_code, state.status == "restarting", state.restart_count};
    }

    void record_start(pid_t pid) {
        auto pid_ticks = process_start_ticks(pid);
        update_state(container_.paths, [&](ContainerState& state) {
            state.status = "running";
            state.pid = pid;
            state.pid_start_ticks = pid_ticks;
            state.monitor_pid = getpid();
            state.monitor_start_ticks = process_start_ticks(getpid());
            state.started_at = rfc3339_now();
            state.exit_code.reset();
            state.oom_killed = false;
            reset_health(state, container_.config);
        });
    }

    // Records the exit. With `may_restart`, the restart policy picks restarting or exited
    // under the same lock, so `wait` never reads a passing "exited" between two runs.
    ContainerState record_exit(int exit_code, bool oom_killed, bool may_restart) {
        return update_state(container_.paths, [&](ContainerState& state) {
            bool restart = may_restart && should_restart(policy_, exit_code, state.restart_count, state.manually_stopped);
            state.status = restart ? "restarting" : "exited";
            state.pid = 0;
            state.pid_start_ticks = 0;
            state.finished_at = rfc3339_now();
            state.exit_code = exit_code;
            state.oom_killed = oom_killed;
        });
    }

    // Sleeps for `delay` in short steps. Returns false as soon as the container was
    // stopped by hand.
    bool wait_unless_stopped(std::chrono::milliseconds delay) {
        auto end = std::chrono::steady_clock::now() + delay;
        while (std::chrono::steady_clock::now() < end) {
            if (read_state(container_.paths).manually_stopped) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return !read_state(container_.paths).manually_stopped;
    }

    const Paths& paths_;
    StoredContainer container_;
    ReadyReport& ready_;
    RestartPolicy policy_;
    LogWriter log_;
};

}  // namespace

void start_monitor(const Paths& paths, const std::string& id) {
    auto container = require_container(paths, id);
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) throw_errno("cannot create the monitor's ready pipe");
    pid_t pid = 0;
    try {
        pid = spawn_monitor(paths, container, ready[1]);
    } catch (...) {
        close(ready[0]);
        close(ready[1]);
        throw;
    }
    close(ready[1]);
    auto line = read_until_end(ready[0]);
    close(ready[0]);

    auto message = nlohmann::json::parse(line, nullptr, false);
    if (!message.is_discarded() && message.value("started", false)) return;

    // The monitor ends after a failed start: reap it.
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (message.is_discarded() || !message.is_object()) {
        throw Error("the container monitor exited before the container started",
                    "see " + (container.paths.directory / "monitor.log").string());
    }
    throw Error(message.value("message", "the container could not be started"), message.value("hint", ""),
                message.value("exit_code", 125));
}

int run_monitor(const Paths& paths, const std::string& id, int ready_fd) {
    // monitor.log keeps the monitor's messages with their UTC time.
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %l: %v", spdlog::pattern_time_type::utc);
    // A handler that does nothing, not SIG_IGN: an ignored signal stays ignored across
    // execve, and a shell cannot trap a signal that was ignored when it started.
    struct sigaction action {};
    action.sa_handler = ignore_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (int number : {SIGHUP, SIGINT, SIGPIPE}) sigaction(number, &action, nullptr);
    if (chdir("/") != 0) spdlog::warn("monitor: cannot enter /: {}", std::strerror(errno));
    // The container's processes must not inherit the pipe and keep the starter waiting.
    if (ready_fd >= 0) fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
    ReadyReport ready(ready_fd);

    std::optional<StoredContainer> container;
    try {
        container = require_container(paths, id);
        spdlog::info("monitor {} for container {} ({})", getpid(), container->config.id, container->config.name);
        Monitor monitor(paths, *container, ready);
        monitor.run();
    } catch (const Error& error) {
        spdlog::error("monitor for container {} failed: {}", id, error.one_line());
        ready.failed(error);
        return 1;
    } catch (const std::exception& error) {
        spdlog::error("monitor for container {} failed: {}", id, error.what());
        ready.failed(Error(error.what()));
        return 1;
    }

    if (container->config.request.remove) {
        std::error_code error;
        fs::remove_all(container->paths.directory, error);
        if (error) spdlog::warn("cannot remove {}: {}", container->paths.directory.string(), error.message());
    }
    spdlog::info("monitor for container {} ends", id);
    return 0;
}

}  // namespace isolab::container
