// Bare qemu-system-x86_64 booting the same guest kernel and initramfs as the isolab VM,
// without libvirt, so the report can show what libvirt adds.
#include <charconv>

#include <fmt/format.h>

#include "bench/host_info.hpp"
#include "bench/line_process.hpp"
#include "bench/runner.hpp"
#include "bench/smaps.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/core/process.hpp"
#include "vmdriver/boot_plan.hpp"
#include "vmdriver/guest/cmdline.hpp"
#include "vmdriver/guest/initramfs.hpp"
#include "vmdriver/guest/kernel.hpp"
#include "vmdriver/libvirt/domain_xml.hpp"

namespace isolab::bench {

namespace fs = std::filesystem;

namespace {

constexpr const char* qemu_program = "qemu-system-x86_64";

PathDescription qemu_description() {
    PathDescription description;
    description.name = "qemu";
    description.role = "reference";
    description.counterpart = "vm";
    description.runtime = program_version(qemu_program);
    description.started_means =
        "qemu-system-x86_64 started directly (no libvirt), booted the same guest kernel and initramfs, and "
        "isolab-init exec'd the workload inside the guest";
    description.definitions = {
        {figure::memory_peak, "peak PSS of the qemu-system-x86_64 process, sampled every 20 ms"},
        {figure::guest_memory, "RAM configured for the guest (--memory)"},
        {figure::disk, "the guest kernel plus the initramfs built from the image"},
    };
    return description;
}

// A guest init phase line: "isolab-init: phase <name> uptime_ms=<ms>".
struct GuestPhase {
    std::string name;
    double uptime_ms = 0;
};

std::optional<GuestPhase> parse_guest_phase(std::string_view line) {
    constexpr std::string_view prefix = "isolab-init: phase ";
    if (!line.starts_with(prefix)) return std::nullopt;
    auto rest = line.substr(prefix.size());
    auto space = rest.find(' ');
    auto key = rest.find("uptime_ms=");
    if (space == std::string_view::npos || key == std::string_view::npos) return std::nullopt;

    auto number = rest.substr(key + 10);
    while (!number.empty() && (number.back() == '\r' || number.back() == ' ')) number.remove_suffix(1);
    double uptime_ms = 0;
    auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), uptime_ms);
    if (error != std::errc{}) return std::nullopt;
    return GuestPhase{std::string(rest.substr(0, space)), uptime_ms};
}

class QemuRunner final : public Runner {
public:
    QemuRunner(image::Store& store, RunnerSettings settings)
        : store_(store), settings_(std::move(settings)), description_(qemu_description()) {}

    const PathDescription& description() const override { return description_; }

    std::optional<std::string> unavailable_reason() override {
        if (!program_available(qemu_program)) return "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)";
        return std::nullopt;
    }

    std::optional<std::string> unsupported_reason(const Workload& workload) override {
        if (workload.needs_published_port()) {
            return std::string("not available: bare QEMU runs the guest with -nodefaults and no -netdev, so the "
                               "guest has no NIC and the host cannot reach its port; only the isolab VM path "
                               "attaches the guest to the isolab0 bridge and publishes its port");
        }
        return Runner::unsupported_reason(workload);
    }

