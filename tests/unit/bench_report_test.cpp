#include <gtest/gtest.h>

#include <regex>

#include "bench/compare.hpp"
#include "bench/report.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"

namespace isolab::bench {
namespace {

const std::filesystem::path fixture = std::filesystem::path(ISOLAB_SOURCE_DIR) / "tests/fixtures/bench/results_fixture.json";

std::size_t count_of(const std::string& text, const std::string& part) {
    std::size_t count = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
    return count;
}

TEST(BenchReport, ReadingComputedFromNumbers) {
    auto reading = plain_reading(load_results(fixture.string()));
    std::string text;
    for (const auto& sentence : reading) text += sentence + "\n";

    // 462 / 12.5 = 37.0
    EXPECT_NE(text.find("37.0x more time"), std::string::npos) << text;
    EXPECT_NE(text.find("462.0 ms against 12.5 ms"), std::string::npos) << text;
    EXPECT_NE(text.find("TCG"), std::string::npos) << text;
    EXPECT_NE(text.find("host's own kernel"), std::string::npos) << text;
    EXPECT_NE(text.find("6.1.0-57-amd64"), std::string::npos) << text;
    EXPECT_NE(text.find("podman was not measured"), std::string::npos) << text;
    EXPECT_NE(text.find("outlier"), std::string::npos) << text;
}

TEST(BenchReport, TableAlignedWithoutColour) {
    auto table = render_table(load_results(fixture.string()), false);
    EXPECT_EQ(table.find("\033["), std::string::npos);
    EXPECT_NE(table.find("462.0 ms"), std::string::npos);
    EXPECT_NE(table.find("not measured"), std::string::npos);

    // Every row of the first table starts its "figure" column at the same offset.
    auto header_end = table.find('\n');
    auto figure_column = table.substr(0, header_end).find("figure");
    auto second_line = table.substr(header_end + 1, table.find('\n', header_end + 1) - header_end - 1);
    EXPECT_EQ(second_line.substr(figure_column, 7), "startup");
}

TEST(BenchReport, TableColourOnlyWhenAsked) {
    auto table = render_table(load_results(fixture.string()), true);
    EXPECT_NE(table.find("\033[1m"), std::string::npos);
}

TEST(BenchReport, MarkdownHasSectionsAndNumbers) {
    auto markdown = render_markdown(load_results(fixture.string()));
    for (const char* part : {"# isolab compare: hello", "## Reading", "## Figures", "## Kernels and accelerator",
                             "## Ratios", "## Host", "462.0 ms", "12.5 ms", "AMD EPYC", "| vm | startup |",
                             "KVM probe boot timed out"}) {
        EXPECT_NE(markdown.find(part), std::string::npos) << part;
    }
}

TEST(BenchReport, HtmlHasEveryChartAndNumber) {
    auto html = render_html({load_results(fixture.string())});

    for (const char* id : {"chart-startup-1", "chart-memory-1", "chart-disk-1"}) {
        EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
    }
    // Three bar charts and the waterfalls of container, vm and crun.
    EXPECT_EQ(count_of(html, "<svg "), 6U);
    EXPECT_EQ(count_of(html, "</svg>"), 6U);
    EXPECT_EQ(html.find("<script"), std::string::npos);

    // Startup bars: container 6 phases + ready, vm 5 phases + ready, crun ready only.
    EXPECT_NE(html.find("<title>pivot_root: "), std::string::npos);
    EXPECT_NE(html.find("<title>kernel-start: "), std::string::npos);
    EXPECT_NE(html.find("<title>configured guest RAM: 268 MB</title>"), std::string::npos);
    EXPECT_NE(html.find("<title>disk: kernel: 29.4 MB</title>"), std::string::npos);
    for (const char* number : {"462.0 ms", "12.5 ms", "6.2 ms", "151 MB"}) {
        EXPECT_NE(html.find(number), std::string::npos) << number;
    }
    EXPECT_NE(html.find("<table class=\"figures\">"), std::string::npos);
    EXPECT_NE(html.find("<table class=\"host\">"), std::string::npos);
    EXPECT_NE(html.find("37.0x more time"), std::string::npos);
}

TEST(BenchReport, HtmlEscapesText) {
    auto results = load_results(fixture.string());
    results.label = "<b>student & co</b>";
    auto html = render_html({results});
    EXPECT_EQ(html.find("<b>student"), std::string::npos);
    EXPECT_NE(html.find("&lt;b&gt;student &amp; co&lt;/b&gt;"), std::string::npos);
}

TEST(BenchReport, MergedHtmlComparesSources) {
    auto first = load_results(fixture.string());
    auto second = first;
    second.label = "lab-host-2";
    auto html = render_html({first, second});

    EXPECT_NE(html.find("id=\"chart-merged-startup\""), std::string::npos);
    EXPECT_NE(html.find("id=\"chart-startup-2\""), std::string::npos);
    EXPECT_NE(html.find("<table class=\"comparison\">"), std::string::npos);
    EXPECT_NE(html.find("lab-host-2"), std::string::npos);
    // The merged startup chart and six charts per source (three bars, three waterfalls).
    EXPECT_EQ(count_of(html, "<svg "), 13U);
    EXPECT_THROW(render_html({}), Error);
}

TEST(BenchReport, CsvHasEveryRun) {
    auto csv = render_runs_csv(load_results(fixture.string()));
    EXPECT_EQ(count_of(csv, "\n"), 1U + 6 + 6 + 6);  // header, then container, vm, crun runs
    EXPECT_EQ(csv.rfind("path,run,warmup,exit_code,kernel,accelerator,startup_ms", 0), 0U);
    EXPECT_NE(csv.find("container,1,1,0,6.18.44-test,,40.000"), std::string::npos) << csv;
    EXPECT_NE(csv.find("phase_pivot_root_ms"), std::string::npos);
}

TEST(BenchReport, WritesEveryFile) {
    TemporaryDirectory folder("/tmp", "isolab-bench-test-");
    auto directory = folder.path() / "results" / "run";
    write_results(load_results(fixture.string()), directory);

    for (const char* name : {"results.json", "report.md", "report.html", "runs.csv"}) {
        EXPECT_TRUE(std::filesystem::exists(directory / name)) << name;
    }
    auto reloaded = load_results((directory / "results.json").string());
    EXPECT_EQ(reloaded.paths.size(), 4U);
}

TEST(BenchReport, DefaultFolderIsUtcTimestamp) {
    auto directory = default_results_directory();
    EXPECT_EQ(directory.parent_path().filename(), "results");
    EXPECT_TRUE(std::regex_match(directory.filename().string(), std::regex("[0-9]{8}T[0-9]{6}Z")));
}

}  // namespace
}  // namespace isolab::bench
