#include <gtest/gtest.h>

#include <filesystem>

#include "lessons/engine/class_report.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"

namespace isolab::lessons {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json record(const std::string& student, const std::string& state_of_second, const std::string& status) {
    return {{"format", "isolab-lesson-record"},
            {"version", 1},
            {"student", student},
            {"generated_at", "2026-12-04T12:00:00Z"},
            {"lessons",
             {{{"number", 1},
               {"name", "01-vm-whole-computer"},
               {"title", "A VM is a whole computer"},
               {"status", status},
               {"completed_at", status == "complete" ? "2026-12-04T11:00:00Z" : ""},
               {"tasks",
                {{{"id", "vm-kernel"}, {"state", "done"}, {"done_at", "2026-12-04T10:00:00Z"}, {"hints_shown", 1}},
                 {{"id", "vm-time"}, {"state", state_of_second}, {"done_at", ""}, {"hints_shown", 0}}}}}}}};
}

class ClassFolder : public ::testing::Test {
protected:
    ClassFolder() : folder_(fs::temp_directory_path(), "isolab-class-") {}
    void write(const std::string& name, const std::string& content) { write_file_atomic(folder_.path() / name, content); }
    TemporaryDirectory folder_;
};

TEST_F(ClassFolder, MergesRecordsIntoTable) {
    write("alice.json", record("alice", "done", "complete").dump());
    write("bob.json", record("bob <b>", "not yet", "in progress").dump());
    write("notes.txt", "ignored: not a .json file");

    auto html = class_report_html(folder_.path());
    EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
    EXPECT_NE(html.find("2 students"), std::string::npos);
    EXPECT_NE(html.find("<td class=\"student\">alice</td>"), std::string::npos);
    EXPECT_NE(html.find("bob &lt;b&gt;"), std::string::npos) << "student names must be escaped";
    EXPECT_EQ(html.find("<b>"), std::string::npos);
    EXPECT_NE(html.find("class=\"complete\""), std::string::npos);
    EXPECT_NE(html.find("class=\"partial\""), std::string::npos);
    EXPECT_NE(html.find("2/2"), std::string::npos);
    EXPECT_NE(html.find("1/2"), std::string::npos);
    EXPECT_NE(html.find("A VM is a whole computer"), std::string::npos);
    EXPECT_NE(html.find("vm-kernel: done at 2026-12-04T10:00:00Z"), std::string::npos);
    EXPECT_EQ(html.find("<link"), std::string::npos) << "the page must be self-contained";
    EXPECT_EQ(html.find("<script src"), std::string::npos);
    EXPECT_LT(html.find("alice"), html.find("bob &lt;b&gt;")) << "rows are sorted by student";
}

TEST_F(ClassFolder, MissingLessonShowsDash) {
    auto other = record("carol", "done", "complete");
    other["lessons"][0]["name"] = "02-container-process";
    other["lessons"][0]["number"] = 2;
    auto html = render_class_report({record("alice", "done", "complete"), other});
    EXPECT_NE(html.find("<td class=\"none\">-</td>"), std::string::npos);
}

TEST_F(ClassFolder, InvalidRecordNamesFile) {
    write("alice.json", record("alice", "done", "complete").dump());
    write("broken.json", R"({"format": "isolab-results"})");
    try {
        class_report_html(folder_.path());
        FAIL() << "an invalid record must raise Error";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("broken.json"), std::string::npos) << error.what();
    }
}

TEST_F(ClassFolder, InvalidJsonNamesFile) {
    write("torn.json", "{\"format\": ");
    try {
        class_report_html(folder_.path());
        FAIL() << "invalid JSON must raise Error";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("torn.json"), std::string::npos) << error.what();
    }
}

TEST_F(ClassFolder, EmptyFolderRaisesError) {
    EXPECT_THROW(class_report_html(folder_.path()), Error);
    EXPECT_THROW(class_report_html(folder_.path() / "missing"), Error);
}

}  // namespace
}  // namespace isolab::lessons
