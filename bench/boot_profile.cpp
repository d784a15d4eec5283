#include "bench/boot_profile.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <map>
#include <thread>
#include <tuple>

#include <fmt/format.h>

#include "bench/line_process.hpp"
#include "bench/svg_chart.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/interrupt.hpp"
#include "runtime/core/log.hpp"
#include "vmdriver/guest/disk.hpp"
#include "vmdriver/guest/initramfs.hpp"
#include "vmdriver/guest/kernel.hpp"

namespace isolab::bench {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kWorkloadStartLine = "isolab-init: phase workload-start";
constexpr std::string_view kInitStartLine = "isolab-init: phase init-start uptime_ms=";
constexpr std::string_view kExitLine = "isolab-init: exit code=";
constexpr std::chrono::minutes kBootTimeout{5};
// Boots of one qemu step that may stop before the workload starts. Under TCG on a loaded
// host a boot of the default step panicked 0.07 s into the kernel, so such a boot is
// repeated and only boots that reach the workload are timed.
// NOTE: the cause is not confirmed. The default command line keeps the IO-APIC timer
// check that the trimmed one skips with no_timer_check, which is the likely one.
constexpr int kQemuAttempts = 3;

// A qemu boot that ended before isolab-init started the workload.
class EarlyStop : public Error {
public:
    using Error::Error;
};

// The guest files of every qemu variant, removed with the temporary folder.
struct PreparedGuest {
    std::unique_ptr<TemporaryDirectory> folder;
    vm::ProfileFiles files;
    std::filesystem::path disk_base;  // the disk form: the image's cached qcow2 base
};

image::Image resolve_image(image::Store& store, const std::string& reference) {
    if (image::normalize_reference(reference) == "busybox:latest" && !store.find(reference)) {
        return store.ensure_busybox();
    }
    return store.resolve(reference);
}

PreparedGuest prepare_guest(image::Store& store, const BootProfileOptions& options) {
    const Paths& paths = store.paths();
    auto kernel = vm::guest::ensure_kernel(paths);
    auto image = resolve_image(store, options.image);
    auto lowerdirs = store.lowerdirs(image);
    auto workload = vm::guest::workload_for_image(image, options.command, lowerdirs);

    PreparedGuest guest;
    fs::create_directories(paths.tmp());
    guest.folder = std::make_unique<TemporaryDirectory>(paths.tmp(), "isolab-boot-profile-");
    guest.files.bzimage = kernel.bzimage;
    if (kernel.boot_format == "pvh-elf") {
        guest.files.vmlinux = kernel.boot_image;
    } else {
        spdlog::warn("no PVH vmlinux for kernel {}: the pvh-vmlinux step boots the bzImage ({})", kernel.release,
                     kernel.fallback_reason);
    }

    guest.files.initramfs_plain = guest.folder->path() / "initramfs.cpio";
    guest.files.initramfs_gzip = guest.folder->path() / "initramfs.cpio.gz";
    constexpr auto gzip = vm::guest::InitramfsCompression::gzip;
    if (options.form == vm::guest::RootForm::disk) {
        guest.disk_base = vm::guest::ensure_disk_base(paths, image.config_digest, lowerdirs).path;
        vm::guest::write_disk_initramfs(kernel, workload, "/dev/vda", guest.files.initramfs_plain);
        vm::guest::write_disk_initramfs(kernel, workload, "/dev/vda", guest.files.initramfs_gzip, gzip);
        return guest;
    }
    auto plain_part = vm::guest::ensure_image_initramfs(paths, image.config_digest, lowerdirs);
    auto gzip_part = vm::guest::ensure_image_initramfs(paths, image.config_digest, lowerdirs, gzip);
    vm::guest::write_run_initramfs(plain_part.path, workload, guest.files.initramfs_plain);
    vm::guest::write_run_initramfs(gzip_part.path, workload, guest.files.initramfs_gzip, gzip);
    return guest;
}

// The start-to-ready time of one boot in ms, and its phases.
struct TimedBoot {
    double ready_ms = 0;
    std::vector<PhaseMark> phases;
};

// The guest phases of a bare QEMU boot, in ms since QEMU was started. kernel-start is
// the arrival of the init-start line minus the guest uptime that line reports.
std::vector<PhaseMark> qemu_phases(Clock::time_point start, std::optional<Clock::time_point> first_line,
                                   std::optional<Clock::time_point> init_start, double init_start_uptime_ms,
                                   Clock::time_point ready) {
    std::vector<PhaseMark> phases;
    if (first_line) phases.push_back({"first-serial-byte", milliseconds_between(start, *first_line), "host"});
    if (init_start) {
        double init_ms = milliseconds_between(start, *init_start);
        if (init_start_uptime_ms >= 0) phases.push_back({"kernel-start", init_ms - init_start_uptime_ms, "guest"});
        phases.push_back({"init-start", init_ms, "host"});
    }
    phases.push_back({"workload-start", milliseconds_between(start, ready), "host"});
    return phases;
}

// Boots one qemu variant; returns its start-to-ready time and phases.
TimedBoot boot_once_with_qemu(const vm::BootVariant& variant, const vm::ProfileFiles& files,
                              const vm::ProfileMachine& machine) {
    auto arguments = vm::qemu_boot_arguments(variant, files, machine);
    std::optional<Clock::time_point> ready;
    std::optional<Clock::time_point> first_line;
    std::optional<Clock::time_point> init_start;
    double init_start_uptime_ms = -1;
    std::optional<int> workload_exit;
    std::string last_line;
    std::string panic_line;

    auto start = Clock::now();
    int qemu_exit = run_streaming(
        arguments,
        [&](std::string_view line, Clock::time_point when) {
            while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            spdlog::debug("boot-profile {}: {}", variant.name, line);
            if (!first_line) first_line = when;
            last_line = std::string(line);
            if (line.find("Kernel panic") != std::string_view::npos) panic_line = last_line;
            if (line.starts_with(kInitStartLine) && !init_start) {
                init_start = when;
                auto digits = line.substr(kInitStartLine.size());
                long long uptime = -1;
                if (std::from_chars(digits.data(), digits.data() + digits.size(), uptime).ec == std::errc()) {
                    init_start_uptime_ms = static_cast<double>(uptime);
                }
            }
            if (line.starts_with(kWorkloadStartLine) && !ready) ready = when;
            if (line.starts_with(kExitLine)) {
                int code = -1;
                auto digits = line.substr(kExitLine.size());
                std::from_chars(digits.data(), digits.data() + digits.size(), code);
                workload_exit = code;
            }
        },
        {.timeout = kBootTimeout});

    // QEMU exits with 0 after the guest powers off or panics (-no-reboot): another code is
    // QEMU's own failure, such as memory it cannot allocate, which a new boot repeats.
    if (!ready && qemu_exit != 0 && !init_start) {
        throw Error(fmt::format("boot-profile step {}: QEMU failed with exit code {}: {}", variant.name, qemu_exit,
                                last_line),
                    "the text after the exit code is QEMU's message: fix what it names, such as a --memory the "
                    "host cannot give");
    }
    if (!ready) {
        throw EarlyStop(fmt::format("boot-profile step {}: the guest stopped before the workload started (QEMU exit "
                                    "{}, console: '{}')",
                                    variant.name, qemu_exit, panic_line.empty() ? last_line : panic_line),
                    "run with --log-level debug to see the console");
    }
    if (workload_exit.value_or(-1) != 0) {
        throw Error(fmt::format("boot-profile step {}: the workload exited with code {}", variant.name,
                                workload_exit.value_or(-1)),
                    "profile a command that exits 0, such as true");
    }
    return {milliseconds_between(start, *ready), qemu_phases(start, first_line, init_start, init_start_uptime_ms, *ready)};
}

// Boots one qemu variant, again after a boot that stopped early, up to kQemuAttempts.
// In the disk form each boot gets a fresh overlay, made before the clock starts, as a
// user of bare QEMU has the disk ready before starting it.
TimedBoot boot_with_qemu(const vm::BootVariant& variant, const PreparedGuest& guest,
                         const vm::ProfileMachine& machine) {
    for (int attempt = 1;; ++attempt) {
        vm::ProfileFiles files = guest.files;
        std::optional<vm::guest::DiskOverlay> overlay;
        if (!guest.disk_base.empty()) {
            overlay.emplace(guest.disk_base, guest.folder->path() / "disk.qcow2");
            files.disk = overlay->path();
        }
        try {
            return boot_once_with_qemu(variant, files, machine);
        } catch (const EarlyStop& error) {
            if (attempt == kQemuAttempts) throw;
            std::fprintf(stderr, "isolab: %s; booting again (attempt %d of %d)\n", error.what(), attempt + 1,
                         kQemuAttempts);
        }
    }
}

// Boots the guest as `isolab vm run` does; returns start-to-ready, the phases and the
// accelerator.
std::pair<TimedBoot, std::string> boot_with_libvirt(image::Store& store, const BootProfileOptions& options,
                                                 const vm::BootVariant& variant) {
    vm::VmOptions vm_options;
    vm_options.image = options.image;
    vm_options.command = options.command;
    vm_options.accelerator = options.accelerator;
    vm_options.connect_uri =
        variant.embedded_driver ? vm::embedded_driver_uri(store.paths()) : options.connect_uri;
    vm_options.memory_bytes = options.memory_bytes;
    vm_options.form = options.form;
    vm_options.on_console_line = [](std::string_view line, Clock::time_point) {
        spdlog::debug("boot-profile libvirt: {}", line);
    };
    auto result = vm::run(store, vm_options);
    if (result.exit_code != 0) {
        throw Error(fmt::format("boot-profile step libvirt: the workload exited with code {}", result.exit_code),
                    "profile a command that exits 0, such as true");
    }
    double ready_ms = result.phases.at("workload-start");
    if (ready_ms < 0) throw Error("boot-profile step libvirt: isolab-init reported no workload-start phase");
    return {{ready_ms, result.phases.marks()}, result.accelerator.used};
}

// Sleeps `seconds` in short steps; throws at an interrupt.
void pause_unless_interrupted(double seconds) {
    auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    while (Clock::now() < until) {
        if (InterruptGuard::requested()) throw Error("interrupted during --pause", {}, InterruptGuard::exit_code());
        std::this_thread::sleep_for(std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(50)));
    }
}

