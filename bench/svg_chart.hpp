#pragma once
// Horizontal bar charts as inline SVG, drawn by isolab itself so report.html needs no
// script and no network. Each row is one bar made of named segments, with a legend and
// the total written at the end of the bar.
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace isolab::bench {

struct BarSegment {
    std::string name;   // legend entry; equal names share a colour across rows
    double value = 0;
};

struct BarRow {
    std::string label;
    std::vector<BarSegment> segments;
};

struct BarChart {
    std::string id;      // the svg element's id
    std::string title;
    std::vector<BarRow> rows;
    std::function<std::string(double)> format_value;  // for totals and tooltips
};

// Layout shared by the bar charts and the boot waterfalls, in SVG user units. Row labels
// end 8 units left of label_width, where the bars begin.
inline constexpr int chart_width = 760;
inline constexpr int label_width = 170;
inline constexpr int title_height = 28;

// Colour-blind safe palette (Okabe and Ito). The waterfalls draw host clock phases in
// the first colour (blue) and guest clock phases in the second (orange).
inline constexpr const char* chart_palette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
                                                "#D55E00", "#F0E442", "#999999", "#000000"};

// Opens an <svg> element chart_width wide and `height` high, with the class attribute
// `classes`, then any `extra_attributes` (raw, each with a leading space), and draws
// `title` as its first line.
std::string open_chart_svg(const std::string& id, const std::string& classes, const std::string& extra_attributes,
                           int height, const std::string& title);

// Draws a row label right-aligned before the bar area, with its baseline at `y`.
std::string row_label(int y, const std::string& text);

// Draws one legend entry at (x, y): a 12-unit colour square and its text.
std::string legend_entry(int x, int y, const std::string& colour, const std::string& text);

// Renders the chart as an <svg> element. Rows with no segments get a label and no bar.
std::string render_bar_chart(const BarChart& chart);

// A curve of a line chart: points (x, y) in increasing x.
struct LineSeries {
    std::string name;   // legend entry
    std::vector<std::pair<double, double>> points;
};

// Curves over a shared x axis (e.g. instance counts), y from 0 to the largest value.
struct LineChart {
    std::string id;
    std::string title;
    std::string x_label;
    std::vector<LineSeries> series;
    std::function<std::string(double)> format_value;  // y axis labels and tooltips
};

// Renders the chart as an <svg> element with axes, a marker and tooltip per point and a
// legend. A chart without points gets its title and no axes.
std::string render_line_chart(const LineChart& chart);

// Escapes &, <, >, " and ' for HTML and SVG text and attributes.
std::string escape_html(const std::string& text);

}  // namespace isolab::bench
