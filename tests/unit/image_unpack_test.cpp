#include <gtest/gtest.h>

#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <fstream>
#include <map>

#include "runtime/core/digest.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "runtime/image/layer_unpack.hpp"
#include "support/tar_builder.hpp"
#include "support/test_support.hpp"

namespace isolab::image {
namespace {

namespace fs = std::filesystem;

using testing::TarBuilder;

// A test folder with the layer destination and a sentinel folder outside it.
class UnpackTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!testing::running_as_root()) GTEST_SKIP() << "whiteouts, devices and ownership need root";
        folder_ = std::make_unique<TemporaryDirectory>(fs::temp_directory_path(), "isolab-unpack-");
        base_ = folder_->path();
        layer_ = base_ / "a" / "b" / "layer";
        outside_ = base_ / "outside";
        fs::create_directories(layer_);
        fs::create_directories(outside_);
        write_file_atomic(outside_ / "sentinel", "untouched");
        write_file_atomic(base_ / "a" / "sentinel", "untouched");
        tar_ = base_ / "layer.tar";
    }

    // Path, type, size, mode and content digest of everything in the test folder outside
    // the layer, so a test can show an unpack changed nothing there.
    std::map<std::string, std::string> snapshot_outside() const {
        std::map<std::string, std::string> state;
        for (auto it = fs::recursive_directory_iterator(base_); it != fs::recursive_directory_iterator(); ++it) {
            if (it->path() == layer_) {
                it.disable_recursion_pending();
                continue;
            }
            struct stat info {};
            lstat(it->path().c_str(), &info);
            std::string description = std::to_string(info.st_mode) + " " + std::to_string(info.st_size) + " " +
                                      std::to_string(info.st_nlink);
            if (S_ISREG(info.st_mode) && it->path() != tar_) description += " " + sha256_file_digest(it->path());
            state[it->path().string()] = description;
        }
        return state;
    }

    // Unpacks tar_ and expects a rejection naming `entry`, with nothing outside changed.
    // Returns the error message.
    std::string expect_rejected(const std::string& entry) {
        std::string message;
        auto before = snapshot_outside();
        struct stat etc_before {};
        stat("/etc", &etc_before);
        try {
            unpack_layer(tar_, layer_);
            ADD_FAILURE() << "the layer with entry '" << entry << "' was accepted";
        } catch (const Error& error) {
            message = error.what();
            // libarchive may print a directory entry with a trailing slash.
            EXPECT_NE(message.find("'" + entry), std::string::npos) << message;
            EXPECT_NE(message.find("rejected"), std::string::npos) << message;
        }
        EXPECT_EQ(snapshot_outside(), before);
        EXPECT_EQ(read_file(outside_ / "sentinel"), "untouched");
        struct stat etc_after {};
        stat("/etc", &etc_after);
        EXPECT_EQ(etc_before.st_mtim.tv_sec, etc_after.st_mtim.tv_sec) << "/etc changed";
        EXPECT_EQ(etc_before.st_mtim.tv_nsec, etc_after.st_mtim.tv_nsec) << "/etc changed";
        return message;
    }

    std::unique_ptr<TemporaryDirectory> folder_;
    fs::path base_, layer_, outside_, tar_;
};

TEST_F(UnpackTest, DataOverLimitRejected) {
    TarBuilder tar(tar_);
    tar.file("small", std::string(1000, 'a'));
    tar.file("large", std::string(5000, 'b'));
    tar.close();

    try {
        unpack_layer(tar_, layer_, 4096);
        ADD_FAILURE() << "a layer with 6000 bytes of data was accepted under a limit of 4096";
    } catch (const Error& error) {
        std::string message = error.what();
        EXPECT_NE(message.find("4096 bytes"), std::string::npos) << message;
        EXPECT_NE(message.find("'large'"), std::string::npos) << message;
        EXPECT_NE(message.find(max_layer_size_variable), std::string::npos) << message;
    }
}

TEST_F(UnpackTest, DataAtLimitAccepted) {
    TarBuilder tar(tar_);
    tar.file("small", std::string(1000, 'a'));
    tar.file("large", std::string(5000, 'b'));
    tar.close();

    auto result = unpack_layer(tar_, layer_, 6000);
    EXPECT_EQ(result.data_bytes, 6000u);
    EXPECT_EQ(fs::file_size(layer_ / "large"), 5000u);
}

// The holes of a sparse file do not count: 64 MiB of apparent size with 6 bytes of data
// unpack under a limit of 64 KiB. GNU tar stores each data region in whole file-system
// blocks, so the layer holds two 4 KiB regions.
TEST_F(UnpackTest, SparseHolesNotCountedAgainstLimit) {
    fs::path rootfs = base_ / "sparse-rootfs";
    fs::create_directories(rootfs);
    constexpr std::uintmax_t size = std::uintmax_t{64} << 20;
    {
        std::ofstream big(rootfs / "big", std::ios::binary);
        big << "aa";
        big.seekp(static_cast<std::streamoff>(size - 3));
        big << "zz\n";
    }
    run_checked({"tar", "--sparse", "--posix", "--numeric-owner", "-C", rootfs.string(), "-cf", tar_.string(), "big"});

    auto result = unpack_layer(tar_, layer_, 64 * 1024);
    EXPECT_LE(result.data_bytes, 64u * 1024);
    EXPECT_EQ(fs::file_size(layer_ / "big"), size);
}