const BootProfileRow* find_row(const BootProfile& profile, const std::string& name) {
    for (const auto& row : profile.rows) {
        if (row.variant.name == name) return &row;
    }
    return nullptr;
}

std::optional<double> row_ratio(const BootProfile& profile, const std::string& numerator, const std::string& denominator) {
    const auto* top = find_row(profile, numerator);
    const auto* bottom = find_row(profile, denominator);
    if (top == nullptr || bottom == nullptr || top->ready_ms.empty()) return std::nullopt;
    return median_paired_ratio(top->ready_ms, bottom->ready_ms);
}

std::string ratio_line(const char* run, const char* what, const std::optional<double>& ratio, double target) {
    if (!ratio) return {};
    return fmt::format("{} / {}: {:.2f} (target <= {:.1f}, {})\n", run, what, *ratio, target,
                       *ratio <= target ? "met" : "not met");
}

// The median phases of the rows the ratios compare: the tuned qemu row counts from the
// start of QEMU, the libvirt rows from the call of vm::run.
std::string format_phase_tables(const BootProfile& profile) {
    std::string text;
    for (const auto& row : profile.rows) {
        bool compared = row.variant.path == vm::BootPath::libvirt || row.variant.name == vm::kTunedQemuStep;
        if (!compared || row.phases.empty()) continue;
        text += fmt::format("\nphases of {} (median end over runs, ms since {})\n", row.variant.name,
                            row.variant.path == vm::BootPath::libvirt ? "vm::run was called" : "QEMU was started");
        text += fmt::format("{:<24} {:>10} {:>10}\n", "PHASE", "AT (ms)", "STEP (ms)");
        for (const auto& phase : median_phases(row.phases)) {
            text += fmt::format("{:<24} {:>10.1f} {:>10.1f}\n", phase.name, phase.at_ms, phase.step_ms);
        }
    }
    return text;
}

}  // namespace

