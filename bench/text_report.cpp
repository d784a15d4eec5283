// The plain table, report.md and the CSV of per-run figures.
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "bench/report.hpp"
#include "bench/waterfall.hpp"

namespace isolab::bench {

namespace {

using Row = std::vector<std::string>;

std::string align_rows(const std::vector<Row>& rows, bool color) {
    std::vector<std::size_t> widths;
    for (const auto& row : rows) {
        widths.resize(std::max(widths.size(), row.size()));
        for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }

    std::string text;
    for (std::size_t r = 0; r < rows.size(); ++r) {
        std::string line;
        for (std::size_t i = 0; i < rows[r].size(); ++i) {
            bool last = i + 1 == rows[r].size();
            line += last ? rows[r][i] : fmt::format("{:<{}}  ", rows[r][i], widths[i]);
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        text += (r == 0 && color) ? "\033[1m" + line + "\033[0m\n" : line + "\n";
    }
    return text;
}

}  // namespace

namespace {

std::string outlier_list(const Summary& summary) {
    std::string list;
    for (auto index : summary.outliers) list += (list.empty() ? "" : ",") + std::to_string(index + 1);
    return list.empty() ? "-" : list;
}

}  // namespace

std::vector<Row> figure_rows(const Results& results) {
    std::vector<Row> rows = {{"path", "figure", "median", "min", "max", "p95", "stddev", "n", "outliers"}};
    for (const auto& path : results.paths) {
        if (!path.available) {
            rows.push_back({path.name, "not measured"});
            continue;
        }
        for (const auto& definition : figure_catalog()) {
            auto found = path.summaries.find(definition.key);
            if (found == path.summaries.end()) continue;
            const auto& summary = found->second;
            const auto& unit = definition.unit;
            rows.push_back({path.name, definition.label, format_figure(summary.median, unit),
                            format_figure(summary.min, unit), format_figure(summary.max, unit),
                            format_figure(summary.p95, unit), format_figure(summary.standard_deviation, unit),
                            std::to_string(summary.count), outlier_list(summary)});
        }
    }
    return rows;
}

std::vector<Row> fact_rows(const Results& results) {
    std::vector<Row> rows = {{"path", "kernel", "accelerator", "started means"}};
    for (const auto& path : results.paths) {
        if (!path.available) continue;
        auto accelerator = path.accelerator().empty() ? "-" : path.accelerator();
        rows.push_back({path.name, path.kernel().empty() ? "-" : path.kernel(), accelerator, path.started_means});
    }
    return rows;
}

namespace {

// One line per path that did not run, with the reason.
std::string missing_lines(const Results& results) {
    std::string text;
    for (const auto& path : results.paths) {
        if (!path.available) text += path.name + " not measured: " + path.missing_reason + "\n";
    }
    return text;
}

std::string ratio_lines(const Results& results) {
    std::string text;
    for (const auto& ratio : results.ratios) {
        text += fmt::format("{} / {} {}: {:.2f}x\n", ratio.path, ratio.reference,
                            figure_definition(ratio.figure).label, ratio.value);
    }
    return text;
}

}  // namespace

std::string render_table(const Results& results, bool color) {
    std::string text;
    for (const auto& warning : result_warnings(results)) text += warning + "\n\n";
    text += align_rows(figure_rows(results), color);
    text += missing_lines(results);
    if (!results.scale.empty()) text += "\n" + align_rows(scale_rows(results), color);
    text += "\n" + align_rows(fact_rows(results), color);
    for (const auto& path : results.paths) {
        if (!path.accelerator_reason().empty()) text += path.name + " accelerator: " + path.accelerator_reason() + "\n";
    }
    auto ratios = ratio_lines(results);
    if (!ratios.empty()) text += "\n" + ratios;
    text += fmt::format("\nhost: {}, {} CPUs, kernel {}, cgroup {}\n", results.host.cpu_model, results.host.cpu_count,
                        results.host.kernel, results.host.cgroup_version);
    return text;
}

// Markdown ------------------------------------------------------------------------------

namespace {

std::string markdown_table(const std::vector<Row>& rows) {
    std::string text;
    for (std::size_t r = 0; r < rows.size(); ++r) {
        std::string line = "|";
        for (const auto& cell : rows[r]) line += " " + cell + " |";
        text += line + "\n";
        if (r == 0) {
            std::string rule = "|";
            for (std::size_t i = 0; i < rows[r].size(); ++i) rule += " --- |";
            text += rule + "\n";
        }
    }
    return text;
}

std::string markdown_host(const Results& results) {
    const auto& host = results.host;
    std::string text = fmt::format(
        "- CPU: {} ({} CPUs), memory {}\n- OS: {}, kernel {}, cgroup {}\n- QEMU: {}\n- libvirt: {}\n- isolab: {}\n",
        host.cpu_model, host.cpu_count, format_figure(static_cast<double>(host.memory_total_bytes), "bytes"), host.os,
        host.kernel, host.cgroup_version, host.qemu_version, host.libvirt_version, host.isolab_version);
    for (const auto& [tool, version] : host.tool_versions) text += "- " + tool + ": " + version + "\n";
    return text;
}

std::string markdown_waterfalls(const Results& results) {
    auto all = waterfalls(results);
    if (all.empty()) return {};
    std::string text = "## Boot waterfalls\n\nEach phase runs from the previous mark to its own, at the median over "
                       "counted runs; the timeline draws host clock phases with `#` and guest clock phases with `=`.\n\n";
    for (const auto& waterfall : all) text += render_waterfall_markdown(waterfall) + "\n";
    return text;
}

std::string markdown_definitions(const Results& results) {
    std::string text;
    for (const auto& path : results.paths) {
        if (!path.available) continue;
        text += "- **" + path.name + "** (" + path.runtime + "): started means " + path.started_means + ".";
        for (const auto& [key, definition] : path.definitions) {
            text += " " + figure_definition(key).label + ": " + definition + ".";
        }
        text += "\n";
    }
    return text;
}

}  // namespace

std::string render_markdown(const Results& results) {
    const auto& settings = results.settings;
    std::string text = "# isolab compare: " + settings.workload + "\n\n";
    text += fmt::format("{} counted runs per path after {} warm-up runs ({}), created {}.\n\n", settings.runs,
                        settings.warmup, settings.order, results.created);
    for (const auto& warning : result_warnings(results)) text += "**" + warning + "**\n\n";
    text += "## Reading\n\n";
    for (const auto& sentence : plain_reading(results)) text += sentence + "\n\n";
    text += "## Figures\n\n" + markdown_table(figure_rows(results));
    text += missing_lines(results);
    text += "\nOutliers are run numbers (1 = first counted run); " + std::string(outlier_rule) + ".\n\n";
    text += markdown_waterfalls(results);
    text += render_scale_markdown(results);
    text += "## Kernels and accelerator\n\n" + markdown_table(fact_rows(results)) + "\n";
    for (const auto& path : results.paths) {
        if (!path.accelerator_reason().empty()) text += "- " + path.name + " accelerator: " + path.accelerator_reason() + "\n";
    }
    auto ratios = ratio_lines(results);
    if (!ratios.empty()) {
        text += "\n## Ratios (medians)\n\n";
        for (const auto& ratio : results.ratios) {
            text += fmt::format("- {} / {} {}: {:.2f}x\n", ratio.path, ratio.reference,
                                figure_definition(ratio.figure).label, ratio.value);
        }
    }
    text += "\n## What each figure means\n\n" + markdown_definitions(results);
    text += "\nWorkload: `" + settings.image + "`, readiness is " + settings.readiness + ".\n";
    text += "\n## Host\n\n" + markdown_host(results);
    return text;
}

std::string render_scale_markdown(const Results& results) {
    if (results.scale.empty()) return {};
    std::string text = "## Scale\n\nN instances started together per path.\n\n" + markdown_table(scale_rows(results));
    text += "\n";
    for (const auto& definition : scale_figure_catalog()) text += "- " + definition.label + ": " + definition.definition + ".\n";
    for (const auto& series : results.scale) {
        for (const auto& [key, definition] : series.definitions) {
            text += "- " + series.path + ", " + key + ": " + definition + ".\n";
        }
    }
    return text + "\n";
}

// CSV ----------------------------------------------------------------------------------

namespace {

std::string csv_cell(const std::string& text) {
    if (text.find_first_of(",\"\n") == std::string::npos) return text;
    std::string quoted = "\"";
    for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
}

}  // namespace

std::string render_runs_csv(const Results& results) {
    std::set<std::string> phase_names;
    for (const auto& path : results.paths) {
        for (const auto& run : path.runs) {
            for (const auto& phase : run.phases) phase_names.insert(phase.name);
        }
    }

    std::string text = "path,run,warmup,exit_code,kernel,accelerator";
    for (const auto& definition : figure_catalog()) text += "," + definition.key;
    for (const auto& name : phase_names) text += ",phase_" + name + "_ms";
    text += "\n";

    for (const auto& path : results.paths) {
        for (const auto& run : path.runs) {
            text += fmt::format("{},{},{},{},{},{}", csv_cell(path.name), run.index + 1, run.warmup ? 1 : 0,
                                run.exit_code, csv_cell(run.kernel), csv_cell(run.accelerator));
            for (const auto& definition : figure_catalog()) {
                auto found = run.figures.find(definition.key);
                text += found == run.figures.end() ? "," : fmt::format(",{:.3f}", found->second);
            }
            for (const auto& name : phase_names) {
                auto found = std::find_if(run.phases.begin(), run.phases.end(),
                                          [&name](const PhaseSample& phase) { return phase.name == name; });
                text += found == run.phases.end() ? "," : fmt::format(",{:.3f}", found->at_ms);
            }
            text += "\n";
        }
    }
    return text;
}

}  // namespace isolab::bench
