// The isolab VM path: vm::run with the workload's command, measured from the start
// request to the readiness line on the guest's serial console.
#include "bench/runner.hpp"
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
    };
    return description;
}

class VmRunner final : public Runner {
public:
    VmRunner(image::Store& store, RunnerSettings settings)
        : store_(store), settings_(std::move(settings)), description_(vm_description()) {}

    const PathDescription& description() const override { return description_; }

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
        *settings_.vm_verdict = result.accelerator;
        sample.accelerator = result.accelerator.used;
        sample.accelerator_reason = result.accelerator.reason;
        record_guest_uptime(sample, watcher, result);
        record_footprint(sample, result);
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
        sample.figures[figure::guest_memory] = static_cast<double>(result.memory_bytes);
        sample.figures[figure::disk_kernel] = static_cast<double>(result.kernel_bytes);
        sample.figures[figure::disk_initramfs] = static_cast<double>(result.initramfs_bytes);
        sample.figures[figure::disk] = static_cast<double>(result.kernel_bytes + result.initramfs_bytes);
    }

    image::Store& store_;
    RunnerSettings settings_;
    PathDescription description_;
};

}  // namespace

std::unique_ptr<Runner> make_vm_runner(image::Store& store, const RunnerSettings& settings) {
    return std::make_unique<VmRunner>(store, settings);
}

}  // namespace isolab::bench
