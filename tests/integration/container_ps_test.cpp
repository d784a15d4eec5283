// `isolab ps --format`: Docker's template fields and JSON lines, which scripts and lesson
// checks read. Needs root to run the containers listed.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/root_cli_test.hpp"

namespace isolab::testing {
namespace {

class ContainerPs : public RootCliTest {
protected:
    void SetUp() override {
        RootCliTest::SetUp();
        if (IsSkipped()) return;
        auto first = isolab({"run", "--name", "first", "busybox", "true"});
        auto second = isolab({"run", "--name", "second", "busybox", "sh", "-c", "exit 3"});
        ASSERT_EQ(first.exit_code, 0) << first.err;
        ASSERT_EQ(second.exit_code, 3) << second.err;
    }

};

TEST_F(ContainerPs, TemplateFieldsOneLineEach) {
    auto result = isolab({"ps", "-a", "--format", "{{.Names}} {{.Image}} {{.State}}"});

    EXPECT_EQ(result.exit_code, 0) << result.err;
    // Newest first, as docker ps lists them.
    EXPECT_EQ(result.out, "second busybox:latest exited\nfirst busybox:latest exited\n");
}

TEST_F(ContainerPs, TableAddsHeaderAndTabs) {
    auto result = isolab({"ps", "-a", "--format", "table {{.Names}}\\t{{.State}}"});

    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "NAMES\tSTATE\nsecond\texited\nfirst\texited\n");
}

TEST_F(ContainerPs, JsonLinesParse) {
    auto result = isolab({"ps", "-a", "--format", "json"});
    ASSERT_EQ(result.exit_code, 0) << result.err;

    auto newline = result.out.find('\n');
    ASSERT_NE(newline, std::string::npos);
    auto newest = nlohmann::json::parse(result.out.substr(0, newline));
    EXPECT_EQ(newest.at("Names"), "second");
    EXPECT_EQ(newest.at("ID").get<std::string>().size(), 12U);
    // Docker's wording: "Exited (3) 2 seconds ago".
    EXPECT_EQ(newest.at("Status").get<std::string>().rfind("Exited (3) ", 0), 0U) << newest;
}

TEST_F(ContainerPs, UnknownFieldRejectedInOneLine) {
    auto result = isolab({"ps", "--format", "{{.Nmaes}}"});

    EXPECT_EQ(result.exit_code, 125);
    EXPECT_EQ(result.err.rfind("isolab: invalid --format: unknown field '.Nmaes'", 0), 0U) << result.err;
    EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << result.err;
}

}  // namespace
}  // namespace isolab::testing
