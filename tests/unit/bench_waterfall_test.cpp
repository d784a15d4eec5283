#include <gtest/gtest.h>

#include "bench/report.hpp"
#include "bench/waterfall.hpp"

namespace isolab::bench {
namespace {

const std::filesystem::path fixture = std::filesystem::path(ISOLAB_SOURCE_DIR) / "tests/fixtures/bench/results_fixture.json";

RunSample run_with(std::vector<PhaseSample> phases, bool warmup = false) {
    RunSample run;
    run.warmup = warmup;
    run.exit_code = 0;
    run.phases = std::move(phases);
    return run;
}

Results results_with(std::vector<RunSample> runs, const std::string& accelerator = "") {
    PathResult path;
    path.name = "vm";
    path.role = "isolab";
    for (auto& run : runs) {
        run.accelerator = accelerator;
        path.runs.push_back(std::move(run));
    }
    Results results;
    results.paths.push_back(std::move(path));
    compute_derived(results);
    return results;
}

const WaterfallBar* find_bar(const Waterfall& waterfall, const std::string& name) {
    for (const auto& bar : waterfall.bars) {
        if (bar.name == name) return &bar;
    }
    return nullptr;
}

TEST(BenchWaterfall, BarsSpanPreviousMarkToOwn) {
    auto bars = waterfall_bars({{"create", 2, "host"}, {"namespaces", 5, "host"}, {"exec", 9, "host"}});
    ASSERT_EQ(bars.size(), 3U);
    EXPECT_EQ(bars[0].start_ms, 0);
    EXPECT_EQ(bars[0].end_ms, 2);
    EXPECT_EQ(bars[1].start_ms, 2);
    EXPECT_EQ(bars[1].end_ms, 5);
    EXPECT_EQ(bars[2].start_ms, 5);
    EXPECT_EQ(bars[2].end_ms, 9);
}

TEST(BenchWaterfall, BarsSortedByMark) {
    auto bars = waterfall_bars({{"ready", 30, "host"}, {"kernel-start", 10, "guest"}, {"init-start", 20, "guest"}});
    ASSERT_EQ(bars.size(), 3U);
    EXPECT_EQ(bars[0].name, "kernel-start");
    EXPECT_EQ(bars[1].name, "init-start");
    EXPECT_EQ(bars[1].start_ms, 10);
    EXPECT_EQ(bars[2].name, "ready");
    EXPECT_EQ(bars[2].start_ms, 20);
}

TEST(BenchWaterfall, NegativeMarkClampedToZero) {
    auto bars = waterfall_bars({{"kernel-start", -3, "guest"}, {"ready", 8, "host"}});
    ASSERT_EQ(bars.size(), 2U);
    EXPECT_EQ(bars[0].start_ms, 0);
    EXPECT_EQ(bars[0].end_ms, 0);
    EXPECT_EQ(bars[1].start_ms, 0);
}

TEST(BenchWaterfall, MedianOverCountedRunsOnly) {
    auto results = results_with({run_with({{"create", 100, "host"}, {"exec", 200, "host"}}, true),
                                 run_with({{"create", 1, "host"}, {"exec", 10, "host"}}),
                                 run_with({{"create", 3, "host"}, {"exec", 30, "host"}}),
                                 run_with({{"create", 2, "host"}, {"exec", 20, "host"}})});
    auto all = waterfalls(results);
    ASSERT_EQ(all.size(), 1U);
    EXPECT_EQ(all[0].counted_runs, 3U);
    const auto* exec = find_bar(all[0], "exec");
    ASSERT_NE(exec, nullptr);
    EXPECT_EQ(exec->start_ms, 2);
    EXPECT_EQ(exec->end_ms, 20);
}

TEST(BenchWaterfall, MedianOfEvenRunCountInterpolates) {
    auto results = results_with({run_with({{"ready", 10, "host"}}), run_with({{"ready", 20, "host"}})});
    auto all = waterfalls(results);
    ASSERT_EQ(all.size(), 1U);
    ASSERT_EQ(all[0].bars.size(), 1U);
    EXPECT_DOUBLE_EQ(all[0].bars[0].end_ms, 15);
}

TEST(BenchWaterfall, PhaseMissingFromOneRun) {
    // The second run never reached init-start; its median comes from the other two runs.
    auto results = results_with({run_with({{"kernel-start", 10, "guest"}, {"init-start", 40, "guest"}, {"ready", 50, "host"}}),
                                 run_with({{"kernel-start", 12, "guest"}, {"ready", 52, "host"}}),
                                 run_with({{"kernel-start", 14, "guest"}, {"init-start", 44, "guest"}, {"ready", 54, "host"}})});
    auto all = waterfalls(results);
    ASSERT_EQ(all.size(), 1U);
    const auto* init = find_bar(all[0], "init-start");
    ASSERT_NE(init, nullptr);
    EXPECT_DOUBLE_EQ(init->start_ms, 12);
    EXPECT_DOUBLE_EQ(init->end_ms, 42);
    EXPECT_EQ(init->clock, "guest");
    const auto* ready = find_bar(all[0], "ready");
    ASSERT_NE(ready, nullptr);
    EXPECT_DOUBLE_EQ(ready->start_ms, 42);
}

TEST(BenchWaterfall, PhaseMissingFromEveryRun) {
    auto results = results_with({run_with({{"create", 1, "host"}, {"exec", 9, "host"}})});
    auto all = waterfalls(results);
    ASSERT_EQ(all.size(), 1U);
    ASSERT_EQ(all[0].bars.size(), 2U);
    EXPECT_EQ(find_bar(all[0], "namespaces"), nullptr);
    EXPECT_EQ(all[0].bars[1].start_ms, 1);
}

TEST(BenchWaterfall, PathWithoutPhasesHasNoWaterfall) {
    auto results = results_with({run_with({})});
    EXPECT_TRUE(waterfalls(results).empty());
}

TEST(BenchWaterfall, TitleNamesAccelerator) {
    auto results = results_with({run_with({{"ready", 5, "host"}})}, "kvm");
    auto all = waterfalls(results);
    ASSERT_EQ(all.size(), 1U);
    EXPECT_NE(all[0].title.find("accelerator kvm"), std::string::npos) << all[0].title;
}

TEST(BenchWaterfall, SvgMarksClocksApart) {
    Waterfall waterfall{"vm", "vm waterfall", 1, waterfall_bars({{"qemu-up", 5, "host"}, {"kernel-start", 9, "guest"}})};
    auto svg = render_waterfall_svg(waterfall, "waterfall-vm-1");
    EXPECT_NE(svg.find("id=\"waterfall-vm-1\""), std::string::npos);
    EXPECT_NE(svg.find("class=\"bar-host\""), std::string::npos);
    EXPECT_NE(svg.find("class=\"bar-guest\""), std::string::npos);
    EXPECT_NE(svg.find("guest clock"), std::string::npos);
}

TEST(BenchWaterfall, FixtureHasOnePerPathWithPhases) {
    auto results = load_results(fixture.string());
    std::vector<std::string> names;
    for (const auto& waterfall : waterfalls(results)) names.push_back(waterfall.path);
    EXPECT_EQ(names, (std::vector<std::string>{"container", "vm", "crun"}));

    auto html = render_html({results});
    for (const char* id : {"waterfall-container-1", "waterfall-vm-1", "waterfall-crun-1"}) {
        EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
    }
    EXPECT_EQ(html.find("id=\"waterfall-podman-1\""), std::string::npos);
}

TEST(BenchWaterfall, MarkdownTimelineMarksClocks) {
    auto markdown = render_markdown(load_results(fixture.string()));
    EXPECT_NE(markdown.find("## Boot waterfalls"), std::string::npos);
    EXPECT_NE(markdown.find("### vm boot waterfall (accelerator tcg)"), std::string::npos) << markdown;
    EXPECT_NE(markdown.find("| kernel-start | guest |"), std::string::npos) << markdown;
    EXPECT_NE(markdown.find("=`"), std::string::npos);
    EXPECT_NE(markdown.find("#`"), std::string::npos);
}

}  // namespace
}  // namespace isolab::bench
