// `isolab report --class DIR` merges students' lesson records into one HTML table.
#include <filesystem>

#include <gtest/gtest.h>

#include "runtime/core/files.hpp"
#include "support/test_support.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;

TEST(ReportClass, MergesStudentRecords) {
    testing::TestRoot root;
    auto records = root.root() / "records";
    fs::create_directories(records);

    for (const char* student : {"ada", "grace"}) {
        setenv("ISOLAB_STUDENT", student, 1);
        auto record = testing::run_isolab(root.paths(), {"lesson", "check", "--all", "--json"});
        ASSERT_EQ(record.exit_code, 0) << record.err;
        write_file_atomic(records / (std::string(student) + ".json"), record.out);
    }
    unsetenv("ISOLAB_STUDENT");

    auto html_file = root.root() / "class.html";
    auto report = testing::run_isolab(root.paths(), {"report", "--class", records.string(), "-o", html_file.string()});
    ASSERT_EQ(report.exit_code, 0) << report.err;
    auto html = read_file(html_file);
    EXPECT_NE(html.find("ada"), std::string::npos);
    EXPECT_NE(html.find("grace"), std::string::npos);
    EXPECT_NE(html.find("<table"), std::string::npos);
}

TEST(ReportClass, RejectsMissingInput) {
    testing::TestRoot root;
    auto report = testing::run_isolab(root.paths(), {"report"});
    EXPECT_NE(report.exit_code, 0);
    EXPECT_NE(report.err.find("--class"), std::string::npos) << report.err;
}

}  // namespace
}  // namespace isolab
