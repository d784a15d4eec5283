// Volumes, bind mounts and --mount tmpfs in real containers from the busybox image: data
// in a volume outlives the container while the container's own files do not, targets
// stay inside the rootfs, :ro is read-only, and nothing is left behind. Needs root.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/container/manage.hpp"
#include "runtime/container/record.hpp"
#include "runtime/container/run.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "runtime/image/manifest.hpp"
#include "runtime/image/store.hpp"
#include "runtime/volume/volume.hpp"
#include "support/test_support.hpp"

namespace isolab::container {
namespace {

namespace fs = std::filesystem;

struct Output {
    std::vector<std::string> out;
    std::vector<std::string> err;
    int exit_code = -1;

    bool has_line(const std::string& line) const { return std::find(out.begin(), out.end(), line) != out.end(); }
};

class VolumeRun : public ::testing::Test {
protected:
    void SetUp() override {
        if (!isolab::testing::running_as_root()) GTEST_SKIP() << "running containers needs root";
        store_ = std::make_unique<image::Store>(root_.paths());
        store_->ensure_busybox();
    }

    void TearDown() override {
        if (!store_) return;
        EXPECT_EQ(mounts_under_root(), std::vector<std::string>{}) << "a mount was left behind";
    }

    Output run_in(RunOptions options, std::vector<std::string> command) {
        Output output;
        std::mutex lock;
        if (options.image.empty()) options.image = "busybox";
        options.command = std::move(command);
        options.on_output_line = [&](std::string_view line, bool is_stderr, Clock::time_point) {
            std::lock_guard guard(lock);
            (is_stderr ? output.err : output.out).emplace_back(line);
        };
        output.exit_code = run(*store_, options).exit_code;
        return output;
    }

    Output run_with_volumes(std::vector<std::string> volumes, std::vector<std::string> command, bool remove = true) {
        RunOptions options;
        options.volumes = std::move(volumes);
        options.remove = remove;
        return run_in(std::move(options), std::move(command));
    }

    std::vector<std::string> volume_names() const {
        std::vector<std::string> names;
        for (const auto& volume : volume::list_volumes(root_.paths())) names.push_back(volume.name);
        return names;
    }

    // Lines of the host's /proc/self/mountinfo that mention the test's folder.
    std::vector<std::string> mounts_under_root() const {
        std::vector<std::string> found;
        std::ifstream mountinfo("/proc/self/mountinfo");
        std::string line;
        while (std::getline(mountinfo, line)) {
            if (line.find(root_.root().parent_path().string()) != std::string::npos) found.push_back(line);
        }
        return found;
    }

    // A folder beside the state root, removed with the test root.
    fs::path host_folder(const std::string& name) const {
        auto folder = root_.root().parent_path() / name;
        fs::create_directories(folder);
        return folder;
    }

    // Stores busybox's layers under `reference` with `volumes` as the config's Volumes.
    void add_image_with_volumes(const std::string& reference, const std::vector<std::string>& volumes) {
        auto busybox = store_->resolve("busybox");
        auto config = busybox.config;
        config.volumes = volumes;
        store_->add_image(reference, image::make_image_config(config, busybox.created, busybox.history, busybox.layers),
                          busybox.layers);
    }

    // Imports a rootfs of busybox applets in which /conf is an absolute symbolic link to
    // `link_target`, a folder on the host.
    void add_image_with_link(const std::string& reference, const fs::path& link_target) {
        TemporaryDirectory build(root_.root(), "link-image-");
        auto rootfs = build.path() / "rootfs";
        fs::create_directories(rootfs / "bin");
        fs::copy_file("/bin/busybox", rootfs / "bin/busybox");
        for (const char* applet : {"sh", "grep", "echo", "ls", "cat", "touch"}) {
            fs::create_symlink("busybox", rootfs / "bin" / applet);
        }
        fs::create_symlink(link_target, rootfs / "conf");
        auto tar = build.path() / "rootfs.tar";
        auto packed = run_command({"tar", "-C", rootfs.string(), "-cf", tar.string(), "."});
        ASSERT_EQ(packed.exit_code, 0) << packed.output;
        store_->import_rootfs(tar, reference);
    }

