#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "runtime/build/copy.hpp"
#include "runtime/build/tree.hpp"
#include "runtime/build/upper_dir.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "support/test_support.hpp"

namespace isolab::build {
namespace {

namespace fs = std::filesystem;
using image::TarEntry;

void write(const fs::path& path, const std::string& content) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << content;
}

void whiteout(const fs::path& path) {
    fs::create_directories(path.parent_path());
    ASSERT_EQ(mknod(path.c_str(), S_IFCHR | 0000, makedev(0, 0)), 0) << path;
}

void make_opaque(const fs::path& directory) {
    fs::create_directories(directory);
    ASSERT_EQ(setxattr(directory.c_str(), "trusted.overlay.opaque", "y", 1, 0), 0) << directory;
}

const TarEntry* find_entry(const std::vector<TarEntry>& entries, const std::string& path) {
    auto found = std::find_if(entries.begin(), entries.end(), [&](const TarEntry& entry) { return entry.path == path; });
    return found == entries.end() ? nullptr : &*found;
}

class BuildLayers : public ::testing::Test {
protected:
    void SetUp() override {
        if (!testing::running_as_root()) GTEST_SKIP() << "whiteouts and trusted.overlay xattrs need root";
    }
    testing::TestRoot root_;
    fs::path lower_ = root_.root() / "lower";
    fs::path upper_ = root_.root() / "upper";
};

TEST_F(BuildLayers, LayerTreeHonoursWhiteouts) {
    write(lower_ / "a/x", "x");
    write(lower_ / "a/y", "y");
    write(lower_ / "b", "b");
    whiteout(upper_ / "a/x");
    write(upper_ / "a/z", "z");
    LayerTree tree({upper_, lower_});
    EXPECT_FALSE(tree.lookup("a/x"));
    EXPECT_TRUE(tree.lookup("a/y"));
    EXPECT_TRUE(tree.lookup("b"));
    EXPECT_EQ(tree.children("a"), (std::vector<std::string>{"y", "z"}));
    EXPECT_EQ(tree.children(""), (std::vector<std::string>{"a", "b"}));
}

TEST_F(BuildLayers, LayerTreeHonoursOpaqueDirectories) {
    write(lower_ / "c/old", "old");
    write(lower_ / "c/deep/file", "old");
    make_opaque(upper_ / "c");
    write(upper_ / "c/new", "new");
    LayerTree tree({upper_, lower_});
    EXPECT_EQ(tree.children("c"), std::vector<std::string>{"new"});
    EXPECT_FALSE(tree.lookup("c/old"));
    EXPECT_FALSE(tree.lookup("c/deep/file"));
}

TEST_F(BuildLayers, LayerTreeFileShadowsDirectory) {
    write(lower_ / "d/inner", "x");
    write(upper_ / "d", "now a file");
    LayerTree tree({upper_, lower_});
    EXPECT_FALSE(tree.lookup("d/inner"));
    EXPECT_TRUE(S_ISREG(tree.lookup("d")->info.st_mode));
}

TEST_F(BuildLayers, UpperDirWhiteoutsBecomeOciWhiteouts) {
    whiteout(upper_ / "etc/gone");
    make_opaque(upper_ / "var/cache");
    write(upper_ / "var/cache/fresh", "fresh");
    fs::create_directories(upper_ / "proc");
    fs::create_directories(upper_ / "dev");
    auto entries = upper_dir_entries(upper_);
    ASSERT_TRUE(find_entry(entries, "etc/.wh.gone"));
    EXPECT_EQ(find_entry(entries, "etc/.wh.gone")->type, TarEntry::Type::file);
    EXPECT_FALSE(find_entry(entries, "etc/gone"));
    EXPECT_TRUE(find_entry(entries, "var/cache/.wh..wh..opq"));
    EXPECT_TRUE(find_entry(entries, "var/cache/fresh"));
    EXPECT_FALSE(find_entry(entries, "proc"));
    EXPECT_FALSE(find_entry(entries, "dev"));
}

TEST_F(BuildLayers, UpperDirKeepsHardLinksAndOwners) {
    write(upper_ / "z/data", "shared");
    fs::create_hard_link(upper_ / "z/data", upper_ / "a-link");
    ASSERT_EQ(chown((upper_ / "z/data").c_str(), 1000, 1001), 0);
    fs::create_symlink("z/data", upper_ / "symlink");
    auto entries = upper_dir_entries(upper_);
    const TarEntry* first = find_entry(entries, "a-link");
    const TarEntry* second = find_entry(entries, "z/data");
    ASSERT_TRUE(first);
    ASSERT_TRUE(second);
    // The name that sorts first carries the data, so the tar lists it before the link.
    EXPECT_EQ(first->type, TarEntry::Type::file);
    EXPECT_EQ(second->type, TarEntry::Type::hardlink);
    EXPECT_EQ(second->link_target, "a-link");
    EXPECT_EQ(first->uid, 1000u);
    EXPECT_EQ(first->gid, 1001u);
    ASSERT_TRUE(find_entry(entries, "symlink"));
    EXPECT_EQ(find_entry(entries, "symlink")->link_target, "z/data");
}

class CopyPlan : public ::testing::Test {
protected:
    testing::TestRoot root_;
    fs::path context_ = root_.root() / "context";
    fs::path image_ = root_.root() / "image";

