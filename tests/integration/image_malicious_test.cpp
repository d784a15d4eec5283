// Hostile images through the CLI: layers whose entries try to leave the root, an image
// whose /dev and /proc are symbolic links out of it, a huge sparse file, many tiny files
// and a layer whose digest does not match its manifest. Each one gets a clear one-line
// error or safe behaviour. None writes outside the state root or leaves anything behind.
// The layer unpacker's own rules are unit-tested in tests/unit/image_unpack_test.cpp;
// a truncated gzip or zstd layer is in image_compression_test.cpp.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "runtime/core/digest.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "runtime/image/layout.hpp"
#include "runtime/image/store.hpp"
#include "support/oci_archive.hpp"
#include "support/root_cli_test.hpp"
#include "support/tar_builder.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::TarBuilder;

size_t line_count(const std::string& text) {
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

std::vector<std::string> entries_of(const fs::path& folder) {
    std::vector<std::string> names;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(folder, error)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

class MaliciousImageTest : public testing::BusyboxCliTest {
protected:
    void SetUp() override {
        BusyboxCliTest::SetUp();
        if (IsSkipped()) return;
        base_ = root_.root().parent_path();
        outside_ = base_ / "outside";
        fs::create_directories(outside_);
        write_file_atomic(outside_ / "sentinel", "untouched");
        outside_before_ = snapshot(outside_);
        layers_before_ = entries_of(root_.paths().layers());
        blobs_before_ = entries_of(root_.paths().images() / "blobs/sha256");
    }

    // Type, size, link count and content digest of everything below `folder`.
    static std::map<std::string, std::string> snapshot(const fs::path& folder) {
        std::map<std::string, std::string> state;
        for (const auto& entry : fs::recursive_directory_iterator(folder)) {
            struct stat info {};
            lstat(entry.path().c_str(), &info);
            std::string description = std::to_string(info.st_mode) + " " + std::to_string(info.st_size) + " " +
                                      std::to_string(info.st_nlink);
            if (S_ISREG(info.st_mode)) description += " " + sha256_file_digest(entry.path());
            state[entry.path().string()] = description;
        }
        return state;
    }

    // A layer with a working busybox (/bin/busybox, /bin/sh), to which a test adds entries.
    TarBuilder& add_busybox(TarBuilder& tar) {
        tar.directory("bin").file("bin/busybox", read_file("/bin/busybox"), 0755).symlink("bin/sh", "busybox");
        return tar;
    }

    // `isolab import` of `tar` as lab/evil:1.
    testing::CliResult import(const fs::path& tar) { return isolab({"import", tar.string(), "lab/evil:1"}); }

    // The command failed with one line naming `fragment`, and the store and the folder
    // outside are as they were before: no image, layer folder, blob or scratch file added.
    void expect_rejected_cleanly(const testing::CliResult& result, const std::string& fragment) {
        EXPECT_NE(result.exit_code, 0) << result.out;
        EXPECT_EQ(line_count(result.err), 1u) << result.err;
        EXPECT_EQ(result.err.rfind("isolab: ", 0), 0u) << result.err;
        EXPECT_NE(result.err.find(fragment), std::string::npos) << result.err;
        expect_store_unchanged();
    }

    void expect_store_unchanged() {
        EXPECT_EQ(snapshot(outside_), outside_before_) << "a file outside the state root changed";
        EXPECT_EQ(read_file(outside_ / "sentinel"), "untouched");
        EXPECT_EQ(entries_of(root_.paths().layers()), layers_before_) << "an unpacked layer folder was left";
        EXPECT_EQ(entries_of(root_.paths().images() / "blobs/sha256"), blobs_before_) << "a blob was left";
        EXPECT_TRUE(entries_of(root_.paths().images() / ".scratch").empty());
        auto images = isolab({"images", "-q"});
        EXPECT_EQ(line_count(images.out), 1u) << "only busybox: " << images.out;
        EXPECT_TRUE(no_containers());
    }

    // The mount points below `folder` in this mount namespace.
    static std::vector<std::string> mounts_below(const fs::path& folder) {
        std::vector<std::string> found;
        std::ifstream mountinfo("/proc/self/mountinfo");
        std::string line;
        while (std::getline(mountinfo, line)) {
            if (line.find(" " + folder.string()) != std::string::npos) found.push_back(line);
        }
        return found;
    }

    fs::path base_, outside_;
    std::map<std::string, std::string> outside_before_;
    std::vector<std::string> layers_before_, blobs_before_;
};

TEST_F(MaliciousImageTest, ImportRejectsParentTraversal) {
    std::string escape;
    for (int i = 0; i < 24; ++i) escape += "../";
    escape += outside_.relative_path().string() + "/evil";
    fs::path tar = base_ / "dots.tar";
    TarBuilder layer(tar);
    add_busybox(layer).file(escape, "evil");
    layer.close();

    expect_rejected_cleanly(import(tar), "rejected");
    EXPECT_FALSE(fs::exists(outside_ / "evil"));
}

TEST_F(MaliciousImageTest, ImportRejectsAbsolutePath) {
    fs::path tar = base_ / "absolute.tar";
    TarBuilder layer(tar);
    add_busybox(layer).file((outside_ / "evil").string(), "evil");
    layer.close();

    expect_rejected_cleanly(import(tar), "rejected");
    EXPECT_FALSE(fs::exists(outside_ / "evil"));
}

TEST_F(MaliciousImageTest, ImportRejectsWriteThroughSymlinkOutside) {
    fs::path tar = base_ / "through-link.tar";
    TarBuilder layer(tar);
    add_busybox(layer).symlink("out", outside_.string()).file("out/sentinel", "evil");
    layer.close();

    expect_rejected_cleanly(import(tar), "out/sentinel");
}

TEST_F(MaliciousImageTest, ImportRejectsHardlinkToOutside) {
    fs::path tar = base_ / "hardlink.tar";
    TarBuilder layer(tar);
    add_busybox(layer).hardlink("grab", (outside_ / "sentinel").string(), "evil");
    layer.close();

    expect_rejected_cleanly(import(tar), "grab");
}

TEST_F(MaliciousImageTest, LoadRejectsDigestMismatch) {
    fs::path tar = base_ / "layer.tar";
    TarBuilder layer(tar);
    add_busybox(layer);
    layer.close();
    // The manifest names the digest of other content; the blob is stored under that name.
    std::string claimed = sha256_digest("some other layer");
    auto archive = testing::write_oci_archive(base_ / "pack", "lab/evil:1",
                                              {tar, image::media_type::layer_tar, sha256_file_digest(tar), claimed});

    expect_rejected_cleanly(isolab({"load", "-i", archive.string()}), claimed);
}

TEST_F(MaliciousImageTest, LoadRejectsDiffIdMismatch) {
    fs::path tar = base_ / "layer.tar.gz";
    TarBuilder layer(tar, TarBuilder::Compression::gzip);
    add_busybox(layer);
    layer.close();
    std::string claimed = sha256_digest("some other tar");
    auto archive = testing::write_oci_archive(base_ / "pack", "lab/evil:1", {tar, image::media_type::layer_gzip, claimed, {}});

    expect_rejected_cleanly(isolab({"load", "-i", archive.string()}), claimed);
}

// Sets ISOLAB_MAX_LAYER_SIZE for the isolab processes a test starts, until destroyed.
class MaxLayerSize {
public:
    explicit MaxLayerSize(std::uintmax_t bytes) { setenv("ISOLAB_MAX_LAYER_SIZE", std::to_string(bytes).c_str(), 1); }
    ~MaxLayerSize() { unsetenv("ISOLAB_MAX_LAYER_SIZE"); }
};

// Writes a layer of busybox and a file /zeros of 2 MiB of zeros, which counts in full
// against the unpacked size limit.
void write_zeros_layer(TarBuilder& layer) {
    layer.directory("bin").file("bin/busybox", read_file("/bin/busybox"), 0755).symlink("bin/sh", "busybox");
    layer.file("zeros", std::string(2u << 20, '\0'));
    layer.close();
}

// The layer of write_zeros_layer under a limit that busybox alone fits in.
TEST_F(MaliciousImageTest, ImportRejectsLayerOverSizeLimit) {
    fs::path tar = base_ / "zeros.tar";
    TarBuilder layer(tar);
    write_zeros_layer(layer);

    MaxLayerSize limit(fs::file_size("/bin/busybox") + (1u << 20));
    expect_rejected_cleanly(import(tar), "ISOLAB_MAX_LAYER_SIZE");
}

TEST_F(MaliciousImageTest, LoadRejectsLayerOverSizeLimit) {
    fs::path tar = base_ / "zeros.tar.gz";
    TarBuilder layer(tar, TarBuilder::Compression::gzip);
    write_zeros_layer(layer);
    std::string diff_id = sha256_digest(run_checked({"gzip", "-dc", tar.string()}));
    auto archive = testing::write_oci_archive(base_ / "pack", "lab/evil:1", {tar, image::media_type::layer_gzip, diff_id, {}});

    MaxLayerSize limit(fs::file_size("/bin/busybox") + (1u << 20));
    expect_rejected_cleanly(isolab({"load", "-i", archive.string()}), "ISOLAB_MAX_LAYER_SIZE");
}

// The same layer is accepted once the limit is raised, so the rejection above is the limit's.
TEST_F(MaliciousImageTest, LayerUnderSizeLimitImports) {
    fs::path tar = base_ / "zeros.tar";
    TarBuilder layer(tar);
    write_zeros_layer(layer);

    MaxLayerSize limit(fs::file_size("/bin/busybox") + (3u << 20));
    auto imported = import(tar);
    EXPECT_EQ(imported.exit_code, 0) << imported.err;
    auto run = isolab({"run", "--rm", "lab/evil:1", "sh", "-c", "wc -c < /zeros"});
    EXPECT_EQ(run.out, std::to_string(2u << 20) + "\n") << run.err;
}

TEST_F(MaliciousImageTest, InvalidLayerSizeLimitRejected) {
    fs::path tar = base_ / "small.tar";
    TarBuilder layer(tar);
    add_busybox(layer);
    layer.close();

    setenv("ISOLAB_MAX_LAYER_SIZE", "lots", 1);
    auto result = import(tar);
    unsetenv("ISOLAB_MAX_LAYER_SIZE");
    expect_rejected_cleanly(result, "ISOLAB_MAX_LAYER_SIZE");
}

// An image whose /dev, /proc and /sys are absolute symbolic links to host folders. The
// container's mounts resolve them inside the root, so the host folders get no mount and
// no file, and the container still has a working /dev, /proc and /sys.
TEST_F(MaliciousImageTest, DevProcSymlinksStayInRoot) {
    for (const char* name : {"dev", "proc", "sys"}) fs::create_directories(outside_ / name);
    outside_before_ = snapshot(outside_);
    fs::path tar = base_ / "links.tar";
    TarBuilder layer(tar);
    add_busybox(layer);
    for (const char* name : {"dev", "proc", "sys"}) layer.symlink(name, (outside_ / name).string());
    layer.close();
    auto imported = import(tar);
    ASSERT_EQ(imported.exit_code, 0) << imported.err;

    auto run = isolab({"run", "--rm", "lab/evil:1", "sh", "-c",
                       "echo written > /dev/null && test -r /proc/self/status && test -d /sys/kernel && echo ok"});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(run.out, "ok\n");
    EXPECT_TRUE(mounts_below(outside_).empty()) << mounts_below(outside_).front();
    EXPECT_EQ(snapshot(outside_), outside_before_) << "a host folder the links name changed";
    EXPECT_TRUE(no_containers());
    EXPECT_TRUE(mounts_below(root_.root()).empty()) << mounts_below(root_.root()).front();
}

// A 16 GiB file with 6 bytes of data, packed by GNU tar as a sparse file: the unpacked
// layer stores the holes as holes, and `stat` and `tail` in the container read the full size and both ends.
TEST_F(MaliciousImageTest, HugeSparseFileStaysSparse) {
    constexpr std::uintmax_t size = std::uintmax_t{16} << 30;
    fs::path rootfs = base_ / "sparse-rootfs";
    fs::create_directories(rootfs / "bin");
    fs::copy_file("/bin/busybox", rootfs / "bin/busybox");
    fs::create_symlink("busybox", rootfs / "bin/sh");
    {
        std::ofstream big(rootfs / "big", std::ios::binary);
        big << "aa";
        big.seekp(static_cast<std::streamoff>(size - 3));
        big << "zz\n";
    }
    ASSERT_EQ(fs::file_size(rootfs / "big"), size);
    fs::path tar = base_ / "sparse.tar";
    run_checked({"tar", "--sparse", "--posix", "--numeric-owner", "-C", rootfs.string(), "-cf", tar.string(), "bin", "big"});
    fs::remove_all(rootfs);
    ASSERT_LT(fs::file_size(tar), 4u << 20);

    auto started = std::chrono::steady_clock::now();
    auto imported = import(tar);
    auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
    EXPECT_LT(seconds, 60) << "unpacking wrote the holes";

    auto inspect = json::parse(isolab({"image", "inspect", "lab/evil:1"}).out);
    fs::path unpacked = inspect[0]["LayerBlobs"][0]["Path"].get<std::string>();
    struct stat info {};
    ASSERT_EQ(stat((unpacked / "big").c_str(), &info), 0);
    EXPECT_EQ(static_cast<std::uintmax_t>(info.st_size), size);
    EXPECT_LT(info.st_blocks * 512, 1 << 20) << "the holes were written as zeros";

    auto run = isolab({"run", "--rm", "lab/evil:1", "sh", "-c", "stat -c %s /big; tail -c 3 /big; head -c 2 /big"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(run.out, std::to_string(size) + "\nzz\naa");
    EXPECT_TRUE(no_containers());
}

// Many tiny files: every file arrives, and the import takes seconds, not minutes.
// docs/reliability.md has the measured times.
TEST_F(MaliciousImageTest, ManyTinyFilesUnpackAndRun) {
    constexpr int count = 10000;
    fs::path tar = base_ / "many.tar";
    TarBuilder layer(tar);
    add_busybox(layer).directory("many");
    for (int i = 0; i < count; ++i) {
        if (i % 1000 == 0) layer.directory("many/" + std::to_string(i / 1000));
        layer.file("many/" + std::to_string(i / 1000) + "/" + std::to_string(i), "x");
    }
    layer.close();

    auto started = std::chrono::steady_clock::now();
    auto imported = import(tar);
    auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
    EXPECT_LT(seconds, 120);
    std::printf("imported %d files in %.1f s\n", count, seconds);

    auto run = isolab({"run", "--rm", "lab/evil:1", "sh", "-c", "find /many -type f | wc -l"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(run.out, std::to_string(count) + "\n");

    auto removed = isolab({"rmi", "lab/evil:1"});
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_EQ(entries_of(root_.paths().layers()), layers_before_) << "rmi left the unpacked layer";
}

}  // namespace
}  // namespace isolab
