// examples/webapp end to end with real containers: the development workflow (bind-mounted
// src/, edits show live) and the production one (code built into the image), HTTP over
// loopback, and the named volume that outlives `down` but not `down -v`. Needs root.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "http_client.hpp"
#include "runtime/core/files.hpp"
#include "support/root_cli_test.hpp"

namespace isolab::testing {
namespace {

namespace fs = std::filesystem;

class ComposeWebapp : public BusyboxCliTest {
protected:
    void SetUp() override {
        BusyboxCliTest::SetUp();
        if (IsSkipped()) return;
        // A copy, so the test's edits of src/ leave the example as it is.
        app_dir_ = root_.root() / "webapp";
        fs::copy(fs::path(ISOLAB_SOURCE_DIR) / "examples" / "webapp", app_dir_, fs::copy_options::recursive);
        port_ = free_port();
        setenv("WEBAPP_PORT", std::to_string(port_).c_str(), 1);
    }

    void TearDown() override {
        if (IsSkipped()) return;
        compose("compose.dev.yaml", {"down", "-v"});
        compose("compose.yaml", {"down", "-v"});
        for (const auto& message : remove_all_containers(root_.paths())) ADD_FAILURE() << message;
        unsetenv("WEBAPP_PORT");
    }

    // Runs `isolab compose -f APP/FILE ARGUMENTS`; the project name comes from the file.
    CliResult compose(const std::string& file, const std::vector<std::string>& arguments) {
        std::vector<std::string> full = {"compose", "-f", (app_dir_ / file).string()};
        full.insert(full.end(), arguments.begin(), arguments.end());
        return isolab(full);
    }

    std::string visits() { return http_get_when_up(port_, "/cgi-bin/visits").body; }

    fs::path app_dir_;
    std::uint16_t port_ = 0;
};

TEST_F(ComposeWebapp, DevServesPageAndCgi) {
    auto up = compose("compose.dev.yaml", {"up", "-d"});
    ASSERT_EQ(up.exit_code, 0) << up.err;

    auto page = http_get_when_up(port_, "/");
    EXPECT_EQ(page.status, 200);
    EXPECT_NE(page.body.find("Hello from the isolab webapp"), std::string::npos) << page.body;
    EXPECT_EQ(visits(), "visits: 1\n");
    EXPECT_EQ(visits(), "visits: 2\n");
}

TEST_F(ComposeWebapp, DevShowsEditWithoutRebuild) {
    ASSERT_EQ(compose("compose.dev.yaml", {"up", "-d"}).exit_code, 0);
    ASSERT_NE(http_get_when_up(port_, "/").body.find("Hello from"), std::string::npos);

    auto index = app_dir_ / "src" / "index.html";
    auto text = read_file(index);
    text.replace(text.find("Hello from"), 10, "Edited live in");
    std::ofstream(index) << text;

    EXPECT_NE(http_get(port_, "/").body.find("Edited live in the isolab webapp"), std::string::npos);
}

TEST_F(ComposeWebapp, DataSurvivesDownButNotDownV) {
    ASSERT_EQ(compose("compose.dev.yaml", {"up", "-d"}).exit_code, 0);
    ASSERT_EQ(visits(), "visits: 1\n");
    ASSERT_EQ(visits(), "visits: 2\n");

    ASSERT_EQ(compose("compose.dev.yaml", {"down"}).exit_code, 0);
    EXPECT_TRUE(port_free(port_));
    ASSERT_EQ(compose("compose.dev.yaml", {"up", "-d"}).exit_code, 0);
    EXPECT_EQ(visits(), "visits: 3\n");

    auto down = compose("compose.dev.yaml", {"down", "-v"});
    ASSERT_EQ(down.exit_code, 0) << down.err;
    EXPECT_NE(down.err.find("Volume webapp-dev_data  Removed"), std::string::npos) << down.err;
    ASSERT_EQ(compose("compose.dev.yaml", {"up", "-d"}).exit_code, 0);
    EXPECT_EQ(visits(), "visits: 1\n");
}

TEST_F(ComposeWebapp, ProductionServesCodeFromImage) {
    auto up = compose("compose.yaml", {"up", "-d", "--build"});
    ASSERT_EQ(up.exit_code, 0) << up.err;

    EXPECT_NE(http_get_when_up(port_, "/").body.find("Hello from the isolab webapp"), std::string::npos);
    EXPECT_EQ(visits(), "visits: 1\n");

    // The image contains its own copy: an edit of src/ does not reach the running site.
    auto index = app_dir_ / "src" / "index.html";
    std::ofstream(index) << "changed after the build\n";
    EXPECT_NE(http_get(port_, "/").body.find("Hello from the isolab webapp"), std::string::npos);
}

TEST_F(ComposeWebapp, ProductionDataSurvivesDown) {
    ASSERT_EQ(compose("compose.yaml", {"up", "-d", "--build"}).exit_code, 0);
    ASSERT_EQ(visits(), "visits: 1\n");

    ASSERT_EQ(compose("compose.yaml", {"down"}).exit_code, 0);
    EXPECT_TRUE(port_free(port_));
    ASSERT_EQ(compose("compose.yaml", {"up", "-d"}).exit_code, 0);

    EXPECT_EQ(visits(), "visits: 2\n");
}

}  // namespace
}  // namespace isolab::testing
