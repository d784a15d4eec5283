// Line charts for the scale series: one curve per path, x the number of instances.
#include <algorithm>

#include <fmt/format.h>

#include "bench/svg_chart.hpp"

namespace isolab::bench {

namespace {

constexpr int plot_height = 200;
constexpr int plot_width = chart_width - label_width - 40;
constexpr int axis_label_height = 40;

}  // namespace

std::string render_line_chart(const LineChart& chart) {
    double x_max = 0;
    double y_max = 0;
    for (const auto& series : chart.series) {
        for (const auto& [x, y] : series.points) {
            x_max = std::max(x_max, x);
            y_max = std::max(y_max, y);
        }
    }
    int legend_height = 18 * static_cast<int>(chart.series.size());
    int height = title_height + plot_height + axis_label_height + legend_height;
    std::string svg = open_chart_svg(chart.id, "chart line-chart", "", height, chart.title);
    if (x_max <= 0) return svg + "</svg>";
    if (y_max <= 0) y_max = 1;

    int top = title_height;
    int bottom = top + plot_height;
    auto to_x = [&](double x) { return label_width + x / x_max * plot_width; };
    auto to_y = [&](double y) { return bottom - y / y_max * (plot_height - 10); };

    // Axes, the y maximum and the x ticks at each instance count of the first series.
    svg += fmt::format(R"(<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#333"/>)", label_width, top,
                       label_width, bottom);
    svg += fmt::format(R"(<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#333"/>)", label_width, bottom,
                       label_width + plot_width, bottom);
    svg += row_label(static_cast<int>(to_y(y_max)) + 4, chart.format_value(y_max));
    svg += row_label(bottom + 4, chart.format_value(0));
    std::vector<double> ticks;
    for (const auto& series : chart.series) {
        for (const auto& point : series.points) ticks.push_back(point.first);
    }
    std::sort(ticks.begin(), ticks.end());
    ticks.erase(std::unique(ticks.begin(), ticks.end()), ticks.end());
    for (double tick : ticks) {
        svg += fmt::format(R"(<text x="{:.2f}" y="{}" text-anchor="middle" class="tick">{}</text>)", to_x(tick),
                           bottom + 16, fmt::format("{:g}", tick));
    }
    svg += fmt::format(R"(<text x="{:.2f}" y="{}" text-anchor="middle" class="axis-label">{}</text>)",
                       label_width + plot_width / 2.0, bottom + 34, escape_html(chart.x_label));

    int legend_y = bottom + axis_label_height;
    for (std::size_t i = 0; i < chart.series.size(); ++i) {
        const auto& series = chart.series[i];
        const char* colour = chart_palette[i % std::size(chart_palette)];
        std::string points;
        for (const auto& [x, y] : series.points) points += fmt::format("{:.2f},{:.2f} ", to_x(x), to_y(y));
        if (series.points.size() > 1) {
            svg += fmt::format(R"(<polyline class="curve" fill="none" stroke="{}" stroke-width="2" points="{}"/>)",
                               colour, points);
        }
        for (const auto& [x, y] : series.points) {
            svg += fmt::format(
                R"(<circle class="point" cx="{:.2f}" cy="{:.2f}" r="4" fill="{}"><title>{} at {:g}: {}</title></circle>)",
                to_x(x), to_y(y), colour, escape_html(series.name), x, escape_html(chart.format_value(y)));
        }
        svg += legend_entry(label_width, legend_y + 18 * static_cast<int>(i), colour, series.name);
    }
    return svg + "</svg>";
}

}  // namespace isolab::bench
