#include <gtest/gtest.h>

#include "bench/results.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"

namespace isolab::bench {
namespace {

const std::filesystem::path fixture = std::filesystem::path(ISOLAB_SOURCE_DIR) / "tests/fixtures/bench/results_fixture.json";

TEST(BenchResults, FixtureSummariesCountOnlyCountedRuns) {
    auto results = load_results(fixture.string());
    const auto* container = results.find_path("container");
    ASSERT_NE(container, nullptr);

    const auto& startup = container->summaries.at(figure::startup);
    EXPECT_EQ(startup.count, 5U);           // the warm-up run (40 ms) is not counted
    EXPECT_DOUBLE_EQ(startup.median, 12.5);
    EXPECT_DOUBLE_EQ(startup.min, 11);
    EXPECT_DOUBLE_EQ(startup.max, 60);
    ASSERT_EQ(startup.outliers.size(), 1U);  // the 60 ms run
    EXPECT_EQ(startup.outliers[0], 4U);
}

TEST(BenchResults, FixtureRatiosAndPhases) {
    auto results = load_results(fixture.string());

    bool vm_over_container = false;
    bool container_over_crun = false;
    for (const auto& ratio : results.ratios) {
        if (ratio.path == "vm" && ratio.reference == "container" && ratio.figure == figure::startup) {
            vm_over_container = true;
            EXPECT_DOUBLE_EQ(ratio.value, 462.0 / 12.5);
        }
        if (ratio.path == "container" && ratio.reference == "crun" && ratio.figure == figure::startup) {
            container_over_crun = true;
            EXPECT_DOUBLE_EQ(ratio.value, 12.5 / 6.2);
        }
        EXPECT_NE(ratio.reference, "podman");  // unavailable paths give no ratio
    }
    EXPECT_TRUE(vm_over_container);
    EXPECT_TRUE(container_over_crun);

    const auto* vm = results.find_path("vm");
    ASSERT_NE(vm, nullptr);
    ASSERT_FALSE(vm->median_phases.empty());
    EXPECT_EQ(vm->median_phases.front().name, "define");
    for (std::size_t i = 1; i < vm->median_phases.size(); ++i) {
        EXPECT_LE(vm->median_phases[i - 1].at_ms, vm->median_phases[i].at_ms);
    }
    EXPECT_EQ(vm->accelerator(), "tcg");
    EXPECT_EQ(vm->kernel(), "6.1.0-57-amd64");
}

TEST(BenchResults, JsonRoundTrip) {
    auto original = load_results(fixture.string());
    auto document = to_json(original);
    auto copy = results_from_json(nlohmann::json::parse(document.dump()));

    EXPECT_EQ(to_json(copy), document);
    EXPECT_EQ(document.at("schema_version"), results_schema_version);
    EXPECT_EQ(copy.paths.size(), original.paths.size());
    EXPECT_EQ(copy.host.cpu_model, "AMD EPYC");
    EXPECT_EQ(copy.settings.runs, 5);
    EXPECT_FALSE(copy.paths[3].available);
    EXPECT_EQ(copy.paths[3].missing_reason, original.paths[3].missing_reason);
}

TEST(BenchResults, EveryFigureHasUnitAndDefinition) {
    auto document = to_json(load_results(fixture.string()));
    for (const auto& path : document.at("paths")) {
        for (const auto& [key, figure_document] : path.at("figures").items()) {
            EXPECT_TRUE(figure_document.at("unit") == "ms" || figure_document.at("unit") == "bytes") << key;
            EXPECT_FALSE(figure_document.at("definition").get<std::string>().empty()) << key;
            EXPECT_TRUE(figure_document.at("summary").contains("p95")) << key;
        }
    }
    EXPECT_EQ(document.at("figure_catalog").size(), figure_catalog().size());
    EXPECT_NE(document.at("statistics").at("outlier_rule").get<std::string>().find("IQR"), std::string::npos);
}

TEST(BenchResults, NewerSchemaRejected) {
    auto document = to_json(load_results(fixture.string()));
    document["schema_version"] = results_schema_version + 1;
    try {
        results_from_json(document);
        FAIL() << "expected Error";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("newer"), std::string::npos);
    }
}

TEST(BenchResults, NotResultsRejected) {
    EXPECT_THROW(results_from_json(nlohmann::json::parse("{\"a\": 1}")), Error);
    EXPECT_THROW(results_from_json(nlohmann::json::parse("{\"schema_version\": 1}")), Error);
    EXPECT_THROW(load_results("/nonexistent/results.json"), Error);
}

TEST(BenchResults, WrongShapesRejectedAsErrors) {
    auto valid = to_json(load_results(fixture.string()));
    auto text_version = valid;
    text_version["schema_version"] = "1";
    auto paths_object = valid;
    paths_object["paths"] = nlohmann::json::object({{"name", "container"}});
    auto runs_text = valid;
    runs_text["paths"][0]["runs"][0]["figures"] = "fast";

    EXPECT_THROW(results_from_json(text_version), Error);
    EXPECT_THROW(results_from_json(paths_object), Error);
    EXPECT_THROW(results_from_json(runs_text), Error);
}

}  // namespace
}  // namespace isolab::bench
