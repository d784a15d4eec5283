#include "bench/vm_instance.hpp"

#include <atomic>
#include <exception>
#include <thread>

#include "bench/readiness_probe.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"

namespace isolab::bench {

using namespace std::chrono_literals;

namespace {

constexpr auto poll_interval = 10ms;

// The thread running vm::run. stop() makes vm::run destroy the domain within one sample
// interval, and the destructor stops and joins, so no domain outlives a failed run.
class VmThread {
public:
    VmThread(image::Store& store, vm::VmOptions options) : options_(std::move(options)) {
        options_.stop_requested = [this] { return stop_.load(); };
        thread_ = std::thread([this, &store] {
            try {
                result_ = vm::run(store, options_);
            } catch (...) {
                failure_ = std::current_exception();
            }
            finished_ = true;
        });
    }

    ~VmThread() {
        if (thread_.joinable()) {
            stop();
            thread_.join();
        }
    }

    VmThread(const VmThread&) = delete;
    VmThread& operator=(const VmThread&) = delete;

    bool finished() const { return finished_; }
    void stop() { stop_ = true; }

    // Waits for the end of vm::run and returns its result; rethrows its error.
    vm::VmResult join() {
        thread_.join();
        if (failure_) std::rethrow_exception(failure_);
        return result_;
    }

private:
    vm::VmOptions options_;
    vm::VmResult result_;
    std::exception_ptr failure_;
    std::atomic<bool> stop_ = false;
    std::atomic<bool> finished_ = false;
    std::thread thread_;
};

vm::VmOptions instance_options(const RunnerSettings& settings, const Workload& workload, int host_port,
                               ReadinessWatcher& watcher) {
    vm::VmOptions options;
    options.image = workload.image;
    options.command = workload.command;
    options.name = "bench-" + random_hex_id().substr(0, 12);
    options.memory_bytes = settings.memory_bytes;
    options.accelerator = settings.accelerator;
    options.connect_uri = settings.connect_uri;
    options.form = vm_root_form(workload);
    options.timeout = vm_ready_timeout;
    options.on_console_line = [&watcher](std::string_view line, Clock::time_point when) { watcher.on_line(line, when); };
    if (workload.needs_published_port()) {
        options.network = "bridge";
        options.publish = {"127.0.0.1:" + std::to_string(host_port) + ":" + std::to_string(workload.port)};
    }
    return options;
}

void record_guest_uptime(RunSample& sample, const ReadinessWatcher& watcher, const vm::VmResult& result) {
    double uptime_ms = result.guest_uptime_at_ready_ms;
    if (uptime_ms < 0) uptime_ms = watcher.ready_uptime_ms().value_or(-1);
    if (uptime_ms >= 0) sample.figures[figure::guest_uptime_at_ready] = uptime_ms;
}

// The QEMU process's peak PSS, split into the guest RAM touched and the rest (QEMU's own
// memory), with the configured guest RAM beside it.
void record_footprint(RunSample& sample, const vm::VmResult& result) {
    auto pss = static_cast<double>(result.qemu_pss_peak_bytes);
    sample.figures[figure::memory_peak] = pss;
    sample.figures[figure::memory_pss] = pss;
    if (result.guest_ram_pss_at_peak_bytes && result.qemu_pss_peak_bytes > 0) {
        auto guest = static_cast<double>(*result.guest_ram_pss_at_peak_bytes);
        sample.figures[figure::memory_guest_ram_touched] = guest;
        sample.figures[figure::memory_vmm_overhead] = pss - guest;
    }
    sample.figures[figure::guest_memory] = static_cast<double>(result.memory_bytes);
    sample.figures[figure::disk_kernel] = static_cast<double>(result.kernel_bytes);
    sample.figures[figure::disk_initramfs] = static_cast<double>(result.initramfs_bytes);
    auto disk = result.kernel_bytes + result.initramfs_bytes;
    if (result.disk_overlay_bytes > 0) {
        sample.figures[figure::disk_base] = static_cast<double>(result.disk_base_bytes);
        sample.figures[figure::disk_overlay] = static_cast<double>(result.disk_overlay_bytes);
        disk += result.disk_base_bytes + result.disk_overlay_bytes;
    }
    sample.figures[figure::disk] = static_cast<double>(disk);
}

}  // namespace

vm::guest::RootForm vm_root_form(const Workload& workload) {
    return workload.volume_target.empty() ? vm::guest::RootForm::initramfs : vm::guest::RootForm::disk;
}

VmInstance run_vm_instance(image::Store& store, const RunnerSettings& settings, const Workload& workload,
                           ReadyGate* gate) {
    GateArrival arrival(gate);
    ReadinessWatcher watcher(workload);
    bool by_port = workload.needs_published_port();
    int host_port = by_port ? pick_free_port() : 0;

    VmInstance instance;
    instance.started = Clock::now();
    auto deadline = instance.started + vm_ready_timeout;
    VmThread thread(store, instance_options(settings, workload, host_port, watcher));

    while (!thread.finished() && Clock::now() < deadline) {
        if (by_port) {
            if (port_readiness_holds(workload, "127.0.0.1", host_port)) instance.ready_at = Clock::now();
        } else {
            instance.ready_at = watcher.ready_at();
        }
        if (instance.ready_at) break;
        std::this_thread::sleep_for(poll_interval);
    }
    if (!instance.ready_at && !by_port) instance.ready_at = watcher.ready_at();
    arrival.arrive();

    // A workload that exits on its own runs to its end, and a server is stopped once ready.
    // A VM that never became ready is destroyed now, not at vm::run's own timeout.
    if (instance.ready_at && workload.stop_after_ready && gate) gate->wait_until(deadline);
    if (!instance.ready_at || workload.stop_after_ready) thread.stop();
    instance.result = thread.join();
    const auto& result = instance.result;
    spdlog::debug("compare: domain {} ended with exit code {}{} ({})", result.name, result.exit_code,
                  result.stopped_on_request ? ", destroyed once ready" : "", result.accelerator.used);

    auto& sample = instance.sample;
    sample.exit_code = result.exit_code;
    if (by_port) {
        if (!instance.ready_at) {
            throw Error("vm: the workload never met its readiness rule (" + workload.readiness_rule() + ") within " +
                            std::to_string(vm_ready_timeout.count()) + " s on host port " + std::to_string(host_port) +
                            "; last output: " + last_output(watcher),
                        "run the image with isolab vm run -d -p to see its output");
        }
        double startup_ms = milliseconds_between(instance.started, *instance.ready_at);
        sample.figures[figure::startup] = startup_ms;
        sample.phases.push_back({"ready", startup_ms, "host"});
        sample.kernel = watcher.kernel_release();
    } else {
        record_readiness(sample, watcher, instance.started, "vm");
    }
    record_phases(sample, result.phases, instance.started);
    if (sample.kernel.empty()) sample.kernel = result.guest_kernel;
    sample.accelerator = result.accelerator.used;
    sample.accelerator_reason = result.accelerator.reason;
    record_guest_uptime(sample, watcher, result);
    record_footprint(sample, result);
    for (const auto& [key, value] : watcher.reported_figures()) sample.figures[key] = value;
    sample.notes = watcher.notes();
    return instance;
}

}  // namespace isolab::bench
