#include "bench/svg_chart.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace isolab::bench {

namespace {

constexpr int bar_area_width = 460;
constexpr int row_height = 26;
constexpr int legend_row_height = 18;

double row_total(const BarRow& row) {
    double total = 0;
    for (const auto& segment : row.segments) total += std::max(0.0, segment.value);
    return total;
}

std::vector<std::string> legend_names(const BarChart& chart) {
    std::vector<std::string> names;
    for (const auto& row : chart.rows) {
        for (const auto& segment : row.segments) {
            if (std::find(names.begin(), names.end(), segment.name) == names.end()) names.push_back(segment.name);
        }
    }
    return names;
}

std::string render_row(const BarRow& row, int y, double scale, const std::map<std::string, std::string>& colours,
                       const BarChart& chart) {
    std::string svg = row_label(y + 17, row.label);
    double x = label_width;
    for (const auto& segment : row.segments) {
        double width = std::max(0.0, segment.value) * scale;
        if (width > 0 && width < 1) width = 1;  // keep tiny segments visible
        svg += fmt::format(
            R"(<rect class="segment" x="{:.2f}" y="{}" width="{:.2f}" height="{}" fill="{}"><title>{}: {}</title></rect>)",
            x, y + 4, width, row_height - 8, colours.at(segment.name), escape_html(segment.name),
            escape_html(chart.format_value(segment.value)));
        x += width;
    }
    if (!row.segments.empty()) {
        svg += fmt::format(R"(<text x="{:.2f}" y="{}" class="value">{}</text>)", x + 6, y + 17,
                           escape_html(chart.format_value(row_total(row))));
    }
    return svg;
}

std::string render_legend(const std::vector<std::string>& names, const std::map<std::string, std::string>& colours,
                          int y) {
    std::string svg;
    int x = label_width;
    for (const auto& name : names) {
        int width = 22 + static_cast<int>(name.size()) * 7;
        if (x + width > chart_width) {
            x = label_width;
            y += legend_row_height;
        }
        svg += legend_entry(x, y, colours.at(name), name);
        x += width;
    }
    return svg;
}

int legend_height(const std::vector<std::string>& names) {
    int rows = 1;
    int x = label_width;
    for (const auto& name : names) {
        int width = 22 + static_cast<int>(name.size()) * 7;
        if (x + width > chart_width) {
            ++rows;
            x = label_width;
        }
        x += width;
    }
    return rows * legend_row_height + 8;
}

}  // namespace

std::string escape_html(const std::string& text) {
    std::string escaped;
    for (char c : text) {
        switch (c) {
            case '&': escaped += "&amp;"; break;
            case '<': escaped += "&lt;"; break;
            case '>': escaped += "&gt;"; break;
            case '"': escaped += "&quot;"; break;
            case '\'': escaped += "&#39;"; break;
            default: escaped += c;
        }
    }
    return escaped;
}

std::string open_chart_svg(const std::string& id, const std::string& classes, const std::string& extra_attributes,
                           int height, const std::string& title) {
    std::string svg = fmt::format(
        R"(<svg xmlns="http://www.w3.org/2000/svg" id="{}" class="{}"{} width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}">)",
        escape_html(id), classes, extra_attributes, chart_width, height, chart_width, height, escape_html(title));
    svg += fmt::format(R"(<text x="0" y="18" class="title">{}</text>)", escape_html(title));
    return svg;
}

std::string row_label(int y, const std::string& text) {
    return fmt::format(R"(<text x="{}" y="{}" text-anchor="end" class="label">{}</text>)", label_width - 8, y,
                       escape_html(text));
}

std::string legend_entry(int x, int y, const std::string& colour, const std::string& text) {
    std::string svg = fmt::format(R"(<rect x="{}" y="{}" width="12" height="12" fill="{}"/>)", x, y, colour);
    svg += fmt::format(R"(<text x="{}" y="{}" class="legend">{}</text>)", x + 16, y + 11, escape_html(text));
    return svg;
}

std::string render_bar_chart(const BarChart& chart) {
    auto names = legend_names(chart);
    std::map<std::string, std::string> colours;
    for (std::size_t i = 0; i < names.size(); ++i) colours[names[i]] = chart_palette[i % std::size(chart_palette)];

    double largest = 0;
    for (const auto& row : chart.rows) largest = std::max(largest, row_total(row));
    double scale = largest > 0 ? bar_area_width / largest : 0;

    int legend_top = title_height + static_cast<int>(chart.rows.size()) * row_height + 6;
    int height = legend_top + legend_height(names);

    std::string svg = open_chart_svg(chart.id, "chart", "", height, chart.title);
    for (std::size_t i = 0; i < chart.rows.size(); ++i) {
        svg += render_row(chart.rows[i], title_height + static_cast<int>(i) * row_height, scale, colours, chart);
    }
    svg += render_legend(names, colours, legend_top);
    return svg + "</svg>";
}

}  // namespace isolab::bench