double median_paired_ratio(const std::vector<double>& numerator, const std::vector<double>& denominator) {
    if (numerator.size() != denominator.size() || numerator.empty()) {
        throw Error(fmt::format("cannot pair {} runs with {} runs", numerator.size(), denominator.size()));
    }
    std::vector<double> ratios;
    for (size_t i = 0; i < numerator.size(); ++i) ratios.push_back(numerator[i] / denominator[i]);
    return quantile(ratios, 0.5);
}

std::vector<MedianPhase> median_phases(const std::vector<std::vector<PhaseMark>>& runs) {
    std::map<std::string, std::vector<double>> ends;
    for (const auto& run : runs) {
        for (const auto& mark : run) ends[mark.name].push_back(mark.at_ms);
    }
    std::vector<MedianPhase> medians;
    for (const auto& [name, values] : ends) medians.push_back({name, quantile(values, 0.5), 0});
    std::stable_sort(medians.begin(), medians.end(),
                     [](const MedianPhase& a, const MedianPhase& b) { return a.at_ms < b.at_ms; });
    double previous = 0;
    for (auto& phase : medians) {
        phase.step_ms = phase.at_ms - previous;
        previous = phase.at_ms;
    }
    return medians;
}

void summarize_profile(BootProfile& profile) {
    for (auto& row : profile.rows) row.summary = summarize(row.ready_ms);
    profile.ratio_to_default_qemu = row_ratio(profile, "libvirt", "default");
    profile.ratio_to_tuned_qemu = row_ratio(profile, "libvirt", vm::kTunedQemuStep);
    profile.embedded_ratio_to_default_qemu = row_ratio(profile, "libvirt-embedded", "default");
    profile.embedded_ratio_to_tuned_qemu = row_ratio(profile, "libvirt-embedded", vm::kTunedQemuStep);
}