TEST(MaxLayerSize, DefaultAndVariable) {
    unsetenv(max_layer_size_variable);
    EXPECT_EQ(max_layer_size(), std::uint64_t{16} << 30);
    setenv(max_layer_size_variable, "512m", 1);
    EXPECT_EQ(max_layer_size(), std::uint64_t{512} << 20);
    setenv(max_layer_size_variable, "lots", 1);
    EXPECT_THROW(max_layer_size(), Error);
    unsetenv(max_layer_size_variable);
}

TEST_F(UnpackTest, FilesDirectoriesAndLinks) {
    TarBuilder tar(tar_);
    tar.add("srv", AE_IFDIR, 0750, "", [](archive_entry* entry) {
        archive_entry_set_uid(entry, 1000);
        archive_entry_set_gid(entry, 1001);
    });
    tar.add("srv/tool", AE_IFREG, 04755, "#!/bin/sh\n", [](archive_entry* entry) {
        archive_entry_xattr_add_entry(entry, "user.course", "isolab", 6);
    });
    tar.symlink("srv/passwd", "/etc/passwd");
    tar.symlink("srv/relative", "../srv/tool");
    tar.hardlink("srv/tool-link", "srv/tool");
    tar.file("deep/nested/file", "data");
    tar.add("fifo", AE_IFIFO, 0600, "");
    tar.close();

    auto result = unpack_layer(tar_, layer_);
    EXPECT_EQ(result.entries, 7u);
    EXPECT_EQ(result.digest, sha256_file_digest(tar_));
    EXPECT_EQ(result.diff_id, result.digest) << "an uncompressed layer has digest == diff_id";

    struct stat info {};
    ASSERT_EQ(lstat((layer_ / "srv").c_str(), &info), 0);
    EXPECT_TRUE(S_ISDIR(info.st_mode));
    EXPECT_EQ(info.st_mode & 07777, 0750u);
    EXPECT_EQ(info.st_uid, 1000u);
    EXPECT_EQ(info.st_gid, 1001u);
    EXPECT_EQ(info.st_mtim.tv_sec, 1600000000) << "directory mtime is set after its children";

    struct stat tool {};
    ASSERT_EQ(lstat((layer_ / "srv/tool").c_str(), &tool), 0);
    EXPECT_EQ(tool.st_mode & 07777, 04755u) << "setuid bit kept";
    EXPECT_EQ(tool.st_mtim.tv_sec, 1600000000);
    EXPECT_EQ(read_file(layer_ / "srv/tool"), "#!/bin/sh\n");
    char value[16] = {};
    ASSERT_EQ(getxattr((layer_ / "srv/tool").c_str(), "user.course", value, sizeof value), 6);
    EXPECT_EQ(std::string(value), "isolab");

    struct stat link {};
    ASSERT_EQ(lstat((layer_ / "srv/tool-link").c_str(), &link), 0);
    EXPECT_EQ(link.st_ino, tool.st_ino) << "hard link shares the inode";
    EXPECT_EQ(fs::read_symlink(layer_ / "srv/passwd"), "/etc/passwd");
    EXPECT_EQ(fs::read_symlink(layer_ / "srv/relative"), "../srv/tool");
    EXPECT_EQ(read_file(layer_ / "deep/nested/file"), "data");
    EXPECT_TRUE(fs::is_fifo(layer_ / "fifo"));
}

TEST_F(UnpackTest, CompressedLayers) {
    for (auto compression : {TarBuilder::Compression::gzip, TarBuilder::Compression::zstd}) {
        fs::remove(tar_);
        fs::remove_all(layer_);
        fs::create_directories(layer_);
        TarBuilder tar(tar_, compression);
        tar.file("hello", "compressed");
        tar.close();

        auto result = unpack_layer(tar_, layer_);
        EXPECT_EQ(read_file(layer_ / "hello"), "compressed");
        EXPECT_EQ(result.digest, sha256_file_digest(tar_));
        EXPECT_NE(result.diff_id, result.digest);
    }
}

TEST_F(UnpackTest, WhiteoutsBecomeOverlayForms) {
    TarBuilder tar(tar_);
    tar.file(".wh.gone", "");
    tar.directory("etc");
    tar.file("etc/.wh.shadow", "");
    tar.directory("opaque");
    tar.file("opaque/.wh..wh..opq", "");
    tar.file("opaque/kept", "new");
    tar.close();

    unpack_layer(tar_, layer_);
    for (const char* hidden : {"gone", "etc/shadow"}) {
        struct stat info {};
        ASSERT_EQ(lstat((layer_ / hidden).c_str(), &info), 0) << hidden;
        EXPECT_TRUE(S_ISCHR(info.st_mode)) << hidden;
        EXPECT_EQ(info.st_rdev, makedev(0, 0)) << hidden;
    }
    EXPECT_FALSE(fs::exists(layer_ / ".wh.gone"));
    char value[4] = {};
    ASSERT_EQ(getxattr((layer_ / "opaque").c_str(), "trusted.overlay.opaque", value, sizeof value), 1);
    EXPECT_EQ(value[0], 'y');
    EXPECT_FALSE(fs::exists(layer_ / "opaque/.wh..wh..opq"));
    EXPECT_EQ(read_file(layer_ / "opaque/kept"), "new");
}

