// The built-in workloads, their figure lines, the scale series and the shapes of the new
// result fields in results.json and the reports.
#include <gtest/gtest.h>

#include <memory>

#include "bench/compare.hpp"
#include "bench/readiness_probe.hpp"
#include "bench/report.hpp"
#include "bench/svg_chart.hpp"
#include "bench/vm_instance.hpp"
#include "bench/workload_image.hpp"
#include "runtime/core/error.hpp"

namespace isolab::bench {
namespace {

TEST(BenchWorkloadCatalog, EveryNameResolves) {
    for (const auto& name : workload_names()) {
        auto workload = find_workload(name);
        EXPECT_EQ(workload.name, name);
        EXPECT_FALSE(workload.command.empty()) << name;
    }
}

TEST(BenchWorkloadCatalog, BuiltImagesComeFromBusybox) {
    for (const char* name : {"web", "cpu", "mem", "io"}) {
        auto workload = find_workload(name);
        EXPECT_EQ(workload.image, std::string("isolab-bench-") + name + ":latest");
        EXPECT_FALSE(workload.image_files.empty()) << name;
        EXPECT_EQ(workload_dockerfile(workload).rfind("FROM busybox\n", 0), 0U) << name;
        // The command runs a script the image contains.
        bool found = false;
        for (const auto& file : workload.image_files) found = found || file.path == workload.command[1];
        EXPECT_TRUE(found) << name;
    }
}

TEST(BenchWorkloadCatalog, WebReadyByHttp) {
    auto workload = find_workload("web");
    EXPECT_EQ(workload.readiness, ReadinessKind::http_path);
    EXPECT_EQ(workload.port, 80);
    EXPECT_EQ(workload.http_path, "/");
    EXPECT_TRUE(workload.stop_after_ready);
    EXPECT_TRUE(workload.needs_published_port());
    EXPECT_FALSE(workload.is_ready_line("isolab-ready"));
}

TEST(BenchWorkloadCatalog, SizeReachesMemAndIo) {
    EXPECT_EQ(find_workload("mem", 48).command[2], "48");
    EXPECT_EQ(find_workload("io", 12).command[2], "12");
    EXPECT_EQ(find_workload("io").volume_target, "/isolab-volume");
}

TEST(BenchWorkloadCatalog, ReportedFiguresAreInCatalog) {
    for (const auto& name : workload_names()) {
        for (const auto& key : find_workload(name).reported_figures) {
            EXPECT_NO_THROW(figure_definition(key)) << key;
        }
    }
}

TEST(BenchFigureLine, Parses) {
    auto figure = parse_figure_line("isolab-figure cpu_run_ms=1230");
    ASSERT_TRUE(figure.has_value());
    EXPECT_EQ(figure->first, "cpu_run_ms");
    EXPECT_DOUBLE_EQ(figure->second, 1230);
    EXPECT_FALSE(parse_figure_line("isolab-figure cpu_run_ms=").has_value());
    EXPECT_FALSE(parse_figure_line("isolab-figure =5").has_value());
    EXPECT_FALSE(parse_figure_line("isolab-figure cpu_run_ms=12ms").has_value());
    EXPECT_FALSE(parse_figure_line("cpu_run_ms=12").has_value());
}

TEST(BenchFigureLine, WatcherKeepsOnlyDeclaredFigures) {
    ReadinessWatcher watcher(find_workload("cpu"));
    auto now = Clock::now();
    watcher.on_line("isolab-ready uptime=0.10", now);
    watcher.on_line("6.1.0-fake", now);
    watcher.on_line("isolab-figure cpu_run_ms=900", now);
    watcher.on_line("isolab-figure startup_ms=1", now);
    auto figures = watcher.reported_figures();
    ASSERT_EQ(figures.size(), 1U);
    EXPECT_DOUBLE_EQ(figures.at("cpu_run_ms"), 900);
    EXPECT_EQ(watcher.kernel_release(), "6.1.0-fake");
}

TEST(BenchFigureLine, PortWorkloadTakesFirstLineAsKernel) {
    ReadinessWatcher watcher(find_workload("web"));
    watcher.on_line("6.1.0-fake", Clock::now());
    watcher.on_line("httpd: started", Clock::now());
    EXPECT_EQ(watcher.kernel_release(), "6.1.0-fake");
    EXPECT_FALSE(watcher.ready_at().has_value());
}

TEST(BenchHttpStatus, ParsesStatusLine) {
    EXPECT_EQ(parse_http_status("HTTP/1.1 200 OK\r\n"), 200);
    EXPECT_EQ(parse_http_status("HTTP/1.0 404 Not Found\r\n"), 404);
    EXPECT_FALSE(parse_http_status("SSH-2.0-OpenSSH\r\n").has_value());
    EXPECT_FALSE(parse_http_status("HTTP/1.1 2").has_value());
    EXPECT_FALSE(parse_http_status("HTTP/1.1 abc OK").has_value());
}

TEST(BenchHttpStatus, ClosedPortIsNotReady) {
    int port = pick_free_port();
    EXPECT_GT(port, 0);
    EXPECT_FALSE(tcp_port_accepts("127.0.0.1", port));
    EXPECT_FALSE(http_get_status("127.0.0.1", port, "/").has_value());
}

TEST(BenchScaleCounts, PowersOfTwoThenMaximum) {
    EXPECT_TRUE(scale_instance_counts(0).empty());
    EXPECT_EQ(scale_instance_counts(1), (std::vector<int>{1}));
    EXPECT_EQ(scale_instance_counts(8), (std::vector<int>{1, 2, 4, 8}));
    EXPECT_EQ(scale_instance_counts(6), (std::vector<int>{1, 2, 4, 6}));
}

TEST(BenchCompareOptions, MemoryMinimumFollowsPaths) {
    CompareOptions options;
    options.memory_bytes = 64ULL << 20;  // below vm run's minimum, above a container's
    EXPECT_THROW(validate_compare_options(options), Error);
    options.paths = {"container"};
    EXPECT_THROW(validate_compare_options(options), Error);  // the qemu reference still boots one
    options.references = {"crun", "podman"};
    EXPECT_NO_THROW(validate_compare_options(options));
    options.references = {"qemu"};
    EXPECT_THROW(validate_compare_options(options), Error);
    options.references = {};
    options.memory_bytes = 4ULL << 20;
    EXPECT_THROW(validate_compare_options(options), Error);
    options.memory_bytes = 128ULL << 20;
    options.paths = {"vm"};
    EXPECT_NO_THROW(validate_compare_options(options));
}

TEST(BenchCompareOptions, NewOptionsValidated) {
    CompareOptions options;
    options.size_mib = 0;
    EXPECT_THROW(validate_compare_options(options), Error);
    options = CompareOptions{};
    options.scale_max = -1;
    EXPECT_THROW(validate_compare_options(options), Error);
    options = CompareOptions{};
    options.paths = {"container", "podman"};
    EXPECT_THROW(validate_compare_options(options), Error);
    options = CompareOptions{};
    options.paths = {};
    EXPECT_THROW(validate_compare_options(options), Error);
    options = CompareOptions{};
    options.workload = "mem";
    options.size_mib = 200;  // needs about 432 MiB, more than the default 256M
    EXPECT_THROW(validate_compare_options(options), Error);
}

Results scale_results() {
    Results results;
    results.settings.workload = "web";
    results.settings.scale_instances = {1, 2};
    ScaleSeries container{"container", {{scale_figure::all_ready, "container rule"}}, {}};
    container.points.push_back({1, true, "", {{scale_figure::all_ready, 50}, {scale_figure::memory_total, 4e6},
                                              {scale_figure::disk_total, 2e6}}});
    container.points.push_back({2, true, "", {{scale_figure::all_ready, 80}, {scale_figure::memory_total, 8e6},
                                              {scale_figure::disk_total, 2.1e6}}});
    ScaleSeries vm{"vm", {}, {}};
    vm.points.push_back({1, false, "an instance failed: VM isolab-bench-1 timed out", {}});
    vm.points.push_back({2, false, "an instance failed: VM isolab-bench-1 timed out", {}});
    results.scale = {container, vm};
    return results;
}

TEST(BenchScaleResults, JsonRoundTrip) {
    auto document = to_json(scale_results());
    EXPECT_EQ(document.at("schema_version"), 2);
    const auto& scale = document.at("scale");
    for (const auto& definition : scale_figure_catalog()) {
        EXPECT_FALSE(scale.at("figure_catalog").at(definition.key).at("definition").get<std::string>().empty());
    }
    ASSERT_EQ(scale.at("series").size(), 2U);
    EXPECT_EQ(scale.at("series")[0].at("points")[1].at("figures").at("all_ready_ms"), 80);
    EXPECT_EQ(scale.at("series")[1].at("points")[0].at("missing_reason"), "an instance failed: VM isolab-bench-1 timed out");

    auto read = results_from_json(document);
    ASSERT_EQ(read.scale.size(), 2U);
    EXPECT_EQ(read.scale[0].points[1].instances, 2);
    EXPECT_DOUBLE_EQ(read.scale[0].points[1].figures.at(scale_figure::memory_total), 8e6);
    EXPECT_EQ(read.scale[0].definitions.at(scale_figure::all_ready), "container rule");
    EXPECT_FALSE(read.scale[1].points[0].available);
    EXPECT_EQ(read.settings.scale_instances, (std::vector<int>{1, 2}));
}

TEST(BenchScaleResults, NewFiguresInCatalog) {
    for (const char* key : {figure::memory_working_set, figure::memory_pss, figure::cpu_run, figure::io_rootfs_write,
                            figure::io_rootfs_read, figure::io_volume_write, figure::io_volume_read}) {
        const auto& definition = figure_definition(key);
        EXPECT_FALSE(definition.definition.empty()) << key;
        EXPECT_TRUE(definition.unit == "ms" || definition.unit == "bytes") << key;
    }
}

TEST(BenchScaleResults, VmMemorySplitInCatalog) {
    for (const char* key : {figure::memory_guest_ram_touched, figure::memory_vmm_overhead}) {
        const auto& definition = figure_definition(key);
        EXPECT_EQ(definition.unit, "bytes") << key;
        EXPECT_FALSE(definition.definition.empty()) << key;
    }
}

TEST(BenchRunNotes, JsonRoundTrip) {
    Results results;
    PathResult path;
    path.name = "vm";
    RunSample run;
    run.figures[figure::memory_pss] = 300e6;
    run.figures[figure::memory_guest_ram_touched] = 100e6;
    run.figures[figure::memory_vmm_overhead] = 200e6;
    run.notes = {"io rootfs: wrote /var/isolab-io/isolab-io on /dev/vda (ext4) mounted on /"};
    path.runs.push_back(run);
    results.paths.push_back(path);

    auto document = to_json(results);
    const auto& written = document.at("paths")[0].at("runs")[0];
    EXPECT_EQ(written.at("notes")[0], run.notes[0]);
    EXPECT_EQ(written.at("figures").at("memory_guest_ram_touched_bytes"), 100e6);
    EXPECT_EQ(written.at("figures").at("memory_vmm_overhead_bytes"), 200e6);

    auto read = results_from_json(document);
    EXPECT_EQ(read.paths[0].runs[0].notes, run.notes);
}

TEST(BenchRunNotes, AbsentWhenEmpty) {
    Results results;
    PathResult path;
    path.name = "container";
    path.runs.push_back(RunSample{});
    results.paths.push_back(path);
    auto document = to_json(results);
    EXPECT_FALSE(document.at("paths")[0].at("runs")[0].contains("notes"));
    EXPECT_TRUE(results_from_json(document).paths[0].runs[0].notes.empty());
}

TEST(BenchVmRunner, IoBootsFromDisk) {
    EXPECT_EQ(vm_root_form(find_workload("io")), vm::guest::RootForm::disk);
    for (const char* name : {"hello", "web", "cpu", "mem"}) {
        EXPECT_EQ(vm_root_form(find_workload(name)), vm::guest::RootForm::initramfs) << name;
    }
}

TEST(BenchVmRunner, AcceptsWebAndBareQemuRejectsIt) {
    image::Store store(Paths{"/nonexistent/root", "/nonexistent/cache"});
    auto web = find_workload("web");
    EXPECT_EQ(make_vm_runner(store, {})->unsupported_reason(web), std::nullopt);
    auto reason = make_qemu_runner(store, {})->unsupported_reason(web);
    ASSERT_TRUE(reason.has_value());
    EXPECT_EQ(reason->rfind("not available: ", 0), 0U) << *reason;
    EXPECT_NE(reason->find("no NIC"), std::string::npos) << *reason;
    EXPECT_EQ(make_qemu_runner(store, {})->unsupported_reason(find_workload("hello")), std::nullopt);
}

TEST(BenchVmRunner, DefinesVmMemorySplit) {
    image::Store store(Paths{"/nonexistent/root", "/nonexistent/cache"});
    auto runner = make_vm_runner(store, {});
    const auto& definitions = runner->description().definitions;
    EXPECT_TRUE(definitions.contains(figure::memory_guest_ram_touched));
    EXPECT_TRUE(definitions.contains(figure::memory_vmm_overhead));
    EXPECT_NE(definitions.at(figure::io_rootfs_write).find("disk"), std::string::npos);
}

TEST(BenchScaleReport, TableHasPointsAndReasons) {
    auto rows = scale_rows(scale_results());
    ASSERT_EQ(rows.size(), 5U);
    EXPECT_EQ(rows[0], (std::vector<std::string>{"path", "instances", "all ready", "memory total", "disk total"}));
    EXPECT_EQ(rows[2][0], "container");
    EXPECT_EQ(rows[2][1], "2");
    EXPECT_EQ(rows[2][2], format_figure(80, "ms"));
    EXPECT_EQ(rows[3][2], "an instance failed: VM isolab-bench-1 timed out");
}

TEST(BenchScaleReport, MarkdownAndHtmlDrawScale) {
    auto results = scale_results();
    auto markdown = render_markdown(results);
    EXPECT_NE(markdown.find("## Scale"), std::string::npos);
    EXPECT_NE(markdown.find("| container | 2 |"), std::string::npos);
    auto html = render_html({results});
    EXPECT_NE(html.find("id=\"chart-scale-all_ready_ms-1\""), std::string::npos);
    EXPECT_NE(html.find("<polyline"), std::string::npos);
    EXPECT_NE(html.find("an instance failed: VM isolab-bench-1 timed out"), std::string::npos);
}

TEST(BenchScaleReport, NoScaleNoSection) {
    Results results;
    EXPECT_EQ(render_scale_markdown(results), "");
    EXPECT_EQ(render_scale_html(results, "1"), "");
}

TEST(BenchLineChart, PointPerInstanceCount) {
    LineChart chart{"c", "t", "instances", {{"container", {{1, 10}, {2, 20}, {4, 45}}}},
                    [](double value) { return format_figure(value, "ms"); }};
    auto svg = render_line_chart(chart);
    std::size_t circles = 0;
    for (auto at = svg.find("<circle"); at != std::string::npos; at = svg.find("<circle", at + 1)) ++circles;
    EXPECT_EQ(circles, 3U);
    EXPECT_NE(svg.find("container at 4: " + format_figure(45, "ms")), std::string::npos);
}

TEST(BenchWarnings, TcgCpuFiguresFlagged) {
    Results results;
    PathResult vm;
    vm.name = "vm";
    RunSample run;
    run.accelerator = "tcg";
    run.figures[figure::cpu_run] = 5000;
    run.figures[figure::startup] = 1;
    vm.runs.push_back(run);
    results.paths.push_back(vm);
    compute_derived(results);
    auto warnings = result_warnings(results);
    ASSERT_EQ(warnings.size(), 1U);
    EXPECT_NE(warnings[0].find("EMULATED"), std::string::npos);
    EXPECT_NE(render_table(results, false).find("EMULATED"), std::string::npos);

    results.paths[0].runs[0].accelerator = "kvm";
    compute_derived(results);
    EXPECT_TRUE(result_warnings(results).empty());
}

// A runner that only checks readiness by output lines, as the reference tools do.
class LineOnlyRunner final : public Runner {
public:
    explicit LineOnlyRunner(std::string name, std::string role) {
        description_.name = std::move(name);
        description_.role = std::move(role);
    }
    const PathDescription& description() const override { return description_; }
    RunSample run(const Workload&) override { throw Error("must not run"); }

private:
    PathDescription description_;
};

TEST(BenchCompareWorkloads, PortWorkloadSkipsLineOnlyPaths) {
    std::vector<std::unique_ptr<Runner>> runners;
    runners.push_back(std::make_unique<LineOnlyRunner>("container", "isolab"));
    CompareOptions options;
    options.runs = 1;
    options.warmup = 0;
    options.scale_max = 2;
    auto results = run_compare_with(std::move(runners), options, find_workload("web"), nullptr);
    ASSERT_EQ(results.paths.size(), 1U);
    EXPECT_FALSE(results.paths[0].available);
    EXPECT_NE(results.paths[0].missing_reason.find("published port"), std::string::npos);
    ASSERT_EQ(results.scale.size(), 1U);
    ASSERT_EQ(results.scale[0].points.size(), 2U);
    EXPECT_FALSE(results.scale[0].points[0].available);
    EXPECT_EQ(results.scale[0].points[0].missing_reason, results.paths[0].missing_reason);
}

}  // namespace
}  // namespace isolab::bench
