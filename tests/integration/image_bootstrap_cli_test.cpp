#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include <nlohmann/json.hpp>

#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "support/test_support.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_isolab;

std::vector<std::string> entries_of(const fs::path& folder) {
    std::vector<std::string> names;
    if (!fs::exists(folder)) return names;
    for (const auto& entry : fs::directory_iterator(folder)) names.push_back(entry.path().filename().string());
    return names;
}

TEST(ImageBootstrapCli, MissingDebianBaseNamesBootstrap) {
    if (!testing::running_as_root()) GTEST_SKIP() << "building needs root";
    testing::TestRoot root;
    fs::path context = root.root() / "context";
    fs::create_directories(context);
    write_file_atomic(context / "Dockerfile", "FROM debian:bookworm\nRUN true\n");

    auto build = run_isolab(root.paths(), {"build", context.string()});
    EXPECT_NE(build.exit_code, 0);
    EXPECT_NE(build.err.find("isolab image bootstrap debian:bookworm"), std::string::npos) << build.err;
    EXPECT_NE(build.err.find("isolab load -i FILE"), std::string::npos) << build.err;

    auto run = run_isolab(root.paths(), {"run", "--rm", "debian:bookworm", "true"});
    EXPECT_NE(run.exit_code, 0);
    EXPECT_NE(run.err.find("isolab image bootstrap debian:bookworm"), std::string::npos) << run.err;
}

TEST(ImageBootstrapCli, BadInputGivesOneLine) {
    testing::TestRoot root;
    for (const auto& arguments : std::vector<std::vector<std::string>>{
             {"image", "bootstrap", "ubuntu:jammy"},
             {"image", "bootstrap", "debian:nosuchsuite"},
             {"image", "bootstrap", "debian:bookworm", "--mirror", "ftp://mirror.example/debian"}}) {
        auto result = run_isolab(root.paths(), arguments);
        EXPECT_NE(result.exit_code, 0) << arguments[2];
        EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
        EXPECT_TRUE(entries_of(root.paths().tmp()).empty()) << arguments[2];
    }
}

// Downloads Debian bookworm's minbase packages (about 44 MB) from the host's apt mirror
// when the test cache has no tarball for them yet, so it needs that mirror then. It
// installs bookworm twice, which takes minutes.
TEST(ImageBootstrapCli, BootstrapsBookwormAndRunsIt) {
    if (!testing::running_as_root()) GTEST_SKIP() << "debootstrap and containers need root";
    if (!program_available("debootstrap")) GTEST_SKIP() << "needs debootstrap";
    testing::TestRoot root;

    auto started = std::chrono::steady_clock::now();
    auto bootstrap = run_isolab(root.paths(), {"image", "bootstrap", "debian:bookworm"});
    ASSERT_EQ(bootstrap.exit_code, 0) << bootstrap.err;
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
    std::printf("image bootstrap debian:bookworm took %lld s\n", static_cast<long long>(seconds));

    auto version = run_isolab(root.paths(), {"run", "--rm", "debian:bookworm", "cat", "/etc/debian_version"});
    ASSERT_EQ(version.exit_code, 0) << version.err;
    EXPECT_EQ(version.out.rfind("12.", 0), 0u) << version.out;

    auto inspect = run_isolab(root.paths(), {"image", "inspect", "debian:bookworm"});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    auto config = json::parse(inspect.out)[0]["Config"];
    EXPECT_EQ(config["Cmd"], json::array({"bash"}));
    EXPECT_NE(config["Env"].dump().find("PATH=/usr/local/sbin"), std::string::npos) << config.dump();
    EXPECT_TRUE(entries_of(root.paths().tmp()).empty()) << "the debootstrap folder is removed";
    EXPECT_EQ(read_file("/proc/self/mountinfo").find(root.root().string()), std::string::npos);

    auto shell = run_isolab(root.paths(), {"run", "--rm", "debian:bookworm", "bash", "-c", "ls /dev/null && apt-get --version"});
    EXPECT_EQ(shell.exit_code, 0) << shell.err;
    EXPECT_NE(shell.out.find("apt 2."), std::string::npos) << shell.out;

    // A second bootstrap uses the cached packages: it works without any network.
    testing::TestRoot second;
    CommandOptions offline;
    offline.extra_environment = {"ISOLAB_ROOT=" + second.paths().root.string(),
                                 "ISOLAB_CACHE=" + second.paths().cache.string()};
    auto again = run_command({"unshare", "--net", ISOLAB_BINARY, "image", "bootstrap", "debian:bookworm"}, offline);
    ASSERT_EQ(again.exit_code, 0) << again.output;
    EXPECT_NE(again.output.find("using the packages downloaded before"), std::string::npos) << again.output;
}

}  // namespace
}  // namespace isolab