std::string format_boot_profile(const BootProfile& profile) {
    std::string text = fmt::format("{:<24} {:<5} {:>11} {:>11} {:>10} {:>10}  {}\n", "STEP", "ACCEL", "READY (ms)",
                                   "SAVES (ms)", "MIN (ms)", "MAX (ms)", "CHANGE");
    const BootProfileRow* previous = nullptr;
    for (const auto& row : profile.rows) {
        std::string saves = previous ? fmt::format("{:.1f}", previous->summary.median - row.summary.median) : "-";
        text += fmt::format("{:<24} {:<5} {:>11.1f} {:>11} {:>10.1f} {:>10.1f}  {}\n", row.variant.name,
                            row.accelerator, row.summary.median, saves, row.summary.min, row.summary.max,
                            row.variant.change);
        previous = &row;
    }
    if (!profile.rows.empty()) {
        std::string pause = profile.pause_seconds > 0 ? fmt::format(", {:g} s pause before each boot", profile.pause_seconds)
                                                      : ", boots back to back";
        const char* form = profile.form == vm::guest::RootForm::disk ? "disk form (qcow2 overlay on virtio-blk)"
                                                                     : "initramfs form";
        text += fmt::format("medians of {} run(s), {}{}; start-to-ready ends when isolab-init starts the workload\n",
                            profile.rows.front().ready_ms.size(), form, pause);
    }
    constexpr const char* system = "isolab vm run";
    constexpr const char* embedded = "isolab vm run (embedded driver)";
    text += ratio_line(system, "default bare QEMU (bzImage)", profile.ratio_to_default_qemu, kTargetRatioToDefaultQemu);
    text += ratio_line(system, "tuned bare QEMU", profile.ratio_to_tuned_qemu, kTargetRatioToTunedQemu);
    text += ratio_line(embedded, "default bare QEMU (bzImage)", profile.embedded_ratio_to_default_qemu,
                       kTargetRatioToDefaultQemu);
    text += ratio_line(embedded, "tuned bare QEMU", profile.embedded_ratio_to_tuned_qemu, kTargetRatioToTunedQemu);
    text += format_phase_tables(profile);
    return text;
}

