#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include <nlohmann/json.hpp>

#include "runtime/core/digest.hpp"
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
// installs bookworm once, which takes minutes. The cache and --refresh are tested below
// without a second installation.
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
    EXPECT_FALSE(entries_of(root.paths().cache / "debootstrap").empty()) << "the packages are kept in the cache";
}

// A state root with a cache of its own, whose package tarball for bookworm from `mirror`
// is a placeholder that debootstrap cannot unpack. A bootstrap that takes it fails fast in
// the installation, after it has chosen between the cache and a download.
class CachedTarball : public ::testing::Test {
protected:
    static constexpr const char* mirror = "http://deb.debian.org/debian";
    static constexpr const char* placeholder = "not a tarball\n";

    void SetUp() override {
        if (!testing::running_as_root()) GTEST_SKIP() << "unshare --net needs root";
        if (!program_available("debootstrap")) GTEST_SKIP() << "needs debootstrap";
        paths_ = root_.paths();
        paths_.cache = root_.root().parent_path() / "cache";
        auto architecture = run_command({"dpkg", "--print-architecture"}).output;
        architecture.erase(architecture.find_last_not_of('\n') + 1);
        // The name bootstrap_debian gives the tarball: suite, architecture and the mirror's digest.
        tarball_ = paths_.cache / "debootstrap" /
                   ("bookworm-" + architecture + "-minbase-" + sha256_digest(mirror).substr(7, 12) + ".tgz");
        fs::create_directories(tarball_.parent_path());
        write_file_atomic(tarball_, placeholder);
    }

    // Runs `isolab image bootstrap debian:bookworm` with `extra` arguments in a network
    // namespace of its own, where no mirror can be reached.
    CommandResult bootstrap_offline(const std::vector<std::string>& extra) {
        CommandOptions offline;
        offline.extra_environment = {"ISOLAB_ROOT=" + paths_.root.string(), "ISOLAB_CACHE=" + paths_.cache.string()};
        std::vector<std::string> argv = {"unshare", "--net", ISOLAB_BINARY, "image", "bootstrap", "debian:bookworm",
                                         "--mirror", mirror};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return run_command(argv, offline);
    }

    // Checks what a failed bootstrap must leave: the cached tarball as it was, no partial
    // download, no temporary folder, no mount and no image.
    void expect_nothing_left() {
        EXPECT_EQ(read_file(tarball_), placeholder);
        EXPECT_EQ(entries_of(tarball_.parent_path()), std::vector<std::string>{tarball_.filename().string()});
        EXPECT_TRUE(entries_of(paths_.tmp()).empty());
        EXPECT_EQ(read_file("/proc/self/mountinfo").find(root_.root().string()), std::string::npos);
        auto image = run_isolab(paths_, {"image", "inspect", "debian:bookworm"});
        EXPECT_NE(image.exit_code, 0) << image.out;
    }

    testing::TestRoot root_;
    Paths paths_;
    fs::path tarball_;
};

TEST_F(CachedTarball, ReusedWithoutDownload) {
    auto result = bootstrap_offline({});

    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.output.find("using the packages downloaded before: " + tarball_.string()), std::string::npos)
        << result.output;
    EXPECT_EQ(result.output.find("downloading"), std::string::npos) << result.output;
    EXPECT_NE(result.output.find("debootstrap failed to install bookworm"), std::string::npos) << result.output;
    expect_nothing_left();
}

TEST_F(CachedTarball, RefreshDownloadsAgain) {
    auto result = bootstrap_offline({"--refresh"});

    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.output.find("downloading the bookworm minbase packages from " + std::string(mirror)), std::string::npos)
        << result.output;
    EXPECT_EQ(result.output.find("using the packages downloaded before"), std::string::npos) << result.output;
    EXPECT_NE(result.output.find("debootstrap failed to download the packages"), std::string::npos) << result.output;
    expect_nothing_left();
}

}  // namespace
}  // namespace isolab
