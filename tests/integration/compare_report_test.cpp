// isolab report: merging results files into one HTML page, and that page rendered by a
// real browser (headless Chromium) with every chart in the DOM.
#include <gtest/gtest.h>

#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "support/test_support.hpp"

namespace isolab::testing {
namespace {

namespace fs = std::filesystem;

const fs::path fixture = fs::path(ISOLAB_SOURCE_DIR) / "tests/fixtures/bench/results_fixture.json";

std::size_t count_of(const std::string& text, const std::string& part) {
    std::size_t count = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
    return count;
}

// Loads `html` in headless Chromium with a profile under the test root and returns the
// parsed DOM it prints.
auto dump_dom_in_chromium(const TestRoot& root, const fs::path& html) {
    auto profile = root.root().parent_path() / "chromium-profile";
    fs::create_directories(profile);
    return run_command({"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--no-first-run", "--user-data-dir=" + profile.string(), "--dump-dom", "file://" + html.string()},
                       {.timeout = std::chrono::seconds(120)});
}

TEST(CompareReport, MergesSeveralResults) {
    TestRoot root;
    auto html = root.root().parent_path() / "merged.html";
    auto result = run_isolab(root.paths(), {"report", fixture.string(), fixture.string(), "-o", html.string()});
    ASSERT_EQ(result.exit_code, 0) << result.err;

    auto page = read_file(html);
    EXPECT_NE(page.find("id=\"chart-merged-startup\""), std::string::npos);
    EXPECT_NE(page.find("id=\"chart-disk-2\""), std::string::npos);
    EXPECT_EQ(count_of(page, "<section id=\"results-"), 2U);
}

TEST(CompareReport, MissingInputGivesOneLine) {
    TestRoot root;
    auto result = run_isolab(root.paths(), {"report", "/nonexistent/results.json", "-o", "/tmp/never.html"});
    EXPECT_NE(result.exit_code, 0);
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_NE(result.err.find("/nonexistent/results.json"), std::string::npos) << result.err;
    EXPECT_FALSE(fs::exists("/tmp/never.html"));
}

TEST(CompareReport, OutputThatIsAnInputRejected) {
    TestRoot root;
    auto input = root.root() / "results.json";
    fs::copy_file(fixture, input);
    auto same_file = (root.root() / ".." / root.root().filename() / "results.json").string();

    auto result = run_isolab(root.paths(), {"report", input.string(), "-o", same_file});

    EXPECT_EQ(result.exit_code, 125);
    EXPECT_NE(result.err.find("would overwrite its input"), std::string::npos) << result.err;
    EXPECT_EQ(read_file(input), read_file(fixture));
}

TEST(CompareReport, ChromiumRendersEveryChart) {
    if (!program_available("chromium")) GTEST_SKIP() << "chromium is not installed (scripts/test installs it)";
    TestRoot root;
    auto html = root.root().parent_path() / "report.html";
    auto result = run_isolab(root.paths(), {"report", fixture.string(), fixture.string(), "-o", html.string()});
    ASSERT_EQ(result.exit_code, 0) << result.err;

    auto rendered = dump_dom_in_chromium(root, html);
    ASSERT_EQ(rendered.exit_code, 0) << rendered.output;

    for (const char* id : {"chart-merged-startup", "chart-startup-1", "chart-memory-1", "chart-disk-1",
                           "chart-startup-2", "chart-memory-2", "chart-disk-2"}) {
        EXPECT_NE(rendered.output.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
    }
    // The parsed DOM keeps every bar segment the page declared.
    EXPECT_EQ(count_of(rendered.output, "class=\"segment\""), count_of(read_file(html), "class=\"segment\""));
    EXPECT_GT(count_of(rendered.output, "class=\"segment\""), 20U);
}

TEST(CompareReport, ChromiumRendersWaterfallPerPath) {
    if (!program_available("chromium")) GTEST_SKIP() << "chromium is not installed (scripts/test installs it)";
    TestRoot root;
    auto html = root.root().parent_path() / "report.html";
    auto result = run_isolab(root.paths(), {"report", fixture.string(), "-o", html.string()});
    ASSERT_EQ(result.exit_code, 0) << result.err;

    auto rendered = dump_dom_in_chromium(root, html);
    ASSERT_EQ(rendered.exit_code, 0) << rendered.output;

    // The fixture's container, vm and crun paths have phases; podman was not measured.
    for (const char* id : {"waterfall-container-1", "waterfall-vm-1", "waterfall-crun-1"}) {
        EXPECT_NE(rendered.output.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
    }
    EXPECT_EQ(rendered.output.find("id=\"waterfall-podman-1\""), std::string::npos);
    EXPECT_NE(rendered.output.find("vm boot waterfall (accelerator tcg)"), std::string::npos);

    // Host and guest clock bars survive parsing with their own classes: the fixture's VM
    // has three guest phases (kernel-start, init-start, workload-start).
    EXPECT_EQ(count_of(rendered.output, "class=\"bar-guest\""), 3U);
    EXPECT_EQ(count_of(rendered.output, "class=\"bar-host\""), count_of(read_file(html), "class=\"bar-host\""));
    EXPECT_GT(count_of(rendered.output, "class=\"bar-host\""), 10U);
}

}  // namespace
}  // namespace isolab::testing
