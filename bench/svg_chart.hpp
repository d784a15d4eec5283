#pragma once
// Horizontal bar charts as inline SVG, drawn by isolab itself so report.html needs no
// script and no network. Each row is one bar made of named segments, with a legend and
// the total written at the end of the bar.
#include <functional>
#include <string>
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

// Renders the chart as an <svg> element. Rows with no segments get a label and no bar.
std::string render_bar_chart(const BarChart& chart);

// Escapes &, <, >, " and ' for HTML and SVG text and attributes.
std::string escape_html(const std::string& text);

}  // namespace isolab::bench
