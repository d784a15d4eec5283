#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "support/test_support.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_isolab;

size_t line_count(const std::string& text) {
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST(ImageCli, ImagesListsBusyboxWithSize) {
    if (!testing::running_as_root()) GTEST_SKIP() << "unpacking layers keeps ownership only as root";
    testing::TestRoot root;
    auto result = run_isolab(root.paths(), {"images"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    ASSERT_EQ(line_count(result.out), 2u) << result.out;
    EXPECT_EQ(result.out.rfind("REPOSITORY  TAG     IMAGE ID      CREATED", 0), 0u) << result.out;
    std::string row = result.out.substr(result.out.find('\n') + 1);
    EXPECT_EQ(row.rfind("busybox", 0), 0u) << row;
    EXPECT_NE(row.find("latest"), std::string::npos) << row;
    EXPECT_NE(row.find(" MB"), std::string::npos) << "busybox is about 2 MB unpacked: " << row;

    auto listing = run_isolab(root.paths(), {"images", "--format", "json"});
    ASSERT_EQ(listing.exit_code, 0) << listing.err;
    auto images = json::parse(listing.out);
    ASSERT_EQ(images.size(), 1u);
    EXPECT_EQ(images[0]["Repository"], "busybox");
    EXPECT_GT(images[0]["Size"].get<std::uint64_t>(), fs::file_size("/bin/busybox"));
    EXPECT_GT(images[0]["StoredSize"].get<std::uint64_t>(), 0u);

    auto quiet = run_isolab(root.paths(), {"images", "-q"});
    EXPECT_EQ(quiet.out, images[0]["Id"].get<std::string>().substr(7, 12) + "\n");
}

TEST(ImageCli, TagInspectHistoryRmi) {
    if (!testing::running_as_root()) GTEST_SKIP() << "unpacking layers keeps ownership only as root";
    testing::TestRoot root;
    ASSERT_EQ(run_isolab(root.paths(), {"tag", "busybox", "lab/box:v1"}).exit_code, 0);

    auto inspect = run_isolab(root.paths(), {"image", "inspect", "lab/box:v1"});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    auto document = json::parse(inspect.out);
    ASSERT_EQ(document.size(), 1u);
    EXPECT_EQ(document[0]["RepoTags"].size(), 2u);
    EXPECT_EQ(document[0]["Config"]["Cmd"], json::array({"sh"}));
    EXPECT_EQ(document[0]["RootFS"]["Layers"].size(), 1u);

    auto history = run_isolab(root.paths(), {"history", "lab/box:v1"});
    ASSERT_EQ(history.exit_code, 0) << history.err;
    EXPECT_NE(history.out.find("BusyBox"), std::string::npos) << history.out;

    auto removed = run_isolab(root.paths(), {"rmi", "lab/box:v1"});
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_EQ(removed.out, "Untagged: lab/box:v1\n");
}

TEST(ImageCli, DamagedImageSkippedAndRemovable) {
    if (!testing::running_as_root()) GTEST_SKIP() << "unpacking layers keeps ownership only as root";
    testing::TestRoot root;
    ASSERT_EQ(run_isolab(root.paths(), {"tag", "busybox", "lab/box:v1"}).exit_code, 0);
    auto inspect = run_isolab(root.paths(), {"image", "inspect", "busybox"});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    auto config_hex = json::parse(inspect.out)[0]["Id"].get<std::string>().substr(7);
    auto config_blob = root.paths().images() / "blobs" / "sha256" / config_hex;
    fs::permissions(config_blob, fs::perms::owner_write, fs::perm_options::add);
    write_file_atomic(config_blob, "damaged\n");

    auto listing = run_isolab(root.paths(), {"images"});
    EXPECT_EQ(listing.exit_code, 0) << listing.err;
    EXPECT_NE(listing.err.find("image lab/box:v1 is damaged"), std::string::npos) << listing.err;
    EXPECT_NE(listing.err.find("isolab rmi -f lab/box:v1"), std::string::npos) << listing.err;

    auto plain_rmi = run_isolab(root.paths(), {"rmi", "lab/box:v1"});
    EXPECT_NE(plain_rmi.exit_code, 0);
    auto forced_tag = run_isolab(root.paths(), {"rmi", "-f", "lab/box:v1"});
    EXPECT_EQ(forced_tag.exit_code, 0) << forced_tag.err;
    EXPECT_EQ(forced_tag.out, "Untagged: lab/box:v1\n");
    EXPECT_TRUE(fs::exists(config_blob)) << "busybox:latest still refers to the damaged blob";

    auto forced_last = run_isolab(root.paths(), {"rmi", "-f", "busybox"});
    EXPECT_EQ(forced_last.exit_code, 0) << forced_last.err;
    EXPECT_FALSE(fs::exists(config_blob)) << "the damaged blob stayed after its last tag went";

    auto rebuilt = run_isolab(root.paths(), {"run", "--rm", "busybox", "echo", "back"});
    EXPECT_EQ(rebuilt.exit_code, 0) << rebuilt.err;
    EXPECT_EQ(rebuilt.out, "back\n");
}

TEST(ImageCli, PruneRemovesUnusedUnnamedOrAll) {
    if (!testing::running_as_root()) GTEST_SKIP() << "building and running images needs root";
    testing::TestRoot root;
    auto context = root.root() / "context";
    fs::create_directories(context);
    write_file_atomic(context / "Dockerfile", "FROM busybox\nRUN echo built > /built\n");
    ASSERT_EQ(run_isolab(root.paths(), {"build", context.string()}).exit_code, 0);
    ASSERT_EQ(run_isolab(root.paths(), {"build", "-t", "kept:1", "--no-cache", context.string()}).exit_code, 0);
    ASSERT_EQ(run_isolab(root.paths(), {"tag", "busybox", "spare:1"}).exit_code, 0);
    ASSERT_EQ(run_isolab(root.paths(), {"run", "--name", "user", "kept:1", "true"}).exit_code, 0);

    auto unconfirmed = run_isolab(root.paths(), {"image", "prune"});
    auto unnamed = run_isolab(root.paths(), {"image", "prune", "-f"});
    auto after_unnamed = run_isolab(root.paths(), {"images", "--format", "json"});
    auto everything = run_isolab(root.paths(), {"image", "prune", "-a", "-f"});
    auto inspect_kept = run_isolab(root.paths(), {"image", "inspect", "kept:1"});
    auto inspect_spare = run_isolab(root.paths(), {"image", "inspect", "spare:1"});

    EXPECT_EQ(unconfirmed.exit_code, 125);
    EXPECT_NE(unconfirmed.err.find("--force"), std::string::npos) << unconfirmed.err;
    EXPECT_EQ(unnamed.exit_code, 0) << unnamed.err;
    EXPECT_NE(unnamed.out.find("Untagged: isolab-build:"), std::string::npos) << unnamed.out;
    EXPECT_EQ(after_unnamed.out.find("isolab-build"), std::string::npos) << after_unnamed.out;
    EXPECT_NE(after_unnamed.out.find("spare"), std::string::npos) << "named images stay without -a";
    EXPECT_EQ(everything.exit_code, 0) << everything.err;
    EXPECT_NE(everything.out.find("Untagged: spare:1"), std::string::npos) << everything.out;
    EXPECT_NE(everything.out.find("Total reclaimed space:"), std::string::npos) << everything.out;
    EXPECT_EQ(inspect_kept.exit_code, 0) << "kept:1 is used by a container: " << inspect_kept.err;
    EXPECT_NE(inspect_spare.exit_code, 0);
}

TEST(ImageCli, BadInputGivesOneLine) {
    testing::TestRoot root;
    for (const std::vector<std::string>& arguments :
         {std::vector<std::string>{"tag", "busybox", "Bad:Name"}, {"rmi", "nothere"}, {"image", "inspect", "nothere"},
          {"import", "/nonexistent.tar", "web"}, {"load", "-i", "/nonexistent.tar"}}) {
        auto result = run_isolab(root.paths(), arguments);
        EXPECT_NE(result.exit_code, 0) << arguments[0];
        EXPECT_EQ(line_count(result.err), 1u) << result.err;
        EXPECT_EQ(result.err.rfind("isolab: ", 0), 0u) << result.err;
    }
}

TEST(ImageCli, ImportRejectsUnsafeTar) {
    if (!testing::running_as_root()) GTEST_SKIP() << "unpacking layers keeps ownership only as root";
    testing::TestRoot root;
    fs::path source = root.root().parent_path() / "source";
    fs::create_directories(source);
    fs::create_symlink("/etc", source / "link");
    fs::path tar = root.root().parent_path() / "evil.tar";
    // GNU tar stores link/ and then a file below it: the write-through-symlink shape.
    run_checked({"tar", "-C", source.string(), "-cf", tar.string(), "link"});
    fs::create_directories(source / "real");
    write_file_atomic(source / "real" / "passwd", "evil");
    run_checked({"tar", "-C", source.string(), "-rf", tar.string(), "--transform", "s,^real,link,", "real/passwd"});

    auto result = run_isolab(root.paths(), {"import", tar.string(), "evil"});
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find("link/passwd"), std::string::npos) << result.err;
    EXPECT_EQ(line_count(result.err), 1u) << result.err;
    auto images = run_isolab(root.paths(), {"images", "-q"});
    EXPECT_EQ(line_count(images.out), 1u) << "only busybox: " << images.out;
}

TEST(ImageCli, ImportAndRunsLowerdirs) {
    if (!testing::running_as_root()) GTEST_SKIP() << "unpacking layers keeps ownership only as root";
    testing::TestRoot root;
    fs::path source = root.root().parent_path() / "source";
    fs::create_directories(source / "etc");
    write_file_atomic(source / "etc" / "motd", "hello\n");
    fs::path tar = root.root().parent_path() / "rootfs.tar.gz";
    run_checked({"tar", "-C", source.string(), "-czf", tar.string(), "."});

    auto result = run_isolab(root.paths(), {"import", tar.string(), "lab/motd:v1"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out.rfind("sha256:", 0), 0u) << result.out;
    auto inspect = json::parse(run_isolab(root.paths(), {"image", "inspect", "lab/motd:v1"}).out);
    fs::path layer = inspect[0]["LayerBlobs"][0]["Path"].get<std::string>();
    EXPECT_EQ(read_file(layer / "etc/motd"), "hello\n");
}

}  // namespace
}  // namespace isolab
