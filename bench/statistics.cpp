#include "bench/statistics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "runtime/core/error.hpp"

namespace isolab::bench {

double quantile(std::vector<double> values, double q) {
    if (values.empty()) throw Error("quantile of an empty set of values");
    std::sort(values.begin(), values.end());

    double position = q * static_cast<double>(values.size() - 1);
    auto lower = static_cast<std::size_t>(std::floor(position));
    auto upper = static_cast<std::size_t>(std::ceil(position));
    double fraction = position - static_cast<double>(lower);
    return values[lower] + (values[upper] - values[lower]) * fraction;
}

namespace {

double sample_standard_deviation(const std::vector<double>& values, double mean) {
    if (values.size() < 2) return 0;
    double squares = 0;
    for (double value : values) squares += (value - mean) * (value - mean);
    return std::sqrt(squares / static_cast<double>(values.size() - 1));
}

std::vector<std::size_t> tukey_outliers(const std::vector<double>& values) {
    std::vector<std::size_t> outliers;
    if (values.size() < 4) return outliers;

    double q1 = quantile(values, 0.25);
    double q3 = quantile(values, 0.75);
    double fence = 1.5 * (q3 - q1);
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (values[i] < q1 - fence || values[i] > q3 + fence) outliers.push_back(i);
    }
    return outliers;
}

}  // namespace

Summary summarize(const std::vector<double>& values) {
    Summary summary;
    summary.count = values.size();
    if (values.empty()) return summary;

    auto [smallest, largest] = std::minmax_element(values.begin(), values.end());
    summary.min = *smallest;
    summary.max = *largest;
    summary.median = quantile(values, 0.5);
    summary.p95 = quantile(values, 0.95);
    summary.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
    summary.standard_deviation = sample_standard_deviation(values, summary.mean);
    summary.outliers = tukey_outliers(values);
    return summary;
}

}  // namespace isolab::bench
