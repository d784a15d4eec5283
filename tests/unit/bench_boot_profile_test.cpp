// The report of `vm boot-profile`: paired ratios, savings per step and the SVG chart.
#include <gtest/gtest.h>

#include "bench/boot_profile.hpp"
#include "runtime/core/error.hpp"

using namespace isolab::bench;

namespace {

BootProfileRow row(const std::string& name, std::vector<double> ready_ms) {
    BootProfileRow row;
    for (const auto& variant : isolab::vm::boot_profile_variants()) {
        if (variant.name == name) row.variant = variant;
    }
    row.accelerator = "tcg";
    row.ready_ms = std::move(ready_ms);
    return row;
}

BootProfile sample_profile() {
    BootProfile profile;
    profile.rows = {row("default", {1000, 2000, 4000}), row("small-pages", {400, 500, 1000}),
                    row("libvirt", {500, 500, 1000})};
    summarize_profile(profile);
    return profile;
}

}  // namespace

TEST(BootProfileReport, PairedRatioIsMedianOfRunRatios) {
    // Run ratios 0.5, 0.25 and 1.0 have the median 0.5.
    EXPECT_DOUBLE_EQ(median_paired_ratio({500, 500, 1000}, {1000, 2000, 1000}), 0.5);
    // Run ratios 1.0, 3.0 and 0.5 have the median 1.0; the ratio of the medians is 500 / 300.
    EXPECT_DOUBLE_EQ(median_paired_ratio({100, 900, 500}, {100, 300, 1000}), 1.0);
}

TEST(BootProfileReport, PairedRatioRejectsUnequalRuns) {
    EXPECT_THROW(median_paired_ratio({1, 2}, {1}), isolab::Error);
    EXPECT_THROW(median_paired_ratio({}, {}), isolab::Error);
}

TEST(BootProfileReport, RatiosUseDefaultAndTunedRows) {
    auto profile = sample_profile();
    ASSERT_TRUE(profile.ratio_to_default_qemu.has_value());
    ASSERT_TRUE(profile.ratio_to_tuned_qemu.has_value());
    EXPECT_DOUBLE_EQ(*profile.ratio_to_default_qemu, 0.25);  // 0.5, 0.25, 0.25
    EXPECT_DOUBLE_EQ(*profile.ratio_to_tuned_qemu, 1.0);     // 1.25, 1.0, 1.0
}

TEST(BootProfileReport, NoLibvirtRowMeansNoRatio) {
    BootProfile profile;
    profile.rows = {row("default", {1000}), row("small-pages", {400})};
    summarize_profile(profile);
    EXPECT_FALSE(profile.ratio_to_default_qemu.has_value());
    EXPECT_FALSE(profile.ratio_to_tuned_qemu.has_value());
    EXPECT_EQ(format_boot_profile(profile).find("isolab vm run /"), std::string::npos);
}

TEST(BootProfileReport, TableShowsSavingsAgainstRowAbove) {
    auto table = format_boot_profile(sample_profile());
    // default median 2000, small-pages 500: saves 1500; libvirt 500: saves 0.
    EXPECT_NE(table.find("small-pages              tcg         500.0      1500.0"), std::string::npos) << table;
    EXPECT_NE(table.find("libvirt                  tcg         500.0         0.0"), std::string::npos) << table;
    EXPECT_NE(table.find("default                  tcg        2000.0           -"), std::string::npos) << table;
    EXPECT_NE(table.find("isolab vm run / default bare QEMU (bzImage): 0.25 (target <= 0.3, met)"), std::string::npos)
        << table;
    EXPECT_NE(table.find("isolab vm run / tuned bare QEMU: 1.00 (target <= 1.1, met)"), std::string::npos) << table;
}

TEST(BootProfileReport, SummaryLineNamesThePause) {
    auto profile = sample_profile();
    EXPECT_NE(format_boot_profile(profile).find("medians of 3 run(s), initramfs form, boots back to back;"),
              std::string::npos);
    profile.pause_seconds = 4.5;
    auto table = format_boot_profile(profile);
    EXPECT_NE(table.find("medians of 3 run(s), initramfs form, 4.5 s pause before each boot;"), std::string::npos)
        << table;
}

TEST(BootProfileReport, SummaryLineNamesTheDiskForm) {
    auto profile = sample_profile();
    profile.form = isolab::vm::guest::RootForm::disk;
    auto table = format_boot_profile(profile);
    EXPECT_NE(table.find("medians of 3 run(s), disk form (qcow2 overlay on virtio-blk), boots back to back;"),
              std::string::npos)
        << table;
    EXPECT_NE(render_boot_profile_svg(profile).find("step, disk form (median ms)"), std::string::npos);
}

TEST(BootProfileReport, ChartHasOneBarPerRow) {
    auto svg = render_boot_profile_svg(sample_profile());
    EXPECT_TRUE(svg.starts_with("<?xml")) << svg.substr(0, 80);
    EXPECT_NE(svg.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
    size_t bars = 0;
    for (auto at = svg.find("class=\"segment\""); at != std::string::npos; at = svg.find("class=\"segment\"", at + 1)) {
        ++bars;
    }
    EXPECT_EQ(bars, 3u);
    EXPECT_NE(svg.find("libvirt (tcg)"), std::string::npos);
}

TEST(BootProfileReport, MedianPhasesOrderedByMedianEnd) {
    using isolab::PhaseMark;
    // kernel-start arrives after init-start in each run's list, as the guest reports it.
    std::vector<std::vector<PhaseMark>> runs = {
        {{"create", 300, "host"}, {"init-start", 1500, "host"}, {"kernel-start", 900, "guest"}},
        {{"create", 100, "host"}, {"init-start", 1300, "host"}, {"kernel-start", 700, "guest"}},
        {{"create", 200, "host"}, {"init-start", 1400, "host"}},
    };
    auto phases = median_phases(runs);
    ASSERT_EQ(phases.size(), 3u);
    EXPECT_EQ(phases[0].name, "create");
    EXPECT_DOUBLE_EQ(phases[0].at_ms, 200);
    EXPECT_DOUBLE_EQ(phases[0].step_ms, 200);
    EXPECT_EQ(phases[1].name, "kernel-start");
    EXPECT_DOUBLE_EQ(phases[1].at_ms, 800);  // the median of the two runs that have it
    EXPECT_DOUBLE_EQ(phases[1].step_ms, 600);
    EXPECT_EQ(phases[2].name, "init-start");
    EXPECT_DOUBLE_EQ(phases[2].at_ms, 1400);
    EXPECT_DOUBLE_EQ(phases[2].step_ms, 600);
}

TEST(BootProfileReport, TableShowsPhasesOfComparedRows) {
    auto profile = sample_profile();
    for (auto& row : profile.rows) {
        row.phases = {{{"kernel-start", 100, "guest"}, {"workload-start", 400, "host"}}};
    }
    auto table = format_boot_profile(profile);
    EXPECT_NE(table.find("phases of small-pages (median end over runs, ms since QEMU was started)"),
              std::string::npos)
        << table;
    EXPECT_NE(table.find("phases of libvirt (median end over runs, ms since vm::run was called)"), std::string::npos)
        << table;
    EXPECT_EQ(table.find("phases of default"), std::string::npos) << table;
    EXPECT_NE(table.find("workload-start" + std::string(16, ' ') + "400.0" + std::string(6, ' ') + "300.0"), std::string::npos) << table;
}
