#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "runtime/image/store.hpp"
#include "runtime/image/transfer.hpp"
#include "support/test_support.hpp"

namespace isolab::image {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// podman with its own storage under the test folder, so the host's images stay untouched.
std::vector<std::string> podman(const fs::path& folder, std::vector<std::string> arguments) {
    std::vector<std::string> command{"podman", "--root", (folder / "podman-root").string(), "--runroot",
                                     (folder / "podman-runroot").string(), "--storage-driver", "vfs"};
    command.insert(command.end(), arguments.begin(), arguments.end());
    return command;
}

TEST(ImageInterop, SkopeoReadsSavedArchives) {
    if (!testing::running_as_root() || !program_available("skopeo")) GTEST_SKIP() << "needs root and skopeo";
    testing::TestRoot root;
    Store store(root.paths());
    Image image = store.ensure_busybox();
    fs::path folder = root.root().parent_path();

    for (const auto& [format, transport] : {std::pair{ArchiveFormat::docker_archive, "docker-archive:"},
                                            std::pair{ArchiveFormat::oci_archive, "oci-archive:"}}) {
        fs::path archive = folder / "busybox.tar";
        save_image(store, "busybox", archive, format);
        auto inspect = json::parse(run_checked({"skopeo", "inspect", transport + archive.string()}));
        EXPECT_EQ(inspect["Architecture"], "amd64") << transport;
        ASSERT_EQ(inspect["Layers"].size(), 1u) << transport;
        fs::remove(archive);
    }
}

TEST(ImageInterop, UmociUnpacksStoreLayout) {
    if (!testing::running_as_root() || !program_available("skopeo") || !program_available("umoci")) {
        GTEST_SKIP() << "needs root, skopeo and umoci";
    }
    testing::TestRoot root;
    Store store(root.paths());
    store.ensure_busybox();
    fs::path folder = root.root().parent_path();

    // skopeo's oci: transport finds the image by its ref.name annotation in index.json.
    run_checked({"skopeo", "copy", "oci:" + root.paths().images().string() + ":busybox:latest",
                 "oci:" + (folder / "copy").string() + ":latest"});
    run_checked({"umoci", "unpack", "--image", (folder / "copy").string() + ":latest", (folder / "bundle").string()});
    EXPECT_EQ(read_file(folder / "bundle/rootfs/bin/busybox"), read_file("/bin/busybox"));
    EXPECT_EQ(fs::read_symlink(folder / "bundle/rootfs/bin/sh"), "busybox");
}

TEST(ImageInterop, PodmanRoundTrip) {
    if (!testing::running_as_root() || !program_available("podman")) GTEST_SKIP() << "needs root and podman";
    testing::TestRoot root;
    Store store(root.paths());
    Image original = store.ensure_busybox();
    fs::path folder = root.root().parent_path();

    for (const auto& [format, name] : {std::pair{ArchiveFormat::docker_archive, "docker-archive"},
                                       std::pair{ArchiveFormat::oci_archive, "oci-archive"}}) {
        fs::path saved = folder / ("isolab-" + std::string(name) + ".tar");
        save_image(store, "busybox", saved, format);
        run_checked(podman(folder, {"load", "-i", saved.string()}));
        auto podman_id = run_checked(podman(folder, {"image", "inspect", "--format", "{{.Id}}", "localhost/busybox:latest"}));
        EXPECT_EQ(podman_id.substr(0, 64), original.id()) << name;

        fs::path exported = folder / ("podman-" + std::string(name) + ".tar");
        run_checked(podman(folder, {"save", "--format", name, "-o", exported.string(), "localhost/busybox:latest"}));
        testing::TestRoot target_root;
        Store target(target_root.paths());
        auto loaded = load_images(target, exported);
        ASSERT_EQ(loaded, std::vector<std::string>{"localhost/busybox:latest"}) << name;
        Image copy = target.resolve("localhost/busybox:latest");
        EXPECT_EQ(copy.config_digest, original.config_digest) << name;
        EXPECT_EQ(read_file(target.lowerdirs(copy)[0] / "bin/busybox"), read_file("/bin/busybox")) << name;
        run_checked(podman(folder, {"rmi", "-f", "localhost/busybox:latest"}));
    }
}

}  // namespace
}  // namespace isolab::image
