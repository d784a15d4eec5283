#include "bench/container_instance.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <thread>

#include "bench/readiness_probe.hpp"
#include "bench/smaps.hpp"
#include "runtime/container/lifecycle.hpp"
#include "runtime/container/record.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/linux/cgroup_stats.hpp"

namespace isolab::bench {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr auto poll_interval = 10ms;
constexpr auto sample_interval = 50ms;

// The thread running container::run. The destructor kills a container still running
// and joins, so no container outlives a failed measurement.
class ContainerThread {
public:
    ContainerThread(image::Store& store, container::RunOptions options)
        : paths_(store.paths()), name_(options.name), options_(std::move(options)) {
        thread_ = std::thread([this, &store] {
            try {
                result_ = container::run(store, options_);
            } catch (...) {
                failure_ = std::current_exception();
            }
            finished_ = true;
        });
    }

    ~ContainerThread() {
        if (thread_.joinable()) {
            kill();
            thread_.join();
        }
    }

    ContainerThread(const ContainerThread&) = delete;
    ContainerThread& operator=(const ContainerThread&) = delete;

    bool finished() const { return finished_; }

    void kill() {
        if (finished_) return;
        // The container may not be recorded as running yet, or may have just exited.
        for (int attempt = 0; attempt < 500 && !finished_; ++attempt) {
            try {
                container::kill_container(paths_, name_, SIGKILL);
                return;
            } catch (const Error& error) {
                spdlog::debug("compare: kill {}: {}", name_, error.what());
            }
            std::this_thread::sleep_for(poll_interval);
        }
    }

    // Waits for the end of container::run and returns its result; rethrows its error.
    container::RunResult join() {
        thread_.join();
        if (failure_) std::rethrow_exception(failure_);
        return result_;
    }

private:
    Paths paths_;
    std::string name_;
    container::RunOptions options_;
    container::RunResult result_;
    std::exception_ptr failure_;
    std::atomic<bool> finished_ = false;
    std::thread thread_;
};

container::RunOptions instance_options(const RunnerSettings& settings, const Workload& workload, int host_port,
                                       ReadinessWatcher& watcher) {
    container::RunOptions options;
    options.image = workload.image;
    options.command = workload.command;
    options.name = "isolab-bench-" + random_hex_id().substr(0, 12);
    options.remove = true;
    options.memory_limit = settings.memory_bytes;
    options.on_output_line = [&watcher](std::string_view line, bool, Clock::time_point when) {
        watcher.on_line(line, when);
    };
    if (workload.needs_published_port()) {
        options.network = "bridge";
        options.publish = {"127.0.0.1:" + std::to_string(host_port) + ":" + std::to_string(workload.port)};
    }
    if (!workload.volume_target.empty()) options.volumes = {workload.volume_target};
    return options;
}

// Memory of the container's cgroup and processes, the largest of all samples.
class MemorySampler {
public:
    MemorySampler(const Paths& paths, std::string name) : paths_(paths), name_(std::move(name)) {}

    void sample() {
        try {
            if (cgroup_.empty()) {
                auto stored = container::find_container(paths_, name_);
                if (!stored) return;
                cgroup_ = "isolab-" + stored->config.id;
                host_ = kernel::detect_cgroups();
            }
            auto usage = kernel::read_cgroup_usage(host_, cgroup_);
            std::uint64_t pss = 0;
            for (auto pid : kernel::cgroup_processes(host_, cgroup_)) {
                if (auto rollup = read_smaps_rollup(pid)) pss += rollup->pss_bytes;
            }
            working_set_ = std::max(working_set_.value_or(0), usage.memory_bytes);
            pss_ = std::max(pss_.value_or(0), pss);
        } catch (const Error& error) {
            // The container ended between two samples: its cgroup is gone.
            spdlog::debug("compare: memory sample of {}: {}", name_, error.what());
        }
    }