    isolab::testing::TestRoot root_;
    std::unique_ptr<image::Store> store_;
};

TEST_F(VolumeRun, VolumeDataOutlivesContainer) {
    RunOptions options;
    options.name = "writer";
    options.volumes = {"data:/data"};
    auto written = run_in(options, {"sh", "-c", "echo kept > /data/file"});
    ASSERT_EQ(written.exit_code, 0) << ::testing::PrintToString(written.err);
    remove_container(root_.paths(), "writer", false);

    auto read = run_with_volumes({"data:/data"}, {"cat", "/data/file"});

    EXPECT_EQ(read.out, std::vector<std::string>{"kept"});
    EXPECT_EQ(volume_names(), std::vector<std::string>{"data"});
}

TEST_F(VolumeRun, ContainerFilesDieWithRm) {
    RunOptions options;
    options.name = "writer";
    options.volumes = {"data:/data"};
    ASSERT_EQ(run_in(options, {"sh", "-c", "echo lost > /root-file"}).exit_code, 0);
    remove_container(root_.paths(), "writer", false);

    auto read = run_with_volumes({"data:/data"}, {"sh", "-c", "cat /root-file || echo missing"});

    EXPECT_EQ(read.out, std::vector<std::string>{"missing"});
}

TEST_F(VolumeRun, ReadOnlyVolumeRejectsWrites) {
    ASSERT_EQ(run_with_volumes({"data:/data"}, {"touch", "/data/before"}).exit_code, 0);

    auto output = run_with_volumes({"data:/data:ro"}, {"sh", "-c", "touch /data/x && echo written; ls /data; "
                                                                   "grep ' /data ' /proc/self/mountinfo | grep -c ' ro,'"});

    EXPECT_FALSE(output.has_line("written"));
    EXPECT_TRUE(output.has_line("before"));
    EXPECT_TRUE(output.has_line("1")) << ::testing::PrintToString(output.out);
    EXPECT_FALSE(fs::exists(volume::find_volume(root_.paths(), "data")->mountpoint / "x"));
}

TEST_F(VolumeRun, ReadOnlyBindRejectsWrites) {
    auto host = host_folder("bind-ro");
    RunOptions options;
    options.mounts = {"type=bind,source=" + host.string() + ",target=/in,readonly"};

    auto output = run_in(options, {"sh", "-c", "touch /in/x && echo written; echo done"});

    EXPECT_EQ(output.out, std::vector<std::string>{"done"});
    EXPECT_FALSE(fs::exists(host / "x"));
}

TEST_F(VolumeRun, VolumeWritableOnReadOnlyRootfs) {
    RunOptions options;
    options.read_only = true;
    options.volumes = {"data:/data"};

    auto output = run_in(options, {"sh", "-c", "touch /root-file && echo root-writable; touch /data/x && echo data-writable"});

    EXPECT_EQ(output.out, std::vector<std::string>{"data-writable"});
    EXPECT_TRUE(fs::exists(volume::find_volume(root_.paths(), "data")->mountpoint / "x"));
}

TEST_F(VolumeRun, NewVolumeFilledFromImage) {
    auto output = run_with_volumes({"etc:/etc"}, {"cat", "/etc/passwd"});

    auto data = volume::find_volume(root_.paths(), "etc")->mountpoint;
    EXPECT_TRUE(fs::exists(data / "passwd"));
    EXPECT_FALSE(output.out.empty());
    EXPECT_EQ(read_file(data / "passwd").substr(0, 5), "root:");
}

TEST_F(VolumeRun, FilledVolumeNotCopiedAgain) {
    ASSERT_EQ(run_with_volumes({"etc:/etc"}, {"rm", "/etc/passwd"}).exit_code, 0);

    auto output = run_with_volumes({"etc:/etc"}, {"sh", "-c", "ls /etc/passwd || echo gone"});

    EXPECT_EQ(output.out, std::vector<std::string>{"gone"});
}

TEST_F(VolumeRun, ConcurrentFirstUseBothStart) {
    std::vector<int> exit_codes(2, -1);
    std::vector<std::thread> runs;
    for (size_t i = 0; i < exit_codes.size(); ++i) {
        runs.emplace_back([&, i] {
            try {
                exit_codes[i] = run_with_volumes({"etc:/etc"}, {"test", "-s", "/etc/passwd"}).exit_code;
            } catch (const Error& error) {
                ADD_FAILURE() << error.what();
            }
        });
    }
    for (auto& thread : runs) thread.join();

    EXPECT_EQ(exit_codes, (std::vector<int>{0, 0}));
}

TEST_F(VolumeRun, NoCopyLeavesVolumeEmpty) {
    auto output = run_with_volumes({"etc:/etc:nocopy"}, {"ls", "-A", "/etc"});

    EXPECT_EQ(output.out, std::vector<std::string>{});
    EXPECT_TRUE(fs::is_empty(volume::find_volume(root_.paths(), "etc")->mountpoint));
}

TEST_F(VolumeRun, AnonymousVolumeRemovedWithRmV) {
    RunOptions options;
    options.name = "anon";
    options.volumes = {"/data"};
    ASSERT_EQ(run_in(options, {"touch", "/data/x"}).exit_code, 0);
    ASSERT_EQ(volume_names().size(), 1U);

    remove_container(root_.paths(), "anon", false, true);

    EXPECT_EQ(volume_names(), std::vector<std::string>{});
}

TEST_F(VolumeRun, RmWithoutVKeepsAnonymousVolume) {
    RunOptions options;
    options.name = "anon";
    options.volumes = {"/data"};
    ASSERT_EQ(run_in(options, {"true"}).exit_code, 0);

    remove_container(root_.paths(), "anon", false);

    EXPECT_EQ(volume_names().size(), 1U);
    EXPECT_EQ(volume::prune_volumes(root_.paths(), false).names.size(), 1U);
    EXPECT_EQ(volume_names(), std::vector<std::string>{});
}

TEST_F(VolumeRun, RunRmRemovesOnlyAnonymousVolumes) {
    auto output = run_with_volumes({"/scratch", "named:/named"}, {"touch", "/scratch/x", "/named/x"});

    EXPECT_EQ(output.exit_code, 0);
    EXPECT_EQ(volume_names(), std::vector<std::string>{"named"});
}

TEST_F(VolumeRun, ImageVolumesGetAnonymousVolumes) {
    add_image_with_volumes("with-volume:latest", {"/var/data"});
    RunOptions options;
    options.image = "with-volume";
    options.name = "uses-image-volume";

    auto output = run_in(options, {"sh", "-c", "grep -c ' /var/data ' /proc/self/mountinfo"});

    EXPECT_EQ(output.out, std::vector<std::string>{"1"});
    ASSERT_EQ(volume_names().size(), 1U);
    EXPECT_TRUE(volume::list_volumes(root_.paths()).front().anonymous);
}

TEST_F(VolumeRun, UserMountReplacesImageVolume) {
    add_image_with_volumes("with-volume:latest", {"/var/data"});
    RunOptions options;
    options.image = "with-volume";
    options.remove = true;
    options.volumes = {"mine:/var/data"};

    ASSERT_EQ(run_in(options, {"true"}).exit_code, 0);

    EXPECT_EQ(volume_names(), std::vector<std::string>{"mine"});
}

TEST_F(VolumeRun, BindPathWithSpacesAndCommas) {
    auto host = host_folder("a b,c");
    { std::ofstream(host / "in file") << "from host\n"; }
    RunOptions options;
    options.mounts = {"type=bind,\"source=" + host.string() + "\",\"target=/in dir,x\""};
    options.volumes = {host.string() + ":/second copy"};

    auto output = run_in(options, {"sh", "-c", "cat '/in dir,x/in file' && echo back > '/second copy/out'"});

    EXPECT_EQ(output.out, std::vector<std::string>{"from host"}) << ::testing::PrintToString(output.err);
    EXPECT_EQ(read_file(host / "out"), "back\n");
}

TEST_F(VolumeRun, BindSingleFile) {
    auto host = host_folder("file-source");
    { std::ofstream(host / "config") << "value\n"; }
    RunOptions options;
    options.volumes = {(host / "config").string() + ":/etc/app.conf:ro"};

    auto output = run_in(options, {"cat", "/etc/app.conf"});

    EXPECT_EQ(output.out, std::vector<std::string>{"value"});
}

TEST_F(VolumeRun, MissingMountBindSourceRejected) {
    auto missing = root_.root().parent_path() / "no such folder";
    RunOptions options;
    options.name = "never";
    options.volumes = {"/anonymous"};
    options.mounts = {"type=bind,source=" + missing.string() + ",target=/in"};

    try {
        run_in(options, {"true"});
        FAIL() << "a missing bind source was accepted";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find(missing.string()), std::string::npos) << error.what();
    }
    EXPECT_FALSE(fs::exists(missing));
    EXPECT_EQ(volume_names(), std::vector<std::string>{});
    EXPECT_FALSE(find_container(root_.paths(), "never"));
}

TEST_F(VolumeRun, MissingVolumeOptionSourceCreated) {
    auto missing = root_.root().parent_path() / "created by -v";

    auto output = run_with_volumes({missing.string() + ":/in"}, {"touch", "/in/x"});

    EXPECT_EQ(output.exit_code, 0);
    EXPECT_TRUE(fs::exists(missing / "x"));
}

TEST_F(VolumeRun, SetupFailureRemovesAnonymousVolume) {
    RunOptions options;
    options.volumes = {"/data"};
    options.user = "no-such-user";

    EXPECT_THROW(run_in(options, {"true"}), Error);

    EXPECT_EQ(volume_names(), std::vector<std::string>{});
    EXPECT_TRUE(list_containers(root_.paths()).empty());
}

TEST_F(VolumeRun, DuplicateTargetRejected) {
    EXPECT_THROW(run_with_volumes({"one:/data", "two:/data/"}, {"true"}), Error);

    EXPECT_EQ(volume_names(), std::vector<std::string>{});
}

TEST_F(VolumeRun, TargetThroughSymlinkStaysInside) {
    auto host = host_folder("host-conf");
    add_image_with_link("link:latest", host);
    RunOptions options;
    options.image = "link";
    options.volumes = {"data:/conf/sub"};

    auto output = run_in(options, {"sh", "-c", "touch /conf/sub/x && echo written"});

    EXPECT_EQ(output.out, std::vector<std::string>{"written"}) << ::testing::PrintToString(output.err);
    EXPECT_TRUE(fs::is_empty(host)) << "the mount target was created on the host";
    EXPECT_TRUE(fs::exists(volume::find_volume(root_.paths(), "data")->mountpoint / "x"));
}

TEST_F(VolumeRun, CopyThroughSymlinkStaysInside) {
    auto host = host_folder("host-secret");
    { std::ofstream(host / "secret") << "host only\n"; }
    add_image_with_link("link:latest", host);
    RunOptions options;
    options.image = "link";
    options.volumes = {"data:/conf"};

    auto output = run_in(options, {"sh", "-c", "ls /conf"});

    EXPECT_EQ(output.out, std::vector<std::string>{});
    EXPECT_FALSE(fs::exists(volume::find_volume(root_.paths(), "data")->mountpoint / "secret"));
}

TEST_F(VolumeRun, MountsInsideBindStayInContainer) {
    auto host = host_folder("propagation");
    fs::create_directories(host / "sub");
    RunOptions options;
    options.cap_add = {"SYS_ADMIN"};
    options.seccomp = false;
    options.mounts = {"type=bind,source=" + host.string() + ",target=/in,bind-propagation=rslave"};

    auto output = run_in(options, {"sh", "-c", "mount -t tmpfs none /in/sub && touch /in/sub/x && echo mounted"});

    EXPECT_EQ(output.out, std::vector<std::string>{"mounted"}) << ::testing::PrintToString(output.err);
    EXPECT_FALSE(fs::exists(host / "sub" / "x"));
}

TEST_F(VolumeRun, MountTmpfsWithOptions) {
    RunOptions options;
    options.mounts = {"type=tmpfs,target=/cache,tmpfs-size=1m,tmpfs-mode=1770"};

    auto output = run_in(options, {"sh", "-c", "grep ' /cache ' /proc/self/mountinfo | grep -c size=1024k; stat -c %a /cache"});

    EXPECT_EQ(output.out, (std::vector<std::string>{"1", "1770"}));
}

TEST_F(VolumeRun, RemoveRejectedWhileContainerUsesVolume) {
    RunOptions options;
    options.name = "holder";
    options.volumes = {"held:/data"};
    ASSERT_EQ(run_in(options, {"true"}).exit_code, 0);

    try {
        volume::remove_volume(root_.paths(), "held", true);
        FAIL() << "a volume in use was removed";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("holder"), std::string::npos) << error.what();
    }
    EXPECT_EQ(volume_names(), std::vector<std::string>{"held"});
    EXPECT_TRUE(volume::prune_volumes(root_.paths(), true).names.empty());
}

TEST_F(VolumeRun, ConfigStoresResolvedMounts) {
    RunOptions options;
    options.name = "recorded";
    options.volumes = {"data:/data:ro", "/anonymous"};
    ASSERT_EQ(run_in(options, {"true"}).exit_code, 0);

    auto container = find_container(root_.paths(), "recorded");

    ASSERT_TRUE(container);
    EXPECT_EQ(container->config.request.volumes, options.volumes);
    ASSERT_EQ(container->config.mounts.size(), 2U);
    EXPECT_EQ(container->config.mounts[0].destination, "/data");
    EXPECT_TRUE(container->config.mounts[0].read_only);
    EXPECT_TRUE(container->config.mounts[1].anonymous);
}

}  // namespace
}  // namespace isolab::container
