#include "bench/waterfall.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "bench/report.hpp"
#include "bench/svg_chart.hpp"

namespace isolab::bench {

namespace {

constexpr int bar_area_width = 500;
constexpr int row_height = 22;
constexpr int axis_height = 30;
constexpr int legend_height = 24;
constexpr int text_bar_width = 40;

constexpr const char* host_colour = chart_palette[0];
constexpr const char* guest_colour = chart_palette[1];

std::size_t counted_runs(const PathResult& path) {
    return static_cast<std::size_t>(
        std::count_if(path.runs.begin(), path.runs.end(), [](const RunSample& run) { return !run.warmup; }));
}

std::string waterfall_title(const PathResult& path, std::size_t runs) {
    auto accelerator = path.accelerator();
    std::string accelerator_text = accelerator.empty() ? "no accelerator, host kernel" : "accelerator " + accelerator;
    return fmt::format("{} boot waterfall ({}), median of {} counted run{}", path.name, accelerator_text, runs,
                       runs == 1 ? "" : "s");
}

// A tick step of 1, 2 or 5 times a power of ten that gives at most about six ticks.
double tick_step(double range_ms) {
    if (range_ms <= 0) return 1;
    double rough = range_ms / 6;
    double magnitude = std::pow(10.0, std::floor(std::log10(rough)));
    for (double factor : {1.0, 2.0, 5.0}) {
        if (factor * magnitude >= rough) return factor * magnitude;
    }
    return 10 * magnitude;
}

double waterfall_end(const Waterfall& waterfall) {
    double end = 0;
    for (const auto& bar : waterfall.bars) end = std::max(end, bar.end_ms);
    return end;
}

std::string render_axis(double end_ms, double scale, int y) {
    std::string svg = fmt::format(R"(<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#666"/>)",
                                  label_width, y, label_width + bar_area_width, y);
    double step = tick_step(end_ms);
    for (double tick = 0; tick <= end_ms + step / 2; tick += step) {
        double x = label_width + tick * scale;
        svg += fmt::format(R"(<line x1="{:.2f}" y1="{}" x2="{:.2f}" y2="{}" stroke="#666"/>)", x, y, x, y + 4);
        svg += fmt::format(R"(<text x="{:.2f}" y="{}" text-anchor="middle" class="legend">{:g}</text>)", x, y + 16,
                           tick);
    }
    svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="end" class="legend">ms</text>)", label_width - 8, y + 16);
    return svg;
}

std::string render_legend(int y) {
    std::string svg;
    int x = label_width;
    for (auto [colour, text] : {std::pair{host_colour, "host clock"},
                                std::pair{guest_colour, "guest clock, placed on the host clock"}}) {
        svg += legend_entry(x, y, colour, text);
        x += 120;
    }
    return svg;
}

}  // namespace

std::vector<WaterfallBar> waterfall_bars(const std::vector<PhaseSample>& median_phases) {
    std::vector<PhaseSample> sorted = median_phases;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const PhaseSample& a, const PhaseSample& b) { return a.at_ms < b.at_ms; });

    std::vector<WaterfallBar> bars;
    double previous_ms = 0;
    for (const auto& phase : sorted) {
        double start_ms = std::min(previous_ms, std::max(0.0, phase.at_ms));
        double end_ms = std::max(start_ms, phase.at_ms);
        bars.push_back({phase.name, start_ms, end_ms, phase.clock.empty() ? "host" : phase.clock});
        previous_ms = end_ms;
    }
    return bars;
}

std::vector<Waterfall> waterfalls(const Results& results) {
    std::vector<Waterfall> all;
    for (const auto& path : results.paths) {
        if (!path.available || path.median_phases.empty()) continue;
        auto runs = counted_runs(path);
        all.push_back({path.name, waterfall_title(path, runs), runs, waterfall_bars(path.median_phases)});
    }
    return all;
}

std::string render_waterfall_svg(const Waterfall& waterfall, const std::string& id) {
    double end_ms = waterfall_end(waterfall);
    double axis_end_ms = std::ceil(end_ms / tick_step(end_ms)) * tick_step(end_ms);
    double scale = axis_end_ms > 0 ? bar_area_width / axis_end_ms : 0;
    int axis_top = title_height + static_cast<int>(waterfall.bars.size()) * row_height + 4;
    int height = axis_top + axis_height + legend_height;

    std::string data_path = fmt::format(R"( data-path="{}")", escape_html(waterfall.path));
    std::string svg = open_chart_svg(id, "chart waterfall", data_path, height, waterfall.title);

    for (std::size_t i = 0; i < waterfall.bars.size(); ++i) {
        const auto& bar = waterfall.bars[i];
        int y = title_height + static_cast<int>(i) * row_height;
        double x = label_width + bar.start_ms * scale;
        double width = std::max(1.0, (bar.end_ms - bar.start_ms) * scale);  // keep instant phases visible
        bool guest = bar.clock == "guest";
        svg += row_label(y + 15, bar.name);
        svg += fmt::format(
            R"(<rect class="{}" x="{:.2f}" y="{}" width="{:.2f}" height="{}" fill="{}"><title>{} ({} clock): {} to {}</title></rect>)",
            guest ? "bar-guest" : "bar-host", x, y + 3, width, row_height - 6, guest ? guest_colour : host_colour,
            escape_html(bar.name), escape_html(bar.clock), escape_html(format_figure(bar.start_ms, "ms")),
            escape_html(format_figure(bar.end_ms, "ms")));
        svg += fmt::format(R"(<text x="{:.2f}" y="{}" class="value">{}</text>)", x + width + 4, y + 15,
                           escape_html(format_figure(bar.end_ms - bar.start_ms, "ms")));
    }
    svg += render_axis(axis_end_ms, scale, axis_top);
    svg += render_legend(axis_top + axis_height);
    return svg + "</svg>";
}

std::string render_waterfall_markdown(const Waterfall& waterfall) {
    double end_ms = waterfall_end(waterfall);
    double scale = end_ms > 0 ? text_bar_width / end_ms : 0;

    std::string text = "### " + waterfall.title + "\n\n";
    text += "| phase | clock | start ms | end ms | duration ms | timeline |\n|---|---|---:|---:|---:|---|\n";
    for (const auto& bar : waterfall.bars) {
        auto offset = static_cast<std::size_t>(std::lround(bar.start_ms * scale));
        auto length = std::max<std::size_t>(1, static_cast<std::size_t>(std::lround((bar.end_ms - bar.start_ms) * scale)));
        // Host phases are drawn with '#', guest phases with '=', so the clocks stay apart in plain text.
        std::string timeline = std::string(offset, '.') + std::string(length, bar.clock == "guest" ? '=' : '#');
        text += fmt::format("| {} | {} | {:.1f} | {:.1f} | {:.1f} | `{}` |\n", bar.name, bar.clock, bar.start_ms,
                            bar.end_ms, bar.end_ms - bar.start_ms, timeline);
    }
    return text;
}

}  // namespace isolab::bench
