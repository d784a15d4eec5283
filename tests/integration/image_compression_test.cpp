#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "runtime/core/digest.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "runtime/image/layout.hpp"
#include "runtime/image/store.hpp"
#include "support/oci_archive.hpp"
#include "support/test_support.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_isolab;

#define REQUIRE_ROOT() \
    if (!testing::running_as_root()) GTEST_SKIP() << "unpacking layers and running containers needs root"

// Names of the entries in a folder, or none when it does not exist.
std::vector<std::string> entries_of(const fs::path& folder) {
    std::vector<std::string> names;
    if (!fs::exists(folder)) return names;
    for (const auto& entry : fs::directory_iterator(folder)) names.push_back(entry.path().filename().string());
    return names;
}

// Writes an oci-archive with one layer, packed by the host's tar and compressed by the
// host's gzip or zstd, so the layer is not made by isolab's own writer. The rootfs has
// busybox and a `sh` link. With `truncate`, the compressed layer is cut in half and the
// manifest names the digest of the cut blob, so only decompression can notice.
fs::path write_oci_archive(const fs::path& folder, const std::string& compression, bool truncate = false) {
    fs::path rootfs = folder / "rootfs";
    fs::create_directories(rootfs / "bin");
    fs::copy_file("/bin/busybox", rootfs / "bin/busybox", fs::copy_options::overwrite_existing);
    if (!fs::is_symlink(rootfs / "bin/sh")) fs::create_symlink("busybox", rootfs / "bin/sh");
    write_file_atomic(rootfs / "message", "packed by the host's tar\n");

    fs::path layer_tar = folder / "layer.tar";
    run_checked({"tar", "--numeric-owner", "--owner=0", "--group=0", "-C", rootfs.string(), "-cf", layer_tar.string(),
                 "bin", "message"});
    fs::path compressed = folder / ("layer.tar." + compression);
    if (compression == "zstd") {
        run_checked({"zstd", "-q", "-f", layer_tar.string(), "-o", compressed.string()});
    } else {
        run_checked({"sh", "-c", "gzip -n -c \"$1\" > \"$2\"", "sh", layer_tar.string(), compressed.string()});
    }
    if (truncate) fs::resize_file(compressed, fs::file_size(compressed) / 2);

    std::string media_type = compression == "zstd" ? image::media_type::layer_zstd : image::media_type::layer_gzip;
    return testing::write_oci_archive(folder, "packed:" + compression,
                                      {compressed, media_type, sha256_file_digest(layer_tar), {}});
}

