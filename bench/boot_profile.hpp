#pragma once
// `isolab vm boot-profile`: boots one guest once per variant of vmdriver/boot_plan.hpp,
// RUNS times in turn, and reports the median start-to-ready time of each step, what the
// step saves against the step before, and how isolab's VM start compares with bare QEMU.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bench/statistics.hpp"
#include "runtime/core/clock.hpp"
#include "runtime/image/store.hpp"
#include "vmdriver/boot_plan.hpp"
#include "vmdriver/vm.hpp"

namespace isolab::bench {

// Ratio targets for isolab's VM start: against QEMU's defaults with the bzImage, and
// against bare QEMU booting the same tuned kernel, initramfs and devices.
inline constexpr double kTargetRatioToDefaultQemu = 0.3;
inline constexpr double kTargetRatioToTunedQemu = 1.1;

struct BootProfileOptions {
    std::string image = "busybox";
    std::vector<std::string> command{"true"};  // empty: the image's Entrypoint and Cmd
    unsigned runs = 3;
    std::vector<std::string> variants;        // names from boot_plan.hpp; empty: all
    vm::Accelerator accelerator = vm::Accelerator::automatic;
    std::string connect_uri;                  // for the libvirt row and the KVM probe
    std::uint64_t memory_bytes = 256ULL << 20;
    // The disk form boots every step from a fresh qcow2 overlay on the image's base disk,
    // with the module initramfs, as `vm run --form disk` does.
    vm::guest::RootForm form = vm::guest::RootForm::initramfs;
    std::filesystem::path chart;              // SVG bar chart of the medians; empty: none
    // Idle time before each boot. On a host that hands free memory back to its hypervisor,
    // a boot right after another finds warm memory. After a pause it boots as a first VM does.
    double pause_seconds = 0;
};

// Longest --pause accepted, in seconds.
inline constexpr double kMaxBootPauseSeconds = 600;

struct BootProfileRow {
    vm::BootVariant variant;
    std::string accelerator;          // "kvm" or "tcg", as the boots of this row ran
    std::vector<double> ready_ms;     // start-to-ready of each run, in run order
    Summary summary;
    // The phases of each run, in ms since the row's start: libvirt rows as vm::run
    // records them, qemu rows from the console (first-serial-byte, kernel-start,
    // init-start, workload-start).
    std::vector<std::vector<PhaseMark>> phases;
};

// One phase at the median over runs: when it ended and how long after the phase before.
struct MedianPhase {
    std::string name;
    double at_ms = 0;
    double step_ms = 0;
};

// The median end of each phase that `runs` recorded, ordered by that median.
std::vector<MedianPhase> median_phases(const std::vector<std::vector<PhaseMark>>& runs);

struct BootProfile {
    std::vector<BootProfileRow> rows;
    std::string accelerator_reason;   // why the bare QEMU rows use their accelerator
    double pause_seconds = 0;         // idle time before each boot
    vm::guest::RootForm form = vm::guest::RootForm::initramfs;
    // Medians over runs of the paired ratio libvirt row / that qemu row, when both ran.
    std::optional<double> ratio_to_default_qemu;
    std::optional<double> ratio_to_tuned_qemu;
    // The same for the libvirt-embedded row.
    std::optional<double> embedded_ratio_to_default_qemu;
    std::optional<double> embedded_ratio_to_tuned_qemu;
};

// The median of the per-run ratios numerator[i] / denominator[i] (paired runs).
double median_paired_ratio(const std::vector<double>& numerator, const std::vector<double>& denominator);

// Fills each row's summary and the ratios from the rows' ready_ms.
void summarize_profile(BootProfile& profile);

// The table printed by `vm boot-profile`: step, accelerator, median start-to-ready,
// the saving against the row above (negative: slower), min and max, and the change,
// followed by the ratio lines and the median phases of the tuned qemu row and the
// libvirt rows, which show where the time between them goes.
std::string format_boot_profile(const BootProfile& profile);

// A standalone SVG document with one bar per row (the median start-to-ready).
std::string render_boot_profile_svg(const BootProfile& profile);

// Prepares the guest files once, boots every selected variant `runs` times (the
// variants take turns within each run, so a change in host load touches all of them),
// prints progress on stderr and returns the profile. Start-to-ready is the time from
// starting QEMU (or calling vm::run for the libvirt row) to the arrival of isolab-init's
// workload-start line. Throws Error when a boot fails or the workload exits non-zero.
BootProfile run_boot_profile(image::Store& store, const BootProfileOptions& options);

// run_boot_profile, then the table on stdout and the chart in options.chart.
void boot_profile_command(image::Store& store, const BootProfileOptions& options);

}  // namespace isolab::bench
