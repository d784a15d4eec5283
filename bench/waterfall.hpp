#pragma once
// Boot waterfalls: every recorded phase of a path as a bar from the mark before it to
// its own mark, on one time axis, from the median phase marks of the counted runs.
// Rendered as inline SVG for report.html and as a text table for report.md.
#include <string>
#include <vector>

#include "bench/results.hpp"

namespace isolab::bench {

struct WaterfallBar {
    std::string name;     // the phase mark that ends the bar
    double start_ms = 0;  // the previous mark, or 0 for the first phase
    double end_ms = 0;    // this phase's median mark
    std::string clock;    // "host" or "guest"
};

struct Waterfall {
    std::string path;         // path name, e.g. "vm"
    std::string title;        // names the accelerator when the path has one
    std::size_t counted_runs = 0;
    std::vector<WaterfallBar> bars;
};

// Bars from median marks, sorted by time because medians of different runs can swap
// two close marks. A phase missing from every counted run has no bar, so the next phase
// starts at the last mark that exists. Negative marks are clamped to 0.
std::vector<WaterfallBar> waterfall_bars(const std::vector<PhaseSample>& median_phases);

// The waterfall of each available path that has phases, in results order.
std::vector<Waterfall> waterfalls(const Results& results);

// An <svg> element with id `id`: one row per phase, an axis in ms, host and guest clock
// phases in different colours and CSS classes (bar-host, bar-guest).
std::string render_waterfall_svg(const Waterfall& waterfall, const std::string& id);

// A Markdown table (phase, clock, start, end, duration) with a bar drawn in characters.
std::string render_waterfall_markdown(const Waterfall& waterfall);

}  // namespace isolab::bench
