// A command line that cannot be parsed gets one `isolab:` line naming the problem and the
// help to read, and exit code 125, as Docker's command line does.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace isolab::testing {
namespace {

struct UsageCase {
    std::vector<std::string> arguments;
    std::string expected_message;
    std::string expected_help;
};

TEST(CliUsage, ErrorsAreOneLineWithExitCode125) {
    TestRoot root;
    const std::vector<UsageCase> cases = {
        {{"foo"}, "isolab: unknown command 'foo'", "run 'isolab --help'"},
        {{"--log-level", "debug", "foo"}, "isolab: unknown command 'foo'", "run 'isolab --help'"},
        {{"image", "foo"}, "isolab: unknown command 'foo'", "run 'isolab image --help'"},
        {{"vm"}, "isolab: 'isolab vm' needs a command: run", "run 'isolab vm --help'"},
        {{}, "isolab: 'isolab' needs a command: images", "run 'isolab --help'"},
        {{"ps", "-z"}, "isolab: the following argument was not expected: -z", "run 'isolab ps --help'"},
        {{"run"}, "isolab: image is required", "run 'isolab run --help'"},
    };
    for (const auto& usage : cases) {
        auto result = run_isolab(root.paths(), usage.arguments);
        std::string shown = usage.arguments.empty() ? "(none)" : usage.arguments.front();

        EXPECT_EQ(result.exit_code, 125) << shown;
        EXPECT_EQ(result.err.rfind(usage.expected_message, 0), 0U) << shown << ": " << result.err;
        EXPECT_NE(result.err.find(usage.expected_help), std::string::npos) << shown << ": " << result.err;
        EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << shown << ": " << result.err;
    }
}

// container-monitor and vm-network-holder are run by isolab itself, so neither the
// command list nor --help names them.
TEST(CliUsage, InternalCommandsHidden) {
    TestRoot root;
    for (const std::vector<std::string>& arguments : {std::vector<std::string>{}, std::vector<std::string>{"--help"}}) {
        auto result = run_isolab(root.paths(), arguments);
        auto text = result.out + result.err;
        EXPECT_NE(text.find("images"), std::string::npos) << text;
        EXPECT_EQ(text.find("container-monitor"), std::string::npos) << text;
        EXPECT_EQ(text.find("vm-network-holder"), std::string::npos) << text;
    }
}

TEST(CliUsage, StateRootThatIsAFileRejected) {
    TestRoot root;
    auto file = root.root().parent_path() / (root.root().filename().string() + "-file");
    std::fclose(std::fopen(file.c_str(), "w"));
    Paths paths = root.paths();
    paths.root = file;

    auto result = run_isolab(paths, {"images"});
    std::filesystem::remove(file);

    EXPECT_EQ(result.exit_code, 125);
    EXPECT_EQ(result.err, "isolab: ISOLAB_ROOT " + file.string() +
                              " is not a directory (set ISOLAB_ROOT to a directory, or unset it for the default)\n");
}

TEST(CliUsage, HelpAndVersionExitZero) {
    TestRoot root;

    auto help = run_isolab(root.paths(), {"--help"});
    auto version = run_isolab(root.paths(), {"--version"});

    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("Usage:"), std::string::npos);
    EXPECT_EQ(version.exit_code, 0);
    EXPECT_FALSE(version.out.empty());
}

}  // namespace
}  // namespace isolab::testing
