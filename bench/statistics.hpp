#pragma once
// Summary statistics of repeated measurements: median, min, max, p95, mean, standard
// deviation, and which values are outliers under Tukey's fences. Outliers are flagged,
// never removed: every summary is over all values.
#include <cstddef>
#include <string>
#include <vector>

namespace isolab::bench {

// The rule used to flag outliers, stated in results and reports.
inline constexpr const char* outlier_rule =
    "a value is an outlier when it lies outside [Q1 - 1.5*IQR, Q3 + 1.5*IQR] "
    "(Tukey's fences, quartiles by linear interpolation); with fewer than 4 values none "
    "is flagged; outliers stay in every statistic";

struct Summary {
    std::size_t count = 0;
    double median = 0;
    double min = 0;
    double max = 0;
    double p95 = 0;
    double mean = 0;
    double standard_deviation = 0;   // sample standard deviation (n - 1); 0 for one value
    std::vector<std::size_t> outliers;  // indices into the input, ascending
};

// The q-quantile (0 <= q <= 1) of `values` by linear interpolation between the closest
// ranks (Hyndman and Fan type 7, the default of R and NumPy). Throws Error when empty.
double quantile(std::vector<double> values, double q);

// Summarises `values`. An empty input gives a Summary with count 0.
Summary summarize(const std::vector<double>& values);

}  // namespace isolab::bench
