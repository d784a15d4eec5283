#include <gtest/gtest.h>

#include <fstream>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "runtime/image/store.hpp"
#include "runtime/image/transfer.hpp"
#include "support/test_support.hpp"

namespace isolab::image {
namespace {

namespace fs = std::filesystem;

class TransferTest : public ::testing::TestWithParam<ArchiveFormat> {};

TEST_P(TransferTest, SaveLoadRoundTrip) {
    if (!testing::running_as_root()) GTEST_SKIP() << "unpacking layers keeps ownership only as root";
    testing::TestRoot source_root;
    testing::TestRoot target_root;
    Store source(source_root.paths());
    Image original = source.ensure_busybox();
    source.tag("busybox", "lab/box:v1");
    fs::path archive = source_root.root().parent_path() / "image.tar";

    save_image(source, "lab/box:v1", archive, GetParam());
    Store target(target_root.paths());
    auto loaded = load_images(target, archive);

    ASSERT_EQ(loaded, std::vector<std::string>{"lab/box:v1"});
    Image copy = target.resolve("lab/box:v1");
    EXPECT_EQ(copy.config_digest, original.config_digest) << "the image id survives the round trip";
    ASSERT_EQ(copy.layers.size(), 1u);
    EXPECT_EQ(copy.layers[0].diff_id, original.layers[0].diff_id);
    auto lowerdirs = target.lowerdirs(copy);
    EXPECT_EQ(read_file(lowerdirs[0] / "bin/busybox"), read_file("/bin/busybox"));
}

INSTANTIATE_TEST_SUITE_P(Formats, TransferTest, ::testing::Values(ArchiveFormat::docker_archive, ArchiveFormat::oci_archive),
                         [](const auto& test_info) { return test_info.param == ArchiveFormat::docker_archive ? "docker" : "oci"; });

TEST(Transfer, ParsesFormat) {
    EXPECT_EQ(parse_archive_format("docker-archive"), ArchiveFormat::docker_archive);
    EXPECT_EQ(parse_archive_format("oci-archive"), ArchiveFormat::oci_archive);
    EXPECT_THROW(parse_archive_format("zip"), Error);
}

TEST(Transfer, RejectsCorruptLayer) {
    if (!testing::running_as_root()) GTEST_SKIP() << "unpacking layers keeps ownership only as root";
    testing::TestRoot source_root;
    testing::TestRoot target_root;
    Store source(source_root.paths());
    Image original = source.ensure_busybox();
    fs::path folder = source_root.root().parent_path() / "unpacked";
    fs::path archive = source_root.root().parent_path() / "image.tar";
    save_image(source, "busybox", archive, ArchiveFormat::oci_archive);

    // Replace the layer blob with different bytes under the same name.
    fs::create_directories(folder);
    run_checked({"tar", "-C", folder.string(), "-xf", archive.string()});
    std::string layer_name = "blobs/sha256/" + original.layers[0].digest.substr(7);
    write_file_atomic(folder / layer_name, "not the layer");
    fs::remove(archive);
    run_checked({"tar", "-C", folder.string(), "-cf", archive.string(), "oci-layout", "index.json", "blobs"});

    Store target(target_root.paths());
    try {
        load_images(target, archive);
        FAIL() << "a corrupt archive was loaded";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("corrupt"), std::string::npos) << error.what();
    }
    EXPECT_TRUE(target.list().empty());
}

TEST(Transfer, RejectsOtherFiles) {
    testing::TestRoot root;
    Store store(root.paths());
    fs::path archive = root.root().parent_path() / "other.tar";
    fs::path folder = root.root().parent_path() / "other";
    fs::create_directories(folder);
    write_file_atomic(folder / "readme", "not an image");
    run_checked({"tar", "-C", folder.string(), "-cf", archive.string(), "readme"});

    EXPECT_THROW(load_images(store, archive), Error);
    EXPECT_THROW(load_images(store, root.root() / "missing.tar"), Error);
}

}  // namespace
}  // namespace isolab::image
