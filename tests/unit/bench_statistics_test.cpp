#include <gtest/gtest.h>

#include "bench/statistics.hpp"
#include "runtime/core/error.hpp"

namespace isolab::bench {
namespace {

TEST(BenchStatistics, SummaryOfKnownValues) {
    auto summary = summarize({2, 4, 4, 4, 5, 5, 7, 9});

    EXPECT_EQ(summary.count, 8U);
    EXPECT_DOUBLE_EQ(summary.min, 2);
    EXPECT_DOUBLE_EQ(summary.max, 9);
    EXPECT_DOUBLE_EQ(summary.median, 4.5);
    EXPECT_DOUBLE_EQ(summary.mean, 5);
    // Sample standard deviation: sum of squares 32 over n - 1 = 7.
    EXPECT_NEAR(summary.standard_deviation, 2.138089935, 1e-9);
    // p95 by linear interpolation: position 0.95 * 7 = 6.65 between 7 and 9.
    EXPECT_NEAR(summary.p95, 8.3, 1e-9);
    // Q1 = 4, Q3 = 5.5, IQR = 1.5: the upper fence is 7.75, so 9 is flagged.
    ASSERT_EQ(summary.outliers.size(), 1U);
    EXPECT_EQ(summary.outliers[0], 7U);
}

TEST(BenchStatistics, OddCountMedianIsMiddle) {
    auto summary = summarize({30, 10, 20});
    EXPECT_DOUBLE_EQ(summary.median, 20);
    EXPECT_DOUBLE_EQ(summary.mean, 20);
    EXPECT_DOUBLE_EQ(summary.standard_deviation, 10);
}

TEST(BenchStatistics, SingleValue) {
    auto summary = summarize({42});
    EXPECT_EQ(summary.count, 1U);
    EXPECT_DOUBLE_EQ(summary.median, 42);
    EXPECT_DOUBLE_EQ(summary.p95, 42);
    EXPECT_DOUBLE_EQ(summary.standard_deviation, 0);
    EXPECT_TRUE(summary.outliers.empty());
}

TEST(BenchStatistics, EmptyInputHasCountZero) {
    auto summary = summarize({});
    EXPECT_EQ(summary.count, 0U);
    EXPECT_THROW(quantile({}, 0.5), Error);
}

TEST(BenchStatistics, QuantileInterpolates) {
    EXPECT_DOUBLE_EQ(quantile({1, 2, 3, 4}, 0.25), 1.75);
    EXPECT_DOUBLE_EQ(quantile({1, 2, 3, 4}, 0.75), 3.25);
    EXPECT_DOUBLE_EQ(quantile({4, 3, 2, 1}, 0), 1);
    EXPECT_DOUBLE_EQ(quantile({4, 3, 2, 1}, 1), 4);
}

TEST(BenchOutliers, HighValueFlaggedAndKept) {
    // Q1 = 11.5, Q3 = 12.5, IQR = 1: the fences are 10 and 14.
    std::vector<double> values = {12, 11, 13, 12.5, 60, 11.5, 12};
    auto summary = summarize(values);

    ASSERT_EQ(summary.outliers.size(), 1U);
    EXPECT_EQ(summary.outliers[0], 4U);
    EXPECT_DOUBLE_EQ(summary.max, 60);  // kept in every statistic
    EXPECT_EQ(summary.count, values.size());
}

TEST(BenchOutliers, LowValueFlagged) {
    auto summary = summarize({100, 101, 99, 100, 102, 1});
    ASSERT_EQ(summary.outliers.size(), 1U);
    EXPECT_EQ(summary.outliers[0], 5U);
}

TEST(BenchOutliers, ValuesOnFenceNotFlagged) {
    // Q1 = 1.75, Q3 = 3.25, IQR = 1.5: fences -0.5 and 5.5.
    auto summary = summarize({1, 2, 3, 4, 5.5});
    EXPECT_TRUE(summary.outliers.empty());
}

TEST(BenchOutliers, FewerThanFourNeverFlagged) {
    auto summary = summarize({1, 1, 1000});
    EXPECT_TRUE(summary.outliers.empty());
}

}  // namespace
}  // namespace isolab::bench
