#pragma once
// Rendering results for people and spreadsheets: the plain table compare prints,
// report.md, the self-contained report.html (charts as inline SVG) and the CSV of
// per-run figures. Every renderer reads only a Results value, never a runtime.
#include <string>
#include <vector>

#include "bench/results.hpp"

namespace isolab::bench {

// "612.3 ms" for a unit of ms, "1.4 MB" for bytes.
std::string format_figure(double value, const std::string& unit);

// Sentences for students that read the numbers: how much longer the VM took and why,
// memory and disk against each other, the kernels, outliers, references. Computed from
// the figures; a sentence is left out when its figures are missing.
std::vector<std::string> plain_reading(const Results& results);

// The figure table (path, figure, median, min, max, p95, stddev, n, outliers) and the
// fact table (path, kernel, accelerator, started means), first row the header.
std::vector<std::vector<std::string>> figure_rows(const Results& results);
std::vector<std::vector<std::string>> fact_rows(const Results& results);

// One aligned table of every summarised figure per path; ANSI bold header when `color`.
std::string render_table(const Results& results, bool color);

std::string render_markdown(const Results& results);

// One HTML page for one or more results (several hosts or students side by side).
// Throws Error when `results` is empty.
std::string render_html(const std::vector<Results>& results);

// Loud warnings about figures that do not mean what they seem, e.g. CPU figures of a VM
// that ran under TCG (emulated). Empty when there is none.
std::vector<std::string> result_warnings(const Results& results);

// The scale table (path, instances, all ready, memory total, disk total), first row the
// header; a point that was not measured shows its reason. Only the header when there is
// no scale series.
std::vector<std::vector<std::string>> scale_rows(const Results& results);

// The "Scale" section of report.md, and of report.html with one SVG curve per path for
// each scale figure. Empty when there is no scale series.
std::string render_scale_markdown(const Results& results);
std::string render_scale_html(const Results& results, const std::string& id_suffix);

// One row per run and path: every figure and phase time, warm-up runs included and marked.
std::string render_runs_csv(const Results& results);

}  // namespace isolab::bench
