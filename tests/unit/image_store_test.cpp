#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include <nlohmann/json.hpp>

#include "runtime/core/digest.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/image/layer_pack.hpp"
#include "runtime/image/layout.hpp"
#include "runtime/image/manifest.hpp"
#include "runtime/image/store.hpp"
#include "support/test_support.hpp"

namespace isolab::image {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

TarEntry file_entry(const std::string& path, const std::string& content) {
    TarEntry entry;
    entry.path = path;
    entry.content = content;
    return entry;
}

// Stores a one-layer image whose only file has `content`.
Image add_test_image(Store& store, const std::string& reference, const std::string& content) {
    OciLayout layout(store.paths().images());
    Layer layer = write_layer(layout, {file_entry("hello.txt", content)}, 1700000000);
    RunConfig run_config;
    run_config.env = {"PATH=/bin"};
    run_config.cmd = {"cat", "/hello.txt"};
    run_config.working_dir = "/";
    run_config.labels = {{"course", "isolab"}};
    auto config = make_image_config(run_config, "2023-11-14T22:13:20Z", {{"2023-11-14T22:13:20Z", "test", {}, false}}, {layer});
    return store.add_image(reference, config, {layer});
}

json read_json(const fs::path& path) {
    return json::parse(read_file(path));
}

TEST(Layout, CreatesOciLayoutFiles) {
    testing::TestRoot root;
    Store store(root.paths());
    add_test_image(store, "web", "one");

    auto images = root.paths().images();
    EXPECT_EQ(read_json(images / "oci-layout")["imageLayoutVersion"], "1.0.0");
    auto index = read_json(images / "index.json");
    EXPECT_EQ(index["schemaVersion"], 2);
    EXPECT_EQ(index["mediaType"], media_type::index);
    ASSERT_EQ(index["manifests"].size(), 1u);
    EXPECT_EQ(index["manifests"][0]["mediaType"], media_type::manifest);
    EXPECT_EQ(index["manifests"][0]["annotations"][ref_name_annotation], "web:latest");
}

TEST(Layout, RoundTripsImage) {
    testing::TestRoot root;
    Store store(root.paths());
    Image added = add_test_image(store, "lab/web:v1", "one");

    Image found = store.resolve("lab/web:v1");
    EXPECT_EQ(found.reference, "lab/web:v1");
    EXPECT_EQ(found.manifest_digest, added.manifest_digest);
    EXPECT_EQ(found.config_digest, added.config_digest);
    EXPECT_EQ(found.created, "2023-11-14T22:13:20Z");
    EXPECT_EQ(found.architecture, "amd64");
    EXPECT_EQ(found.os, "linux");
    EXPECT_EQ(found.config.env, std::vector<std::string>{"PATH=/bin"});
    EXPECT_EQ((found.config.cmd), (std::vector<std::string>{"cat", "/hello.txt"}));
    EXPECT_EQ(found.config.labels.at("course"), "isolab");
    ASSERT_EQ(found.layers.size(), 1u);
    EXPECT_EQ(found.layers[0].media_type, media_type::layer_gzip);
    ASSERT_EQ(found.history.size(), 1u);
    EXPECT_EQ(found.history[0].created_by, "test");

    auto manifest = read_json(store.blob_path(found.manifest_digest));
    EXPECT_EQ(manifest["mediaType"], media_type::manifest);
    EXPECT_EQ(manifest["config"]["mediaType"], media_type::config);
    EXPECT_EQ(manifest["config"]["digest"], found.config_digest);
    EXPECT_EQ(manifest["layers"][0]["digest"], found.layers[0].digest);
    EXPECT_EQ(manifest["layers"][0]["size"], fs::file_size(store.blob_path(found.layers[0].digest)));
    auto config = read_json(store.blob_path(found.config_digest));
    EXPECT_EQ(config["rootfs"]["diff_ids"][0], found.layers[0].diff_id);
    EXPECT_EQ(sha256_file_digest(store.blob_path(found.layers[0].digest)), found.layers[0].digest);
}

TEST(Layout, FindsByIdPrefix) {
    testing::TestRoot root;
    Store store(root.paths());
    Image added = add_test_image(store, "web", "one");

    EXPECT_EQ(store.resolve(added.id().substr(0, 12)).config_digest, added.config_digest);
    EXPECT_EQ(store.resolve(added.config_digest).config_digest, added.config_digest);
    EXPECT_FALSE(store.find("nothere").has_value());
}

TEST(Layout, MissingImageHasHint) {
    testing::TestRoot root;
    Store store(root.paths());
    try {
        store.resolve("nothere:v1");
        FAIL() << "a missing image resolved";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("nothere:v1"), std::string::npos) << error.what();
        EXPECT_NE(error.hint().find("isolab images"), std::string::npos) << error.hint();
    }
}