    RunSample run(const Workload& workload) override {
        auto image = store_.resolve(workload.image);
        auto lowerdirs = store_.lowerdirs(image);
        auto kernel = vm::guest::ensure_kernel(store_.paths());
        auto image_part = vm::guest::ensure_image_initramfs(store_.paths(), image.config_digest, lowerdirs);

        TemporaryDirectory folder(store_.paths().tmp(), "isolab-bench-qemu-");
        auto initramfs = folder.path() / "initramfs.cpio";
        auto guest_workload = vm::guest::workload_for_image(image, workload.command, lowerdirs);
        auto initramfs_bytes = vm::guest::write_run_initramfs(image_part.path, guest_workload, initramfs);

        auto [accelerator, reason] = choose_accelerator();
        ReadinessWatcher watcher(workload);
        std::vector<GuestPhase> guest_phases;
        std::uint64_t pss_peak = 0;
        StreamOptions stream;
        stream.on_tick = [&pss_peak](pid_t pid) {
            if (auto rollup = read_smaps_rollup(pid)) pss_peak = std::max(pss_peak, rollup->pss_bytes);
        };

        auto start = Clock::now();
        RunSample sample;
        sample.exit_code = run_streaming(
            qemu_arguments(kernel.boot_image, initramfs, accelerator),
            [&](std::string_view line, Clock::time_point when) {
                spdlog::debug("qemu: {}", line);
                if (auto phase = parse_guest_phase(line)) guest_phases.push_back(*phase);
                watcher.on_line(line, when);
            },
            stream);
        sample.phases.push_back({"exit", milliseconds_between(start, Clock::now()), "host"});

        record_readiness(sample, watcher, start, "qemu");
        record_guest_phases(sample, watcher, guest_phases);
        sample.accelerator = accelerator;
        sample.accelerator_reason = reason;
        sample.figures[figure::memory_peak] = static_cast<double>(pss_peak);
        sample.figures[figure::guest_memory] = static_cast<double>(settings_.memory_bytes);
        sample.figures[figure::disk_kernel] = static_cast<double>(kernel.boot_image_bytes);
        sample.figures[figure::disk_initramfs] = static_cast<double>(initramfs_bytes);
        sample.figures[figure::disk] = static_cast<double>(kernel.boot_image_bytes + initramfs_bytes);
        return sample;
    }

private:
    std::pair<std::string, std::string> choose_accelerator() const {
        if (settings_.accelerator == vm::Accelerator::kvm) return {"kvm", "requested with --accel kvm"};
        if (settings_.accelerator == vm::Accelerator::tcg) return {"tcg", "requested with --accel tcg"};
        const auto& verdict = *settings_.vm_verdict;
        if (verdict.used.empty()) return {"tcg", "the isolab VM had not chosen an accelerator yet; TCG is always available"};
        return {verdict.used, "the same as the isolab VM: " + verdict.reason};
    }

    std::vector<std::string> qemu_arguments(const fs::path& kernel, const fs::path& initramfs,
                                            const std::string& accelerator) const {
        // Guest RAM backed as the isolab VM's is, so both boots touch host memory alike.
        bool small_pages = vm::libvirt::uses_small_page_ram(accelerator);
        std::vector<std::string> arguments{qemu_program, "-name", "isolab-bench-qemu", "-machine",
                                           vm::qemu_machine_option(accelerator, small_pages),
                                           "-cpu", accelerator == "kvm" ? "host" : "max"};
        auto ram = vm::qemu_ram_arguments(settings_.memory_bytes >> 20, small_pages);
        arguments.insert(arguments.end(), ram.begin(), ram.end());
        arguments.insert(arguments.end(),
                         {"-smp", "1", "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
                          "-monitor", "none", "-no-reboot", "-kernel", kernel.string(), "-initrd", initramfs.string(),
                          "-append", vm::guest::kernel_cmdline({.tcg = accelerator == "tcg"})});
        return arguments;
    }

    // Guest phases carry guest uptime. They are placed on the host clock by anchoring the
    // uptime printed with the readiness line at the host time that line arrived.
    static void record_guest_phases(RunSample& sample, const ReadinessWatcher& watcher,
                                    const std::vector<GuestPhase>& phases) {
        auto ready_uptime_ms = watcher.ready_uptime_ms();
        if (!ready_uptime_ms) return;
        sample.figures[figure::guest_uptime_at_ready] = *ready_uptime_ms;

        double ready_host_ms = sample.figures.at(figure::startup);
        double kernel_start_ms = ready_host_ms - *ready_uptime_ms;
        sample.phases.push_back({"kernel-start", kernel_start_ms, "guest"});
        for (const auto& phase : phases) {
            sample.phases.push_back({phase.name, kernel_start_ms + phase.uptime_ms, "guest"});
        }
    }

    image::Store& store_;
    RunnerSettings settings_;
    PathDescription description_;
};

}  // namespace

std::unique_ptr<Runner> make_qemu_runner(image::Store& store, const RunnerSettings& settings) {
    return std::make_unique<QemuRunner>(store, settings);
}

}  // namespace isolab::bench
