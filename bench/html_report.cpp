// report.html: one self-contained page (inline CSS and SVG, no script) for one or more
// results.
#include <fmt/format.h>

#include "bench/report.hpp"
#include "bench/svg_chart.hpp"
#include "bench/waterfall.hpp"
#include "runtime/core/error.hpp"

namespace isolab::bench {

namespace {

constexpr const char* page_style = R"(
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; }
svg.chart { display: block; margin: 1em 0; }
svg .title { font-size: 15px; font-weight: bold; }
svg .label, svg .value, svg .legend { font-size: 12px; }
.warning { background: #fde8e0; border-left: 4px solid #D55E00; padding: 0.4em 0.8em; font-weight: bold; }
.reading p { background: #f4f8fb; padding: 0.4em 0.8em; border-left: 4px solid #0072B2; }
)";

std::string source_name(const Results& results) {
    if (!results.label.empty()) return results.label;
    return results.host.cpu_model + ", kernel " + results.host.kernel + ", " + results.created;
}

std::string html_table(const std::vector<std::vector<std::string>>& rows, const std::string& css_class) {
    std::string html = "<table class=\"" + css_class + "\">\n";
    for (std::size_t r = 0; r < rows.size(); ++r) {
        html += "<tr>";
        const char* cell = r == 0 ? "th" : "td";
        for (const auto& text : rows[r]) html += fmt::format("<{}>{}</{}>", cell, escape_html(text), cell);
        html += "</tr>\n";
    }
    return html + "</table>\n";
}

// Segments between consecutive median phase marks up to "ready", each named by the mark
// that ends it.
BarRow startup_row(const PathResult& path, const std::string& label) {
    BarRow row{label, {}};
    double ready_ms = path.median(figure::startup).value_or(0);
    double previous_ms = 0;
    for (const auto& phase : path.median_phases) {
        if (phase.at_ms > ready_ms) break;
        row.segments.push_back({phase.name, std::max(0.0, phase.at_ms - previous_ms)});
        previous_ms = std::max(previous_ms, phase.at_ms);
    }
    return row;
}

BarChart startup_chart(const Results& results, const std::string& id) {
    BarChart chart{id, "Startup to readiness by phase (median ms)", {},
                   [](double value) { return format_figure(value, "ms"); }};
    for (const auto& path : results.paths) {
        if (path.available && path.median(figure::startup)) chart.rows.push_back(startup_row(path, path.name));
    }
    return chart;
}

BarChart memory_chart(const Results& results, const std::string& id) {
    BarChart chart{id, "Memory (median)", {}, [](double value) { return format_figure(value, "bytes"); }};
    for (const auto& path : results.paths) {
        if (!path.available) continue;
        if (auto peak = path.median(figure::memory_peak)) chart.rows.push_back({path.name, {{"peak used", *peak}}});
        if (auto configured = path.median(figure::guest_memory)) {
            chart.rows.push_back({path.name + " (guest RAM)", {{"configured guest RAM", *configured}}});
        }
    }
    return chart;
}

BarChart disk_chart(const Results& results, const std::string& id) {
    BarChart chart{id, "Disk (median)", {}, [](double value) { return format_figure(value, "bytes"); }};
    const std::vector<std::string> parts = {figure::disk_image, figure::disk_upper, figure::disk_kernel,
                                            figure::disk_initramfs, figure::disk_base, figure::disk_overlay};
    for (const auto& path : results.paths) {
        if (!path.available || !path.median(figure::disk)) continue;
        BarRow row{path.name, {}};
        for (const auto& part : parts) {
            if (auto bytes = path.median(part)) row.segments.push_back({figure_definition(part).label, *bytes});
        }
        if (row.segments.empty()) row.segments.push_back({"disk", *path.median(figure::disk)});
        chart.rows.push_back(row);
    }
    return chart;
}

std::string host_table(const Results& results) {
    const auto& host = results.host;
    std::vector<std::vector<std::string>> rows = {
        {"host", ""},
        {"CPU", fmt::format("{} ({} CPUs)", host.cpu_model, host.cpu_count)},
        {"memory", format_figure(static_cast<double>(host.memory_total_bytes), "bytes")},
        {"OS", host.os},
        {"kernel", host.kernel},
        {"cgroup", host.cgroup_version},
        {"QEMU", host.qemu_version},
        {"libvirt", host.libvirt_version},
        {"isolab", host.isolab_version},
        {"created", results.created},
    };
    for (const auto& [tool, version] : host.tool_versions) rows.push_back({tool, version});
    return html_table(rows, "host");
}

std::string definitions_list(const Results& results) {
    std::string html = "<ul class=\"definitions\">\n";
    for (const auto& path : results.paths) {
        if (!path.available) {
            html += "<li><b>" + escape_html(path.name) + "</b>: not measured, " + escape_html(path.missing_reason) +
                    "</li>\n";
            continue;
        }
        html += "<li><b>" + escape_html(path.name) + "</b> (" + escape_html(path.runtime) +
                "): started means " + escape_html(path.started_means) + ".";
        for (const auto& [key, definition] : path.definitions) {
            html += " <i>" + escape_html(figure_definition(key).label) + "</i>: " + escape_html(definition) + ".";
        }
        html += "</li>\n";
    }
    return html + "</ul>\n";
}

std::string ratio_list(const Results& results) {
    if (results.ratios.empty()) return {};
    std::string html = "<h3>Ratios of medians</h3>\n<ul class=\"ratios\">\n";
    for (const auto& ratio : results.ratios) {
        html += fmt::format("<li>{} / {} {}: {:.2f}x</li>\n", escape_html(ratio.path), escape_html(ratio.reference),
                            escape_html(figure_definition(ratio.figure).label), ratio.value);
    }
    return html + "</ul>\n";
}

std::string waterfall_section(const Results& results, const std::string& suffix) {
    auto all = waterfalls(results);
    if (all.empty()) return {};
    std::string html = "<h3>Boot waterfalls</h3>\n<p>Each bar runs from the previous phase mark to the mark it is "
                       "named after, at the median over counted runs. Guest clock phases are drawn in orange.</p>\n";
    for (const auto& waterfall : all) {
        html += render_waterfall_svg(waterfall, "waterfall-" + waterfall.path + "-" + suffix) + "\n";
    }
    return html;
}

std::string render_section(const Results& results, std::size_t number) {
    auto suffix = std::to_string(number + 1);
    std::string html = "<section id=\"results-" + suffix + "\">\n<h2>" + escape_html(source_name(results)) + "</h2>\n";
    html += fmt::format("<p>Workload <code>{}</code> (image {}), {} counted runs per path after {} warm-up runs, {}.</p>\n",
                        escape_html(results.settings.workload), escape_html(results.settings.image),
                        results.settings.runs, results.settings.warmup, escape_html(results.settings.order));

    for (const auto& warning : result_warnings(results)) html += "<p class=\"warning\">" + escape_html(warning) + "</p>\n";
    html += "<div class=\"reading\">\n";
    for (const auto& sentence : plain_reading(results)) html += "<p>" + escape_html(sentence) + "</p>\n";
    html += "</div>\n";

    html += render_bar_chart(startup_chart(results, "chart-startup-" + suffix)) + "\n";
    html += "<p>Each segment ends at the phase it is named after; \"ready\" ends when the readiness line "
            "arrived. Guest phases are placed on the host clock by anchoring the guest uptime at readiness.</p>\n";
    html += waterfall_section(results, suffix);
    html += render_bar_chart(memory_chart(results, "chart-memory-" + suffix)) + "\n";
    html += render_bar_chart(disk_chart(results, "chart-disk-" + suffix)) + "\n";

    html += render_scale_html(results, suffix);
    html += "<h3>Every figure</h3>\n" + html_table(figure_rows(results), "figures");
    html += "<p>Outliers are counted-run numbers; " + escape_html(outlier_rule) + ".</p>\n";
    html += "<h3>Kernels and accelerator</h3>\n" + html_table(fact_rows(results), "facts");
    for (const auto& path : results.paths) {
        if (!path.accelerator_reason().empty()) {
            html += "<p>" + escape_html(path.name) + " accelerator: " + escape_html(path.accelerator_reason()) + "</p>\n";
        }
    }
    html += ratio_list(results);
    html += "<h3>What the figures mean</h3>\n" + definitions_list(results);
    html += "<h3>Host</h3>\n" + host_table(results);
    return html + "</section>\n";
}

std::string render_merged_comparison(const std::vector<Results>& all) {
    std::vector<std::vector<std::string>> rows = {
        {"source", "path", "startup", "memory peak", "disk", "accelerator", "kernel"}};
    BarChart chart{"chart-merged-startup", "Startup to readiness, every source (median ms)", {},
                   [](double value) { return format_figure(value, "ms"); }};

    for (const auto& results : all) {
        auto source = source_name(results);
        for (const auto& path : results.paths) {
            if (!path.available) continue;
            auto cell = [&path](const char* key, const char* unit) {
                auto median = path.median(key);
                return median ? format_figure(*median, unit) : std::string("-");
            };
            rows.push_back({source, path.name, cell(figure::startup, "ms"), cell(figure::memory_peak, "bytes"),
                            cell(figure::disk, "bytes"), path.accelerator().empty() ? "-" : path.accelerator(),
                            path.kernel()});
            if (path.median(figure::startup)) chart.rows.push_back(startup_row(path, source.substr(0, 18) + ": " + path.name));
        }
    }
    return "<section id=\"comparison\">\n<h2>All sources side by side</h2>\n" + render_bar_chart(chart) + "\n" +
           html_table(rows, "comparison") + "</section>\n";
}

}  // namespace

std::string render_scale_html(const Results& results, const std::string& id_suffix) {
    if (results.scale.empty()) return {};
    std::string html = "<h3>Scale</h3>\n<p>N instances started together per path.</p>\n";
    for (const auto& definition : scale_figure_catalog()) {
        LineChart chart{"chart-scale-" + definition.key + "-" + id_suffix, definition.label + " by instances",
                        "instances started together", {},
                        [unit = definition.unit](double value) { return format_figure(value, unit); }};
        for (const auto& series : results.scale) {
            LineSeries curve{series.path, {}};
            for (const auto& point : series.points) {
                auto found = point.figures.find(definition.key);
                if (point.available && found != point.figures.end()) {
                    curve.points.emplace_back(point.instances, found->second);
                }
            }
            if (!curve.points.empty()) chart.series.push_back(std::move(curve));
        }
        html += render_line_chart(chart) + "\n<p>" + escape_html(definition.label) + ": " +
                escape_html(definition.definition) + ".</p>\n";
    }
    return html + html_table(scale_rows(results), "scale");
}

std::string render_html(const std::vector<Results>& all) {
    if (all.empty()) throw Error("no results to render", "pass at least one results.json");

    std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<title>isolab: container and VM compared</title>\n<style>" +
                       std::string(page_style) + "</style>\n</head>\n<body>\n<h1>isolab: container and VM compared</h1>\n";
    if (all.size() > 1) html += render_merged_comparison(all);
    for (std::size_t i = 0; i < all.size(); ++i) html += render_section(all[i], i);
    return html + "</body>\n</html>\n";
}

}  // namespace isolab::bench