TEST(Layout, DetectsCorruptConfigBlob) {
    testing::TestRoot root;
    Store store(root.paths());
    Image added = add_test_image(store, "web", "one");
    auto config_blob = store.blob_path(added.config_digest);
    std::string content = read_file(config_blob);
    content[content.size() / 2] = content[content.size() / 2] == 'x' ? 'y' : 'x';
    std::ofstream(config_blob, std::ios::binary | std::ios::trunc) << content;

    try {
        store.resolve("web");
        FAIL() << "a corrupt config blob was read";
    } catch (const Error& error) {
        std::string message = error.what();
        EXPECT_NE(message.find("corrupt"), std::string::npos) << message;
        EXPECT_NE(message.find(added.config_digest), std::string::npos) << message;
        EXPECT_NE(message.find(sha256_digest(content)), std::string::npos) << message;
    }
}

TEST(Layout, DetectsCorruptLayerBlob) {
    testing::TestRoot root;
    Store store(root.paths());
    Image added = add_test_image(store, "web", "one");
    OciLayout layout(root.paths().images());
    Layer other = write_layer(layout, {file_entry("hello.txt", "two")}, 1700000000);
    fs::copy_file(store.blob_path(other.digest), store.blob_path(added.layers[0].digest), fs::copy_options::overwrite_existing);

    try {
        store.unpacked_layer(added.layers[0]);
        FAIL() << "a corrupt layer blob was unpacked";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("corrupt"), std::string::npos) << error.what();
    }
    EXPECT_FALSE(fs::exists(store.layer_folder(added.layers[0])));
    for (const auto& entry : fs::directory_iterator(root.paths().layers())) {
        ADD_FAILURE() << "left behind: " << entry.path();
    }
}

TEST(Layout, UnpacksLayerOnce) {
    testing::TestRoot root;
    Store store(root.paths());
    Image added = add_test_image(store, "web", "one");

    auto lowerdirs = store.lowerdirs(added);
    ASSERT_EQ(lowerdirs.size(), 1u);
    EXPECT_EQ(read_file(lowerdirs[0] / "hello.txt"), "one");
    EXPECT_EQ(store.lowerdirs(added), lowerdirs);
    EXPECT_GT(store.unpacked_size(added), 0u);
    EXPECT_EQ(store.stored_size(added), added.manifest_size + added.config_size + added.layers[0].size);
}

TEST(Layout, TagsAndRemoves) {
    testing::TestRoot root;
    Store store(root.paths());
    Image added = add_test_image(store, "web", "one");
    store.tag("web", "web:v2");
    ASSERT_EQ(store.list().size(), 2u);
    EXPECT_EQ(store.resolve("web:v2").config_digest, added.config_digest);
    store.lowerdirs(added);

    auto lines = store.remove("web:latest", false);
    EXPECT_EQ(lines, std::vector<std::string>{"Untagged: web:latest"});
    EXPECT_TRUE(fs::exists(store.blob_path(added.layers[0].digest))) << "web:v2 still uses the layer";

    lines = store.remove("web:v2", false);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[1], "Deleted: " + added.config_digest);
    EXPECT_TRUE(store.list().empty());
    EXPECT_FALSE(fs::exists(store.blob_path(added.layers[0].digest)));
    EXPECT_FALSE(fs::exists(store.blob_path(added.manifest_digest)));
    EXPECT_FALSE(fs::exists(store.layer_folder(added.layers[0])));
}

