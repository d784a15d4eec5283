// The isolab VM path: vm::run with the workload's command, measured from the start
// request to the readiness rule (the readiness line on the guest's serial console, or
// an HTTP or TCP check through the guest's port published on the host).
#include <algorithm>
#include <future>
#include <mutex>

#include "bench/runner.hpp"
#include "bench/vm_instance.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"
#include "vmdriver/libvirt/connection.hpp"

namespace isolab::bench {

namespace {

// Names the libvirt driver that ran the domains: the embedded driver inside the isolab
// process, or the daemon (libvirtd) at the URI.
std::string libvirt_driver_name(const std::string& connect_uri) {
    auto root = vm::libvirt::embedded_root(connect_uri);
    if (!root.empty()) return "libvirt's embedded QEMU driver at " + root.string();
    return "libvirtd at " + connect_uri;
}

PathDescription vm_description(const std::string& connect_uri) {
    PathDescription description;
    description.name = "vm";
    description.role = "isolab";
    description.runtime = std::string("isolab ") + ISOLAB_VERSION + " (" + libvirt_driver_name(connect_uri) + " + QEMU)";
    description.started_means =
        "libvirt defined a domain, QEMU started, the guest kernel booted from the initramfs (io: from the VM's "
        "disk) and isolab-init exec'd the workload inside the guest; for web, the guest's port 80 answered "
        "HTTP 200 through the port isolab published on the host";
    description.definitions = {
        {figure::memory_peak, "peak PSS (proportional set size) of the QEMU process, sampled every 50 ms while "
                              "the guest ran"},
        {figure::guest_memory, "RAM configured for the guest (--memory)"},
        {figure::disk, "the guest kernel plus the initramfs built from the image; for io, which boots from the "
                       "VM's disk, the kernel, the small module initramfs, the image's qcow2 base and the VM's "
                       "qcow2 overlay (bytes allocated on the host)"},
        {figure::memory_pss, "peak PSS of the QEMU process over the whole run, the workload's idle time included"},
        {figure::cpu_run, "measured by the guest's clock; under TCG the guest's CPU is emulated, so the figure "
                          "measures QEMU's emulation, not the host CPU"},
        {figure::memory_guest_ram_touched, "Pss of QEMU's guest RAM block: the smallest mapping of the QEMU "
                                           "process at least as large as the guest RAM that is anonymous or a memfd "
                                           "and not executable, read from /proc/PID/smaps in the sample where the "
                                           "total PSS peaked"},
        {figure::memory_vmm_overhead, "the QEMU process's peak PSS less the guest RAM touched in that sample"},
        {figure::io_rootfs_write, "dd write with conv=fsync into the guest's root filesystem, which for io is the "
                                  "VM's disk: a virtio disk backed by a qcow2 overlay on the host. A VM has no "
                                  "volume here, so the io_volume figures are absent"},
    };
    return description;
}

// The bytes one VM adds on the host's disk: its initramfs and, for the disk form, its
// qcow2 overlay. The kernel and the qcow2 base are shared by every VM of the image.
double own_disk_bytes(const vm::VmResult& result) {
    return static_cast<double>(result.initramfs_bytes + result.disk_overlay_bytes);
}

class VmRunner final : public Runner {
public:
    VmRunner(image::Store& store, RunnerSettings settings)
        : store_(store), settings_(std::move(settings)), description_(vm_description(settings_.connect_uri)) {}

    const PathDescription& description() const override { return description_; }

    // Every workload runs: one ready by a port gets a NIC on the isolab bridge and its
    // port published on the host, and one that keeps running is destroyed once ready.
    std::optional<std::string> unsupported_reason(const Workload&) override { return std::nullopt; }

    RunSample run(const Workload& workload) override {
        auto instance = run_vm_instance(store_, settings_, workload, nullptr);
        note_accelerator(instance.result.accelerator, workload);
        return std::move(instance.sample);
    }

    // Each VM is a transient domain of its own name, booted by vm::run on its own thread.
    // Servers wait until every VM is ready, then all are destroyed; a VM that fails
    // destroys its domain, and the others end as usual.
    ScalePoint run_together(const Workload& workload, int count) override {
        ReadyGate gate(count);
        std::vector<std::future<VmInstance>> futures;
        auto start = Clock::now();
        for (int i = 0; i < count; ++i) {
            futures.push_back(std::async(std::launch::async, [this, &workload, &gate] {
                return run_vm_instance(store_, settings_, workload, &gate);
            }));
        }

        ScalePoint point;
        point.instances = count;
        std::map<std::string, double> figures;
        std::uint64_t shared_disk_bytes = 0;
        std::string failure;
        for (auto& future : futures) {
            try {
                auto instance = future.get();
                note_accelerator(instance.result.accelerator, workload);
                const auto& sample = instance.sample;
                figures[scale_figure::all_ready] =
                    std::max(figures[scale_figure::all_ready], milliseconds_between(start, *instance.ready_at));
                figures[scale_figure::memory_total] += sample.figures.at(figure::memory_peak);
                figures[scale_figure::disk_total] += own_disk_bytes(instance.result);
                shared_disk_bytes = instance.result.kernel_bytes + instance.result.disk_base_bytes;
            } catch (const Error& error) {
                if (failure.empty()) failure = error.what();
            }
        }
        if (!failure.empty()) {
            point.available = false;
            point.missing_reason = "an instance failed: " + failure;
            return point;
        }
        figures[scale_figure::disk_total] += static_cast<double>(shared_disk_bytes);
        point.figures = std::move(figures);
        return point;
    }

    std::map<std::string, std::string> scale_definitions() const override {
        return {
            {scale_figure::all_ready, "start request of the first of N VMs, each a transient domain booted on its "
                                      "own thread at once, until the last met the readiness rule"},
            {scale_figure::memory_total, "sum of the N QEMU processes' PSS peaks"},
            {scale_figure::disk_total, "the guest kernel and, for the disk form, the image's qcow2 base once, "
                                       "plus each VM's initramfs and qcow2 overlay"},
        };
    }

private:
    // Shares the accelerator with the bare QEMU runner and warns once when a CPU figure
    // comes from an emulated CPU.
    void note_accelerator(const vm::AcceleratorVerdict& verdict, const Workload& workload) {
        std::lock_guard lock(verdict_mutex_);
        *settings_.vm_verdict = verdict;
        bool reports_cpu = std::find(workload.reported_figures.begin(), workload.reported_figures.end(),
                                     figure::cpu_run) != workload.reported_figures.end();
        if (verdict.used == "tcg" && reports_cpu && !warned_emulated_cpu_) {
            warned_emulated_cpu_ = true;
            spdlog::warn("vm: {} was measured under TCG, so QEMU emulated every guest instruction: the figure "
                         "measures the emulator, not the host CPU, and is not comparable with the container's ({})",
                         figure::cpu_run, verdict.reason);
        }
    }

    image::Store& store_;
    RunnerSettings settings_;
    PathDescription description_;
    std::mutex verdict_mutex_;
    bool warned_emulated_cpu_ = false;
};

}  // namespace

std::unique_ptr<Runner> make_vm_runner(image::Store& store, const RunnerSettings& settings) {
    return std::make_unique<VmRunner>(store, settings);
}

}  // namespace isolab::bench
