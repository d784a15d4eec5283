#include "runtime/container/lifecycle.hpp"

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <thread>

#include "runtime/container/monitor.hpp"
#include "runtime/container/mounts_plan.hpp"
#include "runtime/container/setup.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"

namespace isolab::container {

namespace fs = std::filesystem;

namespace {

using namespace std::chrono_literals;

constexpr auto poll_interval = 20ms;

// How long to wait for a monitor to record an exit after the process is gone. The
// monitor only reaps the process, joins the output reader and removes the cgroup.
constexpr auto record_timeout = 10s;

template <typename Condition>
bool wait_until(Condition&& condition, std::optional<std::chrono::milliseconds> timeout) {
    auto end = std::chrono::steady_clock::now() + timeout.value_or(0ms);
    while (!condition()) {
        if (timeout && std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(poll_interval);
    }
    return true;
}

ContainerState current_state(const StoredContainer& container) {
    StoredContainer fresh = container;
    fresh.state = read_state(container.paths);
    return observed_state(fresh);
}

bool monitor_alive(const ContainerState& state) { return process_alive(state.monitor_pid, state.monitor_start_ticks); }

// Waits until the owner recorded the end of the first process, or records it here when
// the owner died. `killed` is true when SIGKILL ended it, which makes the exit code 137.
void wait_for_recorded_exit(const StoredContainer& container, bool killed) {
    bool recorded = wait_until(
        [&] {
            auto state = read_state(container.paths);
            return state.status != "running" || !monitor_alive(state);
        },
        record_timeout);
    auto state = read_state(container.paths);
    if (!recorded || state.status != "running") return;
    update_state(container.paths, [&](ContainerState& next) {
        next.status = "exited";
        next.pid = 0;
        next.finished_at = rfc3339_now();
        next.exit_code = killed ? 128 + SIGKILL : 255;
    });
    spdlog::debug("container {}: its owner is gone, recorded the exit here", container.config.id);
}

void request_manual_stop(const StoredContainer& container) {
    update_state(container.paths, [](ContainerState& state) { state.manually_stopped = true; });
}

}  // namespace

int parse_signal(std::string_view text) {
    std::string name(text);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    int number = 0;
    auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), number);
    if (error == std::errc() && end == name.data() + name.size()) {
        if (number >= 1 && number < NSIG) return number;
    } else {
        if (name.rfind("SIG", 0) == 0) name.erase(0, 3);
        for (int candidate = 1; candidate < NSIG; ++candidate) {
            const char* abbreviation = sigabbrev_np(candidate);
            if (abbreviation != nullptr && name == abbreviation) return candidate;
        }
    }
    throw Error("invalid signal '" + std::string(text) + "'", "use a name such as SIGTERM, TERM or a number such as 15");
}

std::string create_container(image::Store& store, const RunOptions& options) {
    check_options(options);
    check_host_can_run();
    auto image = load_image_rootfs(store, options.image);
    // The -v and --mount volumes are resolved now, as `run` does, so the monitor mounts them.
    VolumeSetup volumes(store.paths(), image.config, options);
    auto config = make_config(image, options);
    config.mounts = volumes.mounts();
    ContainerRecord record(store.paths(), std::move(config));
    volumes.unlock();
    record.keep();
    volumes.keep();
    return record.config().id;
}

std::string run_detached(image::Store& store, const RunOptions& options) {
    auto id = create_container(store, options);
    try {
        start_monitor(store.paths(), id);
    } catch (const Error& error) {
        // An isolab failure leaves nothing behind, as with `run` in the foreground.
        if (error.exit_code() == 125) {
            std::error_code ignored;
            fs::remove_all(container_paths(store.paths(), id).directory, ignored);
        }
        throw;
    }
    return id;
}

std::string start_container(const Paths& paths, const std::string& name_or_id) {
    auto container = require_container(paths, name_or_id);
    // Two starts at once must not start two monitors.
    FileLock lock(container.paths.directory / "start.lock");
    auto state = current_state(container);
    if (state.status == "running" || state.status == "restarting") return container.config.id;
    check_host_can_run();
    update_state(container.paths, [](ContainerState& next) {
        next.manually_stopped = false;
        next.restart_count = 0;
    });
    start_monitor(paths, container.config.id);
    return container.config.id;
}

void stop_container(const Paths& paths, const std::string& name_or_id, int timeout_seconds) {
    auto container = require_container(paths, name_or_id);
    auto state = observed_state(container);
    if (state.status != "running" && state.status != "restarting") return;
    request_manual_stop(container);
    if (state.status == "restarting") {
        // The monitor sees the request while it waits to restart, and ends.
        wait_until([&] { return !monitor_alive(read_state(container.paths)); }, record_timeout);
        return;
    }

    int stop_signal = container.config.stop_signal.empty() ? SIGTERM : parse_signal(container.config.stop_signal);
    spdlog::debug("stop: sending signal {} to container {} (pid {})", stop_signal, container.config.id, state.pid);
    kill(state.pid, stop_signal);
    std::optional<std::chrono::milliseconds> grace;
    if (timeout_seconds >= 0) grace = std::chrono::seconds(timeout_seconds);
    bool ended = wait_until([&] { return !process_alive(state.pid, state.pid_start_ticks); }, grace);
    if (!ended) {
        spdlog::debug("stop: container {} still runs after {} s, sending SIGKILL", container.config.id, timeout_seconds);
        // SIGKILL to the first process ends every process of its PID namespace.
        kill(state.pid, SIGKILL);
        wait_until([&] { return !process_alive(state.pid, state.pid_start_ticks); }, record_timeout);
    }
    wait_for_recorded_exit(container, !ended);
}

void kill_container(const Paths& paths, const std::string& name_or_id, int signal) {
    auto container = require_container(paths, name_or_id);
    auto state = observed_state(container);
    if (state.status != "running") {
        throw container_not_running(container.config.name);
    }
    request_manual_stop(container);
    if (kill(state.pid, signal) != 0) throw_errno("cannot send signal " + std::to_string(signal) + " to the container");
    if (signal == SIGKILL) {
        wait_until([&] { return !process_alive(state.pid, state.pid_start_ticks); }, record_timeout);
        wait_for_recorded_exit(container, true);
    }
}

void restart_container(const Paths& paths, const std::string& name_or_id, int timeout_seconds) {
    stop_container(paths, name_or_id, timeout_seconds);
    start_container(paths, name_or_id);
}

int wait_container(const Paths& paths, const std::string& name_or_id) {
    auto container = require_container(paths, name_or_id);
    while (true) {
        auto current = find_container(paths, container.config.id);
        // A container started with --rm is gone once it ended; its code went with it.
        if (!current) throw Error("container " + container.config.name + " was removed before its exit code was read", {}, 1);
        auto state = observed_state(*current);
        if (state.status == "exited") return state.exit_code.value_or(0);
        std::this_thread::sleep_for(50ms);
    }
}

void kill_for_removal(const StoredContainer& container) {
    auto state = observed_state(container);
    if (state.status != "running" && state.status != "restarting") return;
    request_manual_stop(container);
    if (state.status == "running") {
        // SIGKILL to the first process ends the whole PID namespace.
        kill(state.pid, SIGKILL);
        wait_until([&] { return !process_alive(state.pid, state.pid_start_ticks); }, record_timeout);
    }
    // The owner removes the cgroup and writes state.json: let it finish before the folder goes.
    wait_until([&] { return !monitor_alive(read_state(container.paths)); }, record_timeout);
}

}  // namespace isolab::container
