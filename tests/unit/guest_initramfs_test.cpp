// The initramfs content: merged layers with whiteouts, /init, /.isolab files, users.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "vmdriver/guest/initramfs.hpp"
#include "vmdriver/guest/merged_tree.hpp"

using namespace isolab::vm::guest;
namespace fs = std::filesystem;

namespace {

struct ListedEntry {
    unsigned mode = 0;
    std::string content;
    std::string symlink;
};

// Lists every cpio archive in `data` (they may be concatenated) with libarchive.
std::map<std::string, ListedEntry> list_cpio(const std::string& data) {
    std::map<std::string, ListedEntry> listed;
    std::size_t offset = 0;
    while (offset < data.size() && data.find_first_not_of('\0', offset) != std::string::npos) {
        archive* reader = archive_read_new();
        archive_read_support_format_cpio(reader);
        archive_read_support_filter_all(reader);
        EXPECT_EQ(archive_read_open_memory(reader, data.data() + offset, data.size() - offset), ARCHIVE_OK);
        archive_entry* entry = nullptr;
        while (archive_read_next_header(reader, &entry) == ARCHIVE_OK) {
            ListedEntry item;
            item.mode = archive_entry_mode(entry);
            if (archive_entry_symlink(entry) != nullptr) item.symlink = archive_entry_symlink(entry);
            char buffer[4096];
            la_ssize_t count;
            while ((count = archive_read_data(reader, buffer, sizeof buffer)) > 0) item.content.append(buffer, count);
            std::string name = archive_entry_pathname(entry);
            if (!item.content.empty() || !listed.contains(name)) listed[name] = item;
        }
        // The next archive starts after the trailer; libarchive reports how far it read.
        la_int64_t consumed = archive_filter_bytes(reader, -1);
        archive_read_free(reader);
        if (consumed <= 0) break;
        offset += static_cast<std::size_t>(consumed);
    }
    return listed;
}

class Layers : public ::testing::Test {
protected:
    void SetUp() override {
        setenv("ISOLAB_INIT", ISOLAB_INIT_BINARY, 1);
        lower_ = folder_.path() / "lower";
        upper_ = folder_.path() / "upper";
        write(lower_ / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n");
        write(lower_ / "etc/group", "root:x:0:\napp:x:1000:\nwheel:x:10:app\naudio:x:29:root,app\n");
        write(lower_ / "etc/hidden", "lower");
        write(lower_ / "etc/old-name", "lower");
        write(lower_ / "opaque/lower-only", "lower");
        write(lower_ / "marked/lower-only", "lower");
        write(lower_ / "kept", "lower");
        write(lower_ / "replaced", "lower");
        fs::create_symlink("kept", lower_ / "link");

        write(upper_ / "replaced", "upper");
        write(upper_ / "opaque/upper-only", "upper");
        write(upper_ / "marked/upper-only", "upper");
        write(upper_ / "marked/.wh..wh..opq", "");
        write(upper_ / "etc/.wh.old-name", "");
        write(upper_ / "init", "an image's own /init");
    }

    static void write(const fs::path& path, const std::string& content) {
        fs::create_directories(path.parent_path());
        isolab::write_file_atomic(path, content);
    }

    // Overlay whiteouts need root: a 0/0 character device and a trusted.* xattr.
    bool add_overlay_whiteouts() {
        if (geteuid() != 0) return false;
        if (mknod((upper_ / "etc/hidden").c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0) return false;
        return setxattr((upper_ / "opaque").c_str(), "trusted.overlay.opaque", "y", 1, 0) == 0;
    }

    std::vector<fs::path> lowerdirs() const { return {upper_, lower_}; }

    isolab::TemporaryDirectory folder_{fs::temp_directory_path(), "isolab-initramfs-test-"};
    fs::path lower_, upper_;
};

}  // namespace

TEST_F(Layers, MergeHonoursWhiteouts) {
    if (!add_overlay_whiteouts()) GTEST_SKIP() << "overlay whiteouts need root";
    auto entries = MergedTree::merge(lowerdirs()).entries();

    EXPECT_FALSE(entries.contains("etc/hidden"));
    EXPECT_FALSE(entries.contains("etc/old-name"));
    EXPECT_FALSE(entries.contains("etc/.wh.old-name"));
    EXPECT_FALSE(entries.contains("opaque/lower-only"));
    EXPECT_TRUE(entries.contains("opaque/upper-only"));
    EXPECT_FALSE(entries.contains("marked/lower-only"));
    EXPECT_TRUE(entries.contains("marked/upper-only"));
    EXPECT_FALSE(entries.contains("marked/.wh..wh..opq"));
    EXPECT_TRUE(entries.contains("kept"));
    EXPECT_EQ(entries.at("replaced").source, upper_ / "replaced");
}

TEST_F(Layers, InitramfsContent) {
    if (!add_overlay_whiteouts()) GTEST_SKIP() << "overlay whiteouts need root";
    isolab::Paths paths{folder_.path() / "root", folder_.path() / "cache"};
    auto part = ensure_image_initramfs(paths, "sha256:0123abcd", lowerdirs());
    EXPECT_FALSE(part.reused);
    EXPECT_EQ(fs::status(part.path).permissions() & fs::perms::others_read, fs::perms::others_read);

    Workload workload{{"/bin/sh", "-c", "echo hi"}, {"PATH=/bin", "A=b c"}, "/srv", "1000:1000:10,29"};
    fs::path run = folder_.path() / "run.cpio";
    write_run_initramfs(part.path, workload, run);
    auto listed = list_cpio(isolab::read_file(run));

    ASSERT_TRUE(listed.contains("init"));
    EXPECT_EQ(listed.at("init").mode & 0777, 0755u);
    EXPECT_EQ(listed.at("init").content, isolab::read_file(ISOLAB_INIT_BINARY));
    EXPECT_EQ(listed.at(".isolab/argv").content, std::string("/bin/sh\0-c\0echo hi\0", 19));
    EXPECT_EQ(listed.at(".isolab/env").content, std::string("PATH=/bin\0A=b c\0", 16));
    EXPECT_EQ(listed.at(".isolab/workdir").content, "/srv");
    EXPECT_EQ(listed.at(".isolab/user").content, "1000:1000:10,29");
    EXPECT_TRUE(listed.contains("dev/console"));
    EXPECT_EQ(listed.at("replaced").content, "upper");
    EXPECT_EQ(listed.at("link").symlink, "kept");
    EXPECT_FALSE(listed.contains("etc/hidden"));
    EXPECT_FALSE(listed.contains("opaque/lower-only"));
    EXPECT_FALSE(listed.contains("marked/lower-only"));
    EXPECT_FALSE(listed.contains("etc/.wh.old-name"));

    EXPECT_TRUE(ensure_image_initramfs(paths, "sha256:0123abcd", lowerdirs()).reused);
}

TEST_F(Layers, GzipInitramfsLists) {
    isolab::Paths paths{folder_.path() / "root", folder_.path() / "cache"};
    auto part = ensure_image_initramfs(paths, "sha256:0123abcd", lowerdirs(), InitramfsCompression::gzip);
    std::string data = isolab::read_file(part.path);
    ASSERT_GE(data.size(), 2u);
    EXPECT_EQ(data.substr(0, 2), "\x1f\x8b");
    auto listed = list_cpio(data);
    EXPECT_TRUE(listed.contains("init"));
    EXPECT_TRUE(listed.contains("etc/passwd"));
}

TEST_F(Layers, ResolvesUsers) {
    EXPECT_EQ(resolve_user("", lowerdirs()), "0:0:29");
    EXPECT_EQ(resolve_user("app", lowerdirs()), "1000:1000:10,29");
    EXPECT_EQ(resolve_user("1000", lowerdirs()), "1000:1000:10,29");
    EXPECT_EQ(resolve_user("app:wheel", lowerdirs()), "1000:10");
    EXPECT_EQ(resolve_user("4242", lowerdirs()), "4242:0");
    EXPECT_EQ(resolve_user("4242:7", lowerdirs()), "4242:7");
    EXPECT_THROW(resolve_user("nobody-here", lowerdirs()), isolab::Error);
    EXPECT_THROW(resolve_user("app:nogroup", lowerdirs()), isolab::Error);
}

TEST_F(Layers, UserFileBehindWhiteout) {
    write(upper_ / "etc/.wh.passwd", "");
    EXPECT_EQ(resolve_user("1000", lowerdirs()), "1000:0");
    EXPECT_THROW(resolve_user("app", lowerdirs()), isolab::Error);
}

TEST_F(Layers, WorkloadFromImageConfig) {
    isolab::image::Image image;
    image.reference = "test:latest";
    image.config.entrypoint = {"/bin/entry"};
    image.config.cmd = {"default-argument"};
    image.config.user = "app";
    image.config.env = {"A=1"};

    auto workload = workload_for_image(image, {}, lowerdirs());
    EXPECT_EQ(workload.argv, (std::vector<std::string>{"/bin/entry", "default-argument"}));
    EXPECT_EQ(workload.workdir, "/");
    EXPECT_EQ(workload.user, "1000:1000:10,29");
    ASSERT_EQ(workload.env.size(), 2u);
    EXPECT_TRUE(workload.env[1].starts_with("PATH="));

    workload = workload_for_image(image, {"given"}, lowerdirs());
    EXPECT_EQ(workload.argv, (std::vector<std::string>{"/bin/entry", "given"}));

    image.config.entrypoint.clear();
    image.config.cmd.clear();
    EXPECT_THROW(workload_for_image(image, {}, lowerdirs()), isolab::Error);
}