    void record(RunSample& sample) const {
        if (working_set_) sample.figures[figure::memory_working_set] = static_cast<double>(*working_set_);
        if (pss_ && *pss_ > 0) sample.figures[figure::memory_pss] = static_cast<double>(*pss_);
    }

private:
    Paths paths_;
    std::string name_;
    std::string cgroup_;
    kernel::CgroupHost host_;
    std::optional<std::uint64_t> working_set_;
    std::optional<std::uint64_t> pss_;
};


// "S futex_wait_queue" for a process or thread: its state letter from /proc/.../stat and
// the kernel function it sleeps in from /proc/.../wchan; empty when it is gone.
std::string task_state(const fs::path& proc_entry) {
    std::string stat;
    std::string wchan;
    try {
        stat = read_file(proc_entry / "stat");
        wchan = read_file(proc_entry / "wchan");
    } catch (const Error&) {
        return {};
    }
    auto name_end = stat.rfind(") ");
    if (name_end == std::string::npos || name_end + 2 >= stat.size()) return {};
    auto name_start = stat.find(" (");
    std::string name = name_start == std::string::npos ? "?" : stat.substr(name_start + 2, name_end - name_start - 2);
    return name + " " + stat[name_end + 2] + " in " + (wchan.empty() || wchan == "0" ? "-" : wchan);
}

// The parent pid of /proc/<pid>, or 0 when unreadable.
pid_t parent_of(const fs::path& proc_entry) {
    try {
        auto stat = read_file(proc_entry / "stat");
        auto name_end = stat.rfind(") ");
        if (name_end == std::string::npos) return 0;
        char state = 0;
        int parent = 0;
        if (std::sscanf(stat.c_str() + name_end + 2, "%c %d", &state, &parent) != 2) return 0;
        return parent;
    } catch (const Error&) {
        return 0;
    }
}

// Describes what a container that was not ready by the deadline was doing, for the error
// message: its recorded status, and the state and wait channel of this
// process's threads and child processes. A deadlock between two containers started on
// two threads shows as threads or first processes asleep in futex_wait or pipe_read.
std::string describe_not_ready(const Paths& paths, const std::string& name) {
    std::string text = "container " + name + ": container::run had not returned";
    try {
        auto stored = container::find_container(paths, name);
        text += stored ? ", status " + stored->state.status + ", pid " + std::to_string(stored->state.pid)
                       : ", no record yet";
    } catch (const Error& error) {
        text += std::string(", record unreadable: ") + error.what();
    }

    std::string threads;
    std::error_code error;
    for (const auto& task : fs::directory_iterator("/proc/self/task", error)) {
        auto state = task_state(task.path());
        if (!state.empty()) threads += (threads.empty() ? "" : ", ") + task.path().filename().string() + " " + state;
    }
    text += "; threads: " + (threads.empty() ? std::string("-") : threads);

    std::string children;
    auto self = getpid();
    for (const auto& entry : fs::directory_iterator("/proc", error)) {
        auto file = entry.path().filename().string();
        if (file.empty() || file.find_first_not_of("0123456789") != std::string::npos) continue;
        if (parent_of(entry.path()) != self) continue;
        auto state = task_state(entry.path());
        if (!state.empty()) children += (children.empty() ? "" : ", ") + file + " " + state;
    }
    return text + "; child processes: " + (children.empty() ? std::string("-") : children);
}

// The outcome of the last readiness check through the published port, for the error.
std::string describe_port(const Workload& workload, int host_port) {
    std::string where = "127.0.0.1:" + std::to_string(host_port);
    if (workload.readiness == ReadinessKind::http_path) {
        auto status = http_get_status("127.0.0.1", host_port, workload.http_path);
        return status ? where + " answered HTTP " + std::to_string(*status) : where + " gave no HTTP reply";
    }
    return where + (tcp_port_accepts("127.0.0.1", host_port) ? " accepts TCP" : " refuses TCP");
}

}  // namespace

ContainerInstance run_container_instance(image::Store& store, const RunnerSettings& settings,
                                         const Workload& workload, ReadyGate* gate) {
    GateArrival arrival(gate);
    ReadinessWatcher watcher(workload);
    int host_port = workload.needs_published_port() ? pick_free_port() : 0;
    auto options = instance_options(settings, workload, host_port, watcher);
    MemorySampler sampler(store.paths(), options.name);

    ContainerInstance instance;
    instance.started = Clock::now();
    auto deadline = instance.started + container_ready_timeout;
    ContainerThread thread(store, options);

    while (!thread.finished() && Clock::now() < deadline) {
        if (workload.needs_published_port()) {
            if (port_readiness_holds(workload, "127.0.0.1", host_port)) instance.ready_at = Clock::now();
        } else {
            instance.ready_at = watcher.ready_at();
        }
        if (instance.ready_at) break;
        std::this_thread::sleep_for(poll_interval);
    }
    if (!instance.ready_at && !workload.needs_published_port()) instance.ready_at = watcher.ready_at();
    arrival.arrive();
    // Taken when the deadline passed, before the container is killed, so that a stuck
    // start is still stuck.
    std::string not_ready_state;
    if (!instance.ready_at && !thread.finished()) {
        not_ready_state = describe_not_ready(store.paths(), options.name);
        if (workload.needs_published_port()) not_ready_state += "; " + describe_port(workload, host_port);
    }

    if (instance.ready_at) {
        sampler.sample();
        while (!workload.stop_after_ready && !thread.finished()) {
            std::this_thread::sleep_for(sample_interval);
            sampler.sample();
        }
        if (gate) gate->wait_until(deadline);
    }
    thread.kill();
    auto result = thread.join();
    spdlog::debug("compare: container {} exited with code {}", result.id.substr(0, 12), result.exit_code);

    auto& sample = instance.sample;
    sample.exit_code = result.exit_code;
    if (!not_ready_state.empty()) {
        throw Error("container: the workload did not meet its readiness rule (" + workload.readiness_rule() +
                        ") within " + std::to_string(container_ready_timeout.count()) + " s and was killed (exit code " +
                        std::to_string(result.exit_code) + "); last output: " + last_output(watcher) +
                        "; state when the wait ended: " + not_ready_state,
                    "run the image with isolab run (and -p for a port) to see its output");
    }
    if (workload.needs_published_port()) {
        if (!instance.ready_at) {
            throw Error("container: the workload never met its readiness rule (" + workload.readiness_rule() +
                            ") and exited with code " + std::to_string(result.exit_code) + "; last output: " +
                            last_output(watcher),
                        "run the image with isolab run -p to see its output");
        }
        double startup_ms = milliseconds_between(instance.started, *instance.ready_at);
        sample.figures[figure::startup] = startup_ms;
        sample.phases.push_back({"ready", startup_ms, "host"});
        sample.kernel = watcher.kernel_release();
    } else {
        record_readiness(sample, watcher, instance.started, "container");
    }
    record_phases(sample, result.phases, instance.started);
    sample.cgroup_version = result.cgroup_version;
    for (const auto& [key, value] : watcher.reported_figures()) sample.figures[key] = value;
    sample.notes = watcher.notes();
    sampler.record(sample);
    instance.memory_peak_bytes = result.memory_peak_bytes;
    instance.upper_dir_bytes = result.upper_dir_bytes;
    return instance;
}

}  // namespace isolab::bench
