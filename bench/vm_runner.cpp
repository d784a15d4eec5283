// The isolab VM path: vm::run with the workload's command, measured from the start
// request to the readiness line on the guest's serial console.
#include <algorithm>
#include <future>
#include <mutex>

#include "bench/runner.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"

namespace isolab::bench {

namespace {

PathDescription vm_description() {
    PathDescription description;
    description.name = "vm";
    description.role = "isolab";
    description.runtime = std::string("isolab ") + ISOLAB_VERSION + " (libvirt + QEMU)";
    description.started_means =
        "libvirt defined a domain, QEMU started, the guest kernel booted from the initramfs and isolab-init "
        "exec'd the workload inside the guest";
    description.definitions = {
        {figure::memory_peak, "peak PSS (proportional set size) of the QEMU process, sampled while the guest ran"},
        {figure::guest_memory, "RAM configured for the guest (--memory)"},
        {figure::disk, "the guest kernel plus the initramfs built from the image"},
        {figure::memory_pss, "peak PSS of the QEMU process over the whole run, the workload's idle time included"},
        {figure::cpu_run, "measured by the guest's clock; under TCG the guest's CPU is emulated, so the figure "
                          "measures QEMU's emulation, not the host CPU"},
        {figure::io_rootfs_write, "dd write with conv=fsync into the guest's root filesystem: the initramfs "
                                  "unpacked into guest RAM"},
    };
    return description;
}

class VmRunner final : public Runner {
public:
    VmRunner(image::Store& store, RunnerSettings settings)
        : store_(store), settings_(std::move(settings)), description_(vm_description()) {}

    const PathDescription& description() const override { return description_; }

    std::optional<std::string> unsupported_reason(const Workload& workload) override {
        // NOTE: once VM networking publishes a guest port on the host, the VM path can
        // check the same rule with port_readiness_holds (bench/readiness_probe.hpp)
        // against the published host port, as the container path does.
        if (workload.needs_published_port()) return std::string(vm_networking_missing);
        if (workload.stop_after_ready) {
            return std::string("not available: the workload keeps running once ready, and the VM path runs a "
                               "workload until it exits");
        }
        return std::nullopt;
    }

    ScalePoint run_together(const Workload& workload, int count) override {
        std::vector<std::future<RunSample>> futures;
        auto start = Clock::now();
        for (int i = 0; i < count; ++i) {
            futures.push_back(std::async(std::launch::async, [this, &workload] { return run(workload); }));
        }

        ScalePoint point;
        point.instances = count;
        std::string failure;
        for (auto& future : futures) {
            try {
                auto sample = future.get();
                // Each run's startup counts from its own start request, which follows `start`;
                // NOTE: the gap between the two (thread start) is not added, so all_ready
                // may be a few milliseconds short.
                point.figures[scale_figure::all_ready] =
                    std::max(point.figures[scale_figure::all_ready], sample.figures.at(figure::startup));
                point.figures[scale_figure::memory_total] += sample.figures.at(figure::memory_peak);
                point.figures[scale_figure::disk_total] += sample.figures.at(figure::disk);
            } catch (const Error& error) {
                if (failure.empty()) failure = error.what();
            }
        }
        spdlog::debug("compare: {} VMs took {:.0f} ms in all", count, milliseconds_between(start, Clock::now()));
        if (!failure.empty()) {
            point.available = false;
            point.missing_reason = "an instance failed: " + failure;
            point.figures.clear();
        }
        return point;
    }

    std::map<std::string, std::string> scale_definitions() const override {
        return {
            {scale_figure::all_ready, "the largest startup of N VMs started on N threads at once"},
            {scale_figure::memory_total, "sum of the N QEMU processes' PSS peaks"},
            {scale_figure::disk_total, "the guest kernel plus the initramfs, counted for each VM"},
        };
    }

    RunSample run(const Workload& workload) override {
        ReadinessWatcher watcher(workload);
        vm::VmOptions options;
        options.image = workload.image;
        options.command = workload.command;
        options.memory_bytes = settings_.memory_bytes;
        options.accelerator = settings_.accelerator;
        options.connect_uri = settings_.connect_uri;
        options.on_console_line = [&watcher](std::string_view line, Clock::time_point when) {
            watcher.on_line(line, when);
        };

        auto start = Clock::now();
        auto result = vm::run(store_, options);
        spdlog::debug("compare: domain {} exited with code {} ({})", result.name, result.exit_code,
                      result.accelerator.used);

        RunSample sample;
        sample.exit_code = result.exit_code;
        record_readiness(sample, watcher, start, description_.name);
        record_phases(sample, result.phases, start);
        if (sample.kernel.empty()) sample.kernel = result.guest_kernel;
        {
            std::lock_guard lock(verdict_mutex_);
            *settings_.vm_verdict = result.accelerator;
        }
        sample.accelerator = result.accelerator.used;
        sample.accelerator_reason = result.accelerator.reason;
        record_guest_uptime(sample, watcher, result);
        record_footprint(sample, result);
        for (const auto& [key, value] : watcher.reported_figures()) sample.figures[key] = value;
        return sample;
    }

private:
    static void record_guest_uptime(RunSample& sample, const ReadinessWatcher& watcher, const vm::VmResult& result) {
        double uptime_ms = result.guest_uptime_at_ready_ms;
        if (uptime_ms < 0) uptime_ms = watcher.ready_uptime_ms().value_or(-1);
        if (uptime_ms >= 0) sample.figures[figure::guest_uptime_at_ready] = uptime_ms;
    }

    static void record_footprint(RunSample& sample, const vm::VmResult& result) {
        sample.figures[figure::memory_peak] = static_cast<double>(result.qemu_pss_peak_bytes);
        sample.figures[figure::memory_pss] = static_cast<double>(result.qemu_pss_peak_bytes);
        sample.figures[figure::guest_memory] = static_cast<double>(result.memory_bytes);
        sample.figures[figure::disk_kernel] = static_cast<double>(result.kernel_bytes);
        sample.figures[figure::disk_initramfs] = static_cast<double>(result.initramfs_bytes);
        sample.figures[figure::disk] = static_cast<double>(result.kernel_bytes + result.initramfs_bytes);
    }

    image::Store& store_;
    RunnerSettings settings_;
    PathDescription description_;
    std::mutex verdict_mutex_;
};

}  // namespace

std::unique_ptr<Runner> make_vm_runner(image::Store& store, const RunnerSettings& settings) {
    return std::make_unique<VmRunner>(store, settings);
}

}  // namespace isolab::bench