std::string render_boot_profile_svg(const BootProfile& profile) {
    BarChart chart;
    chart.id = "boot-profile";
    chart.title = profile.form == vm::guest::RootForm::disk ? "Start to ready per boot-profile step, disk form (median ms)"
                                                            : "Start to ready per boot-profile step (median ms)";
    chart.format_value = [](double ms) { return fmt::format("{:.0f} ms", ms); };
    for (const auto& row : profile.rows) {
        chart.rows.push_back({row.variant.name + " (" + row.accelerator + ")", {{"start to ready", row.summary.median}}});
    }
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + render_bar_chart(chart) + "\n";
}

BootProfile run_boot_profile(image::Store& store, const BootProfileOptions& options) {
    if (options.runs == 0) throw Error("invalid --runs 0: profile at least one run");
    if (!(options.pause_seconds >= 0 && options.pause_seconds <= kMaxBootPauseSeconds)) {
        throw Error(fmt::format("invalid --pause {:g}: the pause before each boot is 0 to {:g} seconds",
                                options.pause_seconds, kMaxBootPauseSeconds));
    }
    auto variants = vm::select_variants(options.variants);
    // The chart is written after the last boot, so a path that cannot take it fails first.
    if (!options.chart.empty()) {
        auto folder = options.chart.parent_path().empty() ? fs::path(".") : options.chart.parent_path();
        if (!fs::is_directory(folder)) {
            throw Error("cannot write the chart " + options.chart.string() + ": the folder " + folder.string() +
                            " does not exist",
                        "create it first, or give -o a file in an existing folder");
        }
        if (fs::is_directory(options.chart)) {
            throw Error("cannot write the chart " + options.chart.string() + ": it is a folder",
                        "give -o a file name, such as profile.svg");
        }
    }

    BootProfile profile;
    profile.pause_seconds = options.pause_seconds;
    profile.form = options.form;
    for (const auto& variant : variants) profile.rows.push_back({variant, "", {}, {}});

    // An interrupt ends the boot in progress, and the guest folder goes with the unwinding.
    InterruptGuard interrupts;
    bool any_qemu = std::any_of(variants.begin(), variants.end(),
                                [](const vm::BootVariant& variant) { return variant.path == vm::BootPath::qemu; });
    PreparedGuest guest;
    vm::ProfileMachine machine{.memory_mib = options.memory_bytes >> 20};
    if (any_qemu) {
        guest = prepare_guest(store, options);
        auto verdict = vm::choose_host_accelerator(store, options.accelerator, options.connect_uri);
        machine.accelerator = verdict.used;
        profile.accelerator_reason = verdict.reason;
    }

    for (unsigned run = 1; run <= options.runs; ++run) {
        for (auto& row : profile.rows) {
            if (options.pause_seconds > 0) pause_unless_interrupted(options.pause_seconds);
            TimedBoot boot;
            if (row.variant.path == vm::BootPath::libvirt) {
                std::tie(boot, row.accelerator) = boot_with_libvirt(store, options, row.variant);
            } else {
                boot = boot_with_qemu(row.variant, guest, machine);
                row.accelerator = machine.accelerator;
            }
            row.ready_ms.push_back(boot.ready_ms);
            row.phases.push_back(std::move(boot.phases));
            std::fprintf(stderr, "run %u/%u %-24s %9.1f ms (%s)\n", run, options.runs, row.variant.name.c_str(),
                         boot.ready_ms, row.accelerator.c_str());
        }
    }
    summarize_profile(profile);
    return profile;
}

void boot_profile_command(image::Store& store, const BootProfileOptions& options) {
    auto profile = run_boot_profile(store, options);
    std::fputs(format_boot_profile(profile).c_str(), stdout);
    if (!profile.accelerator_reason.empty()) std::printf("bare QEMU accelerator: %s\n", profile.accelerator_reason.c_str());
    if (!options.chart.empty()) {
        write_file_atomic(options.chart, render_boot_profile_svg(profile));
        std::printf("chart: %s\n", options.chart.c_str());
    }
}

}  // namespace isolab::bench