    void SetUp() override {
        write(context_ / "site/a/b/index.html", "<p>hi</p>");
        write(context_ / "site/a/b/css/site.css", "p{}");
        write(context_ / "one.txt", "1");
        write(context_ / "two.txt", "2");
        write(image_ / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nweb:x:33:34::/srv:/bin/sh\n");
        write(image_ / "etc/group", "root:x:0:\nweb:x:34:\n");
        fs::create_directories(image_ / "opt/existing");
        ASSERT_EQ(chmod((image_ / "opt/existing").c_str(), 0750), 0);
    }

    std::vector<TarEntry> plan(std::vector<std::string> sources, const std::string& destination,
                               std::optional<Owner> chown = std::nullopt) {
        ContextTree context(context_, IgnoreRules{});
        LayerTree image({image_});
        CopyRequest request;
        request.sources = std::move(sources);
        request.source_tree = &context;
        request.image = &image;
        request.destination = destination;
        request.chown = chown;
        return plan_copy(request);
    }
};

TEST_F(CopyPlan, ChownLeavesNewParentsToRoot) {
    auto entries = plan({"site/a/b/"}, "/srv/a/b/", Owner{1000, 1000});
    for (const char* parent : {"srv", "srv/a"}) {
        const TarEntry* entry = find_entry(entries, parent);
        ASSERT_TRUE(entry) << parent;
        EXPECT_EQ(entry->uid, 0u) << parent;
        EXPECT_EQ(entry->mode, 0755u) << parent;
    }
    for (const char* copied : {"srv/a/b", "srv/a/b/index.html", "srv/a/b/css", "srv/a/b/css/site.css"}) {
        const TarEntry* entry = find_entry(entries, copied);
        ASSERT_TRUE(entry) << copied;
        EXPECT_EQ(entry->uid, 1000u) << copied;
        EXPECT_EQ(entry->gid, 1000u) << copied;
    }
    EXPECT_FALSE(find_entry(entries, "srv/a/b/b"));
}

TEST_F(CopyPlan, ExistingParentKeepsMode) {
    auto entries = plan({"one.txt"}, "/opt/existing/new/");
    ASSERT_TRUE(find_entry(entries, "opt/existing"));
    EXPECT_EQ(find_entry(entries, "opt/existing")->mode, 0750u);
    EXPECT_TRUE(find_entry(entries, "opt/existing/new/one.txt"));
}

TEST_F(CopyPlan, FileToNewNameAndIntoDirectory) {
    EXPECT_TRUE(find_entry(plan({"one.txt"}, "/renamed"), "renamed"));
    EXPECT_TRUE(find_entry(plan({"one.txt"}, "/opt/existing"), "opt/existing/one.txt"));
}

TEST_F(CopyPlan, GlobNeedsDirectoryDestination) {
    auto entries = plan({"*.txt"}, "/dst/");
    EXPECT_TRUE(find_entry(entries, "dst/one.txt"));
    EXPECT_TRUE(find_entry(entries, "dst/two.txt"));
    EXPECT_THROW(plan({"*.txt"}, "/dst"), Error);
}

TEST_F(CopyPlan, MissingAndEscapingSourcesRejected) {
    EXPECT_THROW(plan({"nothere"}, "/dst/"), Error);
    EXPECT_THROW(plan({"../outside"}, "/dst/"), Error);
}

TEST_F(CopyPlan, ChownByNameReadsImagePasswd) {
    LayerTree image({image_});
    auto owner = parse_chown("web", image);
    EXPECT_EQ(owner.uid, 33u);
    EXPECT_EQ(owner.gid, 34u);
    auto numeric = parse_chown("1234", image);
    EXPECT_EQ(numeric.gid, 1234u);
    EXPECT_THROW(parse_chown("nobody-here", image), Error);
}

TEST_F(CopyPlan, DigestFollowsContentModeAndOwner) {
    auto base = entries_digest(plan({"one.txt"}, "/x"));
    EXPECT_EQ(base, entries_digest(plan({"one.txt"}, "/x")));
    EXPECT_NE(base, entries_digest(plan({"one.txt"}, "/x", Owner{1, 1})));
    ASSERT_EQ(chmod((context_ / "one.txt").c_str(), 0600), 0);
    auto mode_changed = entries_digest(plan({"one.txt"}, "/x"));
    EXPECT_NE(base, mode_changed);
    write(context_ / "one.txt", "changed");
    EXPECT_NE(mode_changed, entries_digest(plan({"one.txt"}, "/x")));
}

TEST_F(CopyPlan, SourceLinksFollowedInsideContext) {
    fs::create_symlink("one.txt", context_ / "link.txt");
    fs::create_symlink("site/a", context_ / "inner");
    fs::create_symlink("/one.txt", context_ / "absolute.txt");
    auto file = plan({"link.txt"}, "/x");
    ASSERT_TRUE(find_entry(file, "x"));
    EXPECT_EQ(find_entry(file, "x")->type, TarEntry::Type::file);
    EXPECT_EQ(find_entry(file, "x")->source, context_ / "one.txt");
    EXPECT_TRUE(find_entry(plan({"inner/b/index.html"}, "/y"), "y"));
    EXPECT_EQ(find_entry(plan({"absolute.txt"}, "/z"), "z")->source, context_ / "one.txt");
}

TEST_F(CopyPlan, SourceLinksOutOfContextRejected) {
    fs::create_symlink("/etc", context_ / "host-etc");
    fs::create_symlink("../..", context_ / "up");
    EXPECT_THROW(plan({"host-etc/passwd"}, "/x"), Error);
    EXPECT_THROW(plan({"up/etc/passwd"}, "/x"), Error);
    ContextTree context(context_, IgnoreRules{});
    EXPECT_FALSE(context.lookup("host-etc/passwd")) << "a lookup never goes through a link";
}

TEST_F(CopyPlan, LinksInsideCopiedDirectoryStayLinks) {
    fs::create_symlink("index.html", context_ / "site/a/b/home.html");
    auto entries = plan({"site/a/b/"}, "/srv/");
    ASSERT_TRUE(find_entry(entries, "srv/home.html"));
    EXPECT_EQ(find_entry(entries, "srv/home.html")->type, TarEntry::Type::symlink);
    EXPECT_EQ(find_entry(entries, "srv/home.html")->link_target, "index.html");
}

TEST(CopyFlags, ChmodParsing) {
    EXPECT_EQ(parse_chmod("755"), 0755u);
    EXPECT_EQ(parse_chmod("0644"), 0644u);
    EXPECT_THROW(parse_chmod("u+x"), Error);
    EXPECT_THROW(parse_chmod("8"), Error);
}

}  // namespace
}  // namespace isolab::build