TEST(ImageCompression, HostPackedZstdLayerLoadsAndRuns) {
    REQUIRE_ROOT();
    if (!program_available("zstd")) GTEST_SKIP() << "needs the zstd program";
    testing::TestRoot root;
    fs::path archive = write_oci_archive(root.root().parent_path() / "pack", "zstd");

    auto load = run_isolab(root.paths(), {"load", "-i", archive.string()});
    ASSERT_EQ(load.exit_code, 0) << load.err;
    EXPECT_EQ(load.out, "Loaded image: packed:zstd\n");

    image::Store store(root.paths());
    auto loaded = store.resolve("packed:zstd");
    ASSERT_EQ(loaded.layers.size(), 1u);
    EXPECT_EQ(loaded.layers[0].media_type, image::media_type::layer_zstd);

    auto run = run_isolab(root.paths(), {"run", "--rm", "packed:zstd", "busybox", "cat", "/message"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(run.out, "packed by the host's tar\n");
}

TEST(ImageCompression, TruncatedLayerStreamLeavesNothing) {
    REQUIRE_ROOT();
    if (!program_available("zstd")) GTEST_SKIP() << "needs the zstd program";
    for (const std::string compression : {"zstd", "gzip"}) {
        testing::TestRoot root;
        fs::path archive = write_oci_archive(root.root().parent_path() / "pack", compression, true);

        auto load = run_isolab(root.paths(), {"load", "-i", archive.string()});
        EXPECT_NE(load.exit_code, 0) << compression;
        EXPECT_EQ(std::count(load.err.begin(), load.err.end(), '\n'), 1) << compression << ": " << load.err;
        EXPECT_NE(load.err.find("cannot unpack layer sha256:"), std::string::npos) << compression << ": " << load.err;
        EXPECT_NE(load.err.find("cannot decompress"), std::string::npos) << compression << ": " << load.err;
        EXPECT_EQ(load.out, "") << compression;

        auto images = run_isolab(root.paths(), {"images", "--format", "json"});
        ASSERT_EQ(images.exit_code, 0) << images.err;
        for (const auto& entry : json::parse(images.out)) {
            EXPECT_NE(entry["Repository"], "packed") << compression;
        }
        image::Store store(root.paths());
        auto busybox = store.resolve("busybox");
        auto layers = entries_of(root.paths().layers());
        std::erase(layers, image::digest_hex(busybox.layers[0].digest));
        EXPECT_TRUE(layers.empty()) << compression << ": a half-unpacked folder is left: " << layers.front();
        EXPECT_TRUE(entries_of(root.paths().images() / ".scratch").empty()) << compression;
        EXPECT_EQ(entries_of(root.paths().images() / "blobs/sha256").size(), 3u)
            << compression << ": only busybox's manifest, config and layer stay";
    }
}

TEST(ImageCompression, BuildWritesZstdLayersAndSaveKeepsThem) {
    REQUIRE_ROOT();
    testing::TestRoot root;
    fs::path context = root.root() / "context";
    fs::create_directories(context);
    write_file_atomic(context / "note", "copied\n");
    write_file_atomic(context / "Dockerfile",
                      "FROM busybox\nRUN echo made by run > /greeting\nCOPY note /note\nCMD [\"cat\", \"/greeting\", \"/note\"]\n");

    auto built = run_isolab(root.paths(), {"build", "--compression", "zstd", "-t", "squeezed", context.string()});
    ASSERT_EQ(built.exit_code, 0) << built.err;
    image::Store store(root.paths());
    auto image = store.resolve("squeezed");
    ASSERT_EQ(image.layers.size(), 3u);
    EXPECT_EQ(image.layers[0].media_type, image::media_type::layer_gzip) << "the FROM image's layer keeps its compression";
    EXPECT_EQ(image.layers[1].media_type, image::media_type::layer_zstd);
    EXPECT_EQ(image.layers[2].media_type, image::media_type::layer_zstd);
    std::ifstream blob(store.blob_path(image.layers[1].digest), std::ios::binary);
    char magic[4] = {};
    blob.read(magic, 4);
    EXPECT_EQ(std::string(magic, 4), std::string("\x28\xb5\x2f\xfd", 4)) << "zstd frame magic";

    auto run = run_isolab(root.paths(), {"run", "--rm", "squeezed"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(run.out, "made by run\ncopied\n");

    fs::path saved = root.root().parent_path() / "squeezed.tar";
    auto save = run_isolab(root.paths(), {"save", "--format", "oci-archive", "-o", saved.string(), "squeezed"});
    ASSERT_EQ(save.exit_code, 0) << save.err;
    testing::TestRoot target_root;
    auto load = run_isolab(target_root.paths(), {"load", "-i", saved.string()});
    ASSERT_EQ(load.exit_code, 0) << load.err;
    image::Store target(target_root.paths());
    auto copy = target.resolve("squeezed");
    EXPECT_EQ(copy.manifest_digest, image.manifest_digest) << "save and load keep the zstd blobs as they are";
    EXPECT_EQ(copy.layers[2].media_type, image::media_type::layer_zstd);
    auto copy_run = run_isolab(target_root.paths(), {"run", "--rm", "squeezed"});
    EXPECT_EQ(copy_run.out, "made by run\ncopied\n") << copy_run.err;
}

TEST(ImageCompression, GzipBuildDoesNotReuseZstdCache) {
    REQUIRE_ROOT();
    testing::TestRoot root;
    fs::path context = root.root() / "context";
    fs::create_directories(context);
    write_file_atomic(context / "Dockerfile", "FROM busybox\nRUN echo cached > /file\n");

    auto zstd = run_isolab(root.paths(), {"build", "--compression", "zstd", "-t", "first", context.string()});
    ASSERT_EQ(zstd.exit_code, 0) << zstd.err;
    auto gzip = run_isolab(root.paths(), {"build", "-t", "second", context.string()});
    ASSERT_EQ(gzip.exit_code, 0) << gzip.err;
    auto again = run_isolab(root.paths(), {"build", "--compression", "zstd", "-t", "third", context.string()});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.err.find("CACHED"), std::string::npos) << "the second zstd build hits its cache: " << again.err;

    image::Store store(root.paths());
    EXPECT_EQ(store.resolve("first").layers.back().media_type, image::media_type::layer_zstd);
    EXPECT_EQ(store.resolve("second").layers.back().media_type, image::media_type::layer_gzip);
    EXPECT_EQ(store.resolve("third").layers.back().digest, store.resolve("first").layers.back().digest);
    EXPECT_EQ(store.resolve("second").layers.back().diff_id, store.resolve("first").layers.back().diff_id);
}

TEST(ImageCompression, InvalidCompressionRejected) {
    testing::TestRoot root;
    auto result = run_isolab(root.paths(), {"build", "--compression", "xz", root.root().string()});
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find("--compression"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace isolab