TEST(Layout, KeepsSharedLayerOnRemove) {
    testing::TestRoot root;
    Store store(root.paths());
    Image first = add_test_image(store, "first", "same");
    OciLayout layout(root.paths().images());
    auto config = make_image_config({}, "2024-01-01T00:00:00Z", {}, first.layers);
    Image second = store.add_image("second", config, first.layers);
    ASSERT_NE(first.config_digest, second.config_digest);

    store.remove("first", false);
    EXPECT_TRUE(fs::exists(store.blob_path(first.layers[0].digest)));
    EXPECT_FALSE(fs::exists(store.blob_path(first.config_digest)));
    EXPECT_NO_THROW(store.resolve("second"));
}

TEST(Layout, RemoveByIdWithTagsNeedsForce) {
    testing::TestRoot root;
    Store store(root.paths());
    Image added = add_test_image(store, "web", "one");
    store.tag("web", "web:v2");

    EXPECT_THROW(store.remove(added.id().substr(0, 12), false), Error);
    auto lines = store.remove(added.id().substr(0, 12), true);
    EXPECT_EQ(lines.size(), 3u);
    EXPECT_TRUE(store.list().empty());
}

TEST(Layout, RemoveRejectedWhileContainerUsesImage) {
    testing::TestRoot root;
    Store store(root.paths());
    Image added = add_test_image(store, "web", "one");
    std::string container = std::string(64, 'c');
    fs::create_directories(root.paths().containers() / container);
    write_file_atomic(root.paths().containers() / container / "config.json",
                      json{{"id", container}, {"image_id", added.config_digest}}.dump());

    EXPECT_EQ(store.containers_using(added.config_digest), std::vector<std::string>{container});
    for (bool force : {false, true}) {
        try {
            store.remove("web", force);
            FAIL() << "an image in use was removed";
        } catch (const Error& error) {
            EXPECT_NE(std::string(error.what()).find(container.substr(0, 12)), std::string::npos) << error.what();
        }
    }
    EXPECT_NO_THROW(store.resolve("web"));

    store.tag("web", "web:v2");
    EXPECT_NO_THROW(store.remove("web:v2", false)) << "another tag keeps the image";
}

TEST(Layout, RemoveCleansAbandonedStaging) {
    testing::TestRoot root;
    Store store(root.paths());
    add_test_image(store, "web", "one");
    fs::path old_staging = root.paths().layers() / ".unpack-0123456789ab-old";
    fs::path new_staging = root.paths().layers() / ".unpack-0123456789ab-new";
    fs::path old_scratch = root.paths().images() / ".scratch" / "layer-old.tar.gz";
    fs::create_directories(old_staging);
    fs::create_directories(new_staging);
    write_file_atomic(old_scratch, "partial");
    auto two_hours_ago = fs::file_time_type::clock::now() - std::chrono::hours(2);
    fs::last_write_time(old_staging, two_hours_ago);
    fs::last_write_time(old_scratch, two_hours_ago);

    store.remove("web", false);
    EXPECT_FALSE(fs::exists(old_staging));
    EXPECT_FALSE(fs::exists(old_scratch));
    EXPECT_TRUE(fs::exists(new_staging)) << "a recent staging folder may belong to a running unpack";
}

TEST(Layout, InvalidTagTargetRejected) {
    testing::TestRoot root;
    Store store(root.paths());
    add_test_image(store, "web", "one");
    EXPECT_THROW(store.tag("web", "Web:Bad"), Error);
    EXPECT_THROW(store.tag("missing", "web:v3"), Error);
    EXPECT_EQ(store.list().size(), 1u);
}

}  // namespace
}  // namespace isolab::image
