#include <gtest/gtest.h>

#include <sys/mount.h>

#include <nlohmann/json.hpp>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/image/layer_pack.hpp"
#include "runtime/image/layout.hpp"
#include "runtime/image/manifest.hpp"
#include "runtime/image/store.hpp"
#include "runtime/linux/mounts.hpp"
#include "support/test_support.hpp"

namespace isolab::image {
namespace {

namespace fs = std::filesystem;

TarEntry entry(TarEntry::Type type, const std::string& path, const std::string& content = "") {
    TarEntry result;
    result.type = type;
    result.path = path;
    result.content = content;
    result.mode = type == TarEntry::Type::directory ? 0755 : 0644;
    return result;
}

// A container-style overlay mount of an image's lowerdirs with an upperdir and workdir
// beside `target`, unmounted by the destructor.
class OverlayMount {
public:
    OverlayMount(const std::vector<fs::path>& lowerdirs, const fs::path& target) : target_(target) {
        fs::path upper = target.parent_path() / "upper";
        fs::path work = target.parent_path() / "work";
        for (const auto& folder : {target, upper, work}) fs::create_directories(folder);
        kernel::mount_overlay(lowerdirs, upper, work, target);
    }
    ~OverlayMount() { umount2(target_.c_str(), MNT_DETACH); }
    OverlayMount(const OverlayMount&) = delete;
    OverlayMount& operator=(const OverlayMount&) = delete;

private:
    fs::path target_;
};

TEST(ImageOverlay, WhiteoutAndOpaqueHideLowerFiles) {
    if (!testing::running_as_root()) GTEST_SKIP() << "overlay mounts need root";
    testing::TestRoot root;
    Store store(root.paths());
    OciLayout layout(root.paths().images());

    using Type = TarEntry::Type;
    Layer base = write_layer(layout,
                             {entry(Type::directory, "etc"), entry(Type::file, "etc/secret", "base"),
                              entry(Type::file, "etc/kept", "base"), entry(Type::directory, "cache"),
                              entry(Type::file, "cache/old", "base")},
                             1700000000);
    Layer top = write_layer(layout,
                            {entry(Type::directory, "etc"), entry(Type::file, "etc/.wh.secret"),
                             entry(Type::directory, "cache"), entry(Type::file, "cache/.wh..wh..opq"),
                             entry(Type::file, "cache/new", "top")},
                            1700000000);
    Image image = store.add_image("stack:test", make_image_config({}, "2024-01-01T00:00:00Z", {}, {base, top}), {base, top});

    auto lowerdirs = store.lowerdirs(image);
    ASSERT_EQ(lowerdirs.size(), 2u);
    EXPECT_EQ(lowerdirs[0], store.layer_folder(top)) << "top layer first";
    OverlayMount overlay(lowerdirs, root.root() / "merged");
    fs::path merged = root.root() / "merged";

    EXPECT_FALSE(fs::exists(merged / "etc/secret")) << "the whiteout hides the lower file";
    EXPECT_EQ(read_file(merged / "etc/kept"), "base");
    EXPECT_FALSE(fs::exists(merged / "cache/old")) << "the opaque directory hides lower content";
    EXPECT_EQ(read_file(merged / "cache/new"), "top");
    EXPECT_TRUE(fs::exists(lowerdirs[1] / "etc/secret")) << "the base layer itself is unchanged";

    write_file_atomic(merged / "etc/secret", "recreated");
    EXPECT_EQ(read_file(merged / "etc/secret"), "recreated");
    EXPECT_EQ(read_file(lowerdirs[1] / "etc/secret"), "base") << "writes go to the upperdir";
}

TEST(ImageOverlay, BusyboxRootfsMounts) {
    if (!testing::running_as_root()) GTEST_SKIP() << "overlay mounts need root";
    testing::TestRoot root;
    Store store(root.paths());
    auto lowerdirs = store.lowerdirs(store.ensure_busybox());
    OverlayMount overlay(lowerdirs, root.root() / "merged");
    fs::path merged = root.root() / "merged";

    EXPECT_TRUE(fs::is_regular_file(merged / "bin/busybox"));
    EXPECT_EQ(fs::canonical(merged / "bin/sh"), merged / "bin/busybox");
    EXPECT_NE(read_file(merged / "etc/passwd").find("user:x:1000:1000"), std::string::npos);
}

// overlayfs splits its options at ',' and lowerdir at ':': a state root may contain both.
TEST(ImageOverlay, PathsWithCommaColonBackslash) {
    if (!testing::running_as_root()) GTEST_SKIP() << "overlay mounts need root";
    testing::TestRoot root;
    fs::path folder = root.root() / "a, b:c\\d";
    fs::path lower_top = folder / "top, layer";
    fs::path lower_base = folder / "base:layer";
    fs::create_directories(lower_top);
    fs::create_directories(lower_base);
    write_file_atomic(lower_base / "from-base", "base");
    write_file_atomic(lower_top / "from-top", "top");
    fs::path merged = folder / "merged";
    OverlayMount overlay({lower_top, lower_base}, merged);

    EXPECT_EQ(read_file(merged / "from-base"), "base");
    EXPECT_EQ(read_file(merged / "from-top"), "top");
    write_file_atomic(merged / "written", "new");
    EXPECT_EQ(read_file(folder / "upper" / "written"), "new") << "writes go to the upperdir";
}

// mount(2) takes one page of options: long layer paths are passed as descriptors, and more
// layers than even that allows fail with the reason.
TEST(ImageOverlay, LayersBeyondOnePageOfOptions) {
    if (!testing::running_as_root()) GTEST_SKIP() << "overlay mounts need root";
    testing::TestRoot root;
    auto make_layers = [&](const fs::path& folder, int count) {
        std::vector<fs::path> layers;
        for (int i = 0; i < count; ++i) {
            layers.push_back(folder / (std::string(90, 'x') + std::to_string(i)));
            fs::create_directories(layers.back());
            write_file_atomic(layers.back() / ("file" + std::to_string(i)), std::to_string(i));
        }
        return layers;
    };

    auto layers = make_layers(root.root() / "sixty", 60);  // about 6,000 bytes of paths
    {
        OverlayMount overlay(layers, root.root() / "sixty" / "merged");
        EXPECT_EQ(read_file(root.root() / "sixty" / "merged" / "file0"), "0");
        EXPECT_EQ(read_file(root.root() / "sixty" / "merged" / "file59"), "59");
    }

    auto too_many = make_layers(root.root() / "many", 300);
    try {
        OverlayMount overlay(too_many, root.root() / "many" / "merged");
        ADD_FAILURE() << "300 layers mounted";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("its 300 layers take"), std::string::npos) << error.what();
        EXPECT_NE(error.hint().find("fewer layers"), std::string::npos) << error.hint();
    }
}

}  // namespace
}  // namespace isolab::image