TEST_F(UnpackTest, RejectsParentTraversal) {
    TarBuilder(tar_).file("../../etc/evil", "evil").close();
    expect_rejected("../../etc/evil");
    EXPECT_FALSE(fs::exists(base_ / "a" / "etc"));
}

TEST_F(UnpackTest, RejectsTraversalAfterSafeEntries) {
    TarBuilder tar(tar_);
    tar.file("fine", "ok");
    tar.file("sub/../../../outside/sentinel", "evil");
    tar.close();
    expect_rejected("sub/../../../outside/sentinel");
}

TEST_F(UnpackTest, RejectsAbsolutePath) {
    TarBuilder(tar_).file((outside_ / "abs-path").string(), "evil").close();
    expect_rejected((outside_ / "abs-path").string());
    EXPECT_FALSE(fs::exists(outside_ / "abs-path"));
}

TEST_F(UnpackTest, RejectsWriteThroughAbsoluteSymlink) {
    // The same shape as `link -> /etc` then `link/passwd`, aimed at the test's own folder.
    TarBuilder tar(tar_);
    tar.symlink("link", outside_.string());
    tar.file("link/sentinel", "evil");
    tar.close();
    EXPECT_NE(expect_rejected("link/sentinel").find("symbolic link"), std::string::npos);
    EXPECT_TRUE(fs::is_symlink(layer_ / "link"));
}

TEST_F(UnpackTest, RejectsWriteThroughEtcSymlink) {
    TarBuilder tar(tar_);
    tar.symlink("link", "/etc");
    tar.directory("link/isolab-must-not-exist");
    tar.close();
    EXPECT_NE(expect_rejected("link/isolab-must-not-exist").find("symbolic link"), std::string::npos);
    EXPECT_TRUE(fs::is_symlink(layer_ / "link"));
    EXPECT_FALSE(fs::exists("/etc/isolab-must-not-exist"));
}

TEST_F(UnpackTest, RejectsWriteThroughRelativeSymlink) {
    TarBuilder tar(tar_);
    tar.directory("dir");
    tar.symlink("dir/up", "../../../../outside");
    tar.file("dir/up/sentinel", "evil");
    tar.close();
    EXPECT_NE(expect_rejected("dir/up/sentinel").find("symbolic link"), std::string::npos);
}

TEST_F(UnpackTest, RejectsAbsoluteHardlink) {
    // The same shape as a hard link to /etc/shadow, aimed at the test's sentinel.
    TarBuilder(tar_).hardlink("shadow", (outside_ / "sentinel").string()).close();
    expect_rejected("shadow");
    EXPECT_FALSE(fs::exists(layer_ / "shadow"));
}

TEST_F(UnpackTest, RejectsHardlinkToEtcShadow) {
    TarBuilder(tar_).hardlink("shadow", "/etc/shadow", "overwrite").close();
    struct stat before {};
    stat("/etc/shadow", &before);
    expect_rejected("shadow");
    struct stat after {};
    stat("/etc/shadow", &after);
    EXPECT_EQ(before.st_nlink, after.st_nlink);
    EXPECT_EQ(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
    EXPECT_EQ(before.st_size, after.st_size);
}

TEST_F(UnpackTest, RejectsHardlinkEscapingByDots) {
    TarBuilder(tar_).hardlink("escape", "../../../outside/sentinel", "overwrite").close();
    expect_rejected("escape");
}

TEST_F(UnpackTest, RejectsHardlinkThroughSymlink) {
    TarBuilder tar(tar_);
    tar.symlink("out", outside_.string());
    tar.hardlink("grab", "out/sentinel", "overwrite");
    tar.close();
    expect_rejected("grab");
}

TEST_F(UnpackTest, RejectsDeviceNode) {
    TarBuilder(tar_).directory("dev").device("dev/sda", 8, 0).close();
    expect_rejected("dev/sda");
    EXPECT_FALSE(fs::exists(layer_ / "dev/sda"));
}

TEST_F(UnpackTest, RejectsOverlayXattr) {
    TarBuilder tar(tar_);
    tar.add("redirect", AE_IFDIR, 0755, "", [](archive_entry* entry) {
        archive_entry_xattr_add_entry(entry, "trusted.overlay.redirect", "/etc", 4);
    });
    tar.close();
    expect_rejected("redirect");
}

TEST_F(UnpackTest, RejectsTruncatedTar) {
    TarBuilder tar(tar_);
    tar.file("big", std::string(100000, 'x'));
    tar.close();
    fs::resize_file(tar_, 20000);
    auto before = snapshot_outside();
    EXPECT_THROW(unpack_layer(tar_, layer_), Error);
    EXPECT_EQ(snapshot_outside(), before);
}

}  // namespace
}  // namespace isolab::image
