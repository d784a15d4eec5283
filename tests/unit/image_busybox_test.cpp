#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "runtime/image/busybox.hpp"
#include "runtime/image/store.hpp"
#include "support/test_support.hpp"

namespace isolab::image {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> applets() {
    std::istringstream lines(run_checked({"/bin/busybox", "--list-full"}));
    std::vector<std::string> paths;
    for (std::string line; std::getline(lines, line);) {
        if (!line.empty()) paths.push_back(line);
    }
    return paths;
}

TEST(Busybox, ImageConfig) {
    testing::TestRoot root;
    Store store(root.paths());
    Image image = store.ensure_busybox();

    EXPECT_EQ(image.reference, "busybox:latest");
    EXPECT_EQ(image.config.env, std::vector<std::string>{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"});
    EXPECT_EQ(image.config.cmd, std::vector<std::string>{"sh"});
    EXPECT_EQ(image.architecture, "amd64");
    EXPECT_EQ(image.os, "linux");
    ASSERT_EQ(image.layers.size(), 1u);
    ASSERT_EQ(image.history.size(), 1u);
    EXPECT_NE(image.history[0].created_by.find("BusyBox"), std::string::npos) << image.history[0].created_by;
    EXPECT_FALSE(image.created.empty());
}

TEST(Busybox, RootfsContent) {
    if (!testing::running_as_root()) GTEST_SKIP() << "unpacking keeps ownership only as root";
    testing::TestRoot root;
    Store store(root.paths());
    auto lowerdirs = store.lowerdirs(store.ensure_busybox());
    ASSERT_EQ(lowerdirs.size(), 1u);
    const fs::path& rootfs = lowerdirs[0];

    EXPECT_EQ(read_file(rootfs / "bin/busybox"), read_file("/bin/busybox"));
    EXPECT_TRUE(fs::status(rootfs / "bin/busybox").permissions() == fs::perms(0755));
    for (const auto& applet : applets()) {
        if (applet == "bin/busybox") continue;
        ASSERT_TRUE(fs::is_symlink(rootfs / applet)) << applet;
        auto target = fs::read_symlink(rootfs / applet);
        EXPECT_TRUE(target.is_relative()) << applet << " -> " << target;
        EXPECT_EQ(fs::weakly_canonical(rootfs / fs::path(applet).parent_path() / target), rootfs / "bin/busybox") << applet;
    }
    EXPECT_EQ(fs::read_symlink(rootfs / "bin/sh"), "busybox");

    std::string passwd = read_file(rootfs / "etc/passwd");
    EXPECT_NE(passwd.find("root:x:0:0:"), std::string::npos);
    EXPECT_NE(passwd.find("user:x:1000:1000:"), std::string::npos);
    EXPECT_NE(passwd.find("nobody:x:65534:65534:"), std::string::npos);
    std::string group = read_file(rootfs / "etc/group");
    EXPECT_NE(group.find("root:x:0:"), std::string::npos);
    EXPECT_NE(group.find("user:x:1000:"), std::string::npos);

    struct stat info {};
    ASSERT_EQ(stat((rootfs / "tmp").c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 01777u);
    ASSERT_EQ(stat((rootfs / "home/user").c_str(), &info), 0);
    EXPECT_EQ(info.st_uid, 1000u);
    EXPECT_EQ(info.st_gid, 1000u);
    for (const char* empty : {"proc", "sys", "dev", "root"}) {
        ASSERT_TRUE(fs::is_directory(rootfs / empty)) << empty;
        EXPECT_TRUE(fs::is_empty(rootfs / empty)) << empty;
    }
}

TEST(Busybox, DigestIsReproducible) {
    testing::TestRoot first_root;
    testing::TestRoot second_root;
    Image first = Store(first_root.paths()).ensure_busybox();
    Image second = Store(second_root.paths()).ensure_busybox();

    EXPECT_EQ(first.layers[0].digest, second.layers[0].digest);
    EXPECT_EQ(first.layers[0].diff_id, second.layers[0].diff_id);
    EXPECT_EQ(first.config_digest, second.config_digest);
    EXPECT_EQ(first.manifest_digest, second.manifest_digest);
}

TEST(Busybox, Idempotent) {
    testing::TestRoot root;
    Store store(root.paths());
    Image first = store.ensure_busybox();
    Image second = store.ensure_busybox();
    EXPECT_EQ(first.manifest_digest, second.manifest_digest);
    EXPECT_EQ(store.list().size(), 1u);
}

TEST(Busybox, ResolveCreatesIt) {
    testing::TestRoot root;
    Store store(root.paths());
    EXPECT_EQ(store.resolve("busybox").reference, "busybox:latest");
    EXPECT_EQ(store.list().size(), 1u);
}

TEST(Busybox, ConcurrentCreation) {
    testing::TestRoot root;
    std::vector<pid_t> children;
    for (int i = 0; i < 4; ++i) {
        pid_t child = fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            int code = 0;
            try {
                Store(root.paths()).lowerdirs(Store(root.paths()).ensure_busybox());
            } catch (...) {
                code = 1;
            }
            _exit(code);
        }
        children.push_back(child);
    }
    for (pid_t child : children) {
        int status = 0;
        ASSERT_EQ(waitpid(child, &status, 0), child);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    Store store(root.paths());
    auto images = store.list();
    ASSERT_EQ(images.size(), 1u);
    EXPECT_TRUE(fs::exists(store.layer_folder(images[0].layers[0]) / "bin/busybox"));
    for (const auto& entry : fs::directory_iterator(root.paths().layers())) {
        EXPECT_NE(entry.path().filename().string().rfind(".unpack-", 0), 0u) << "left behind: " << entry.path();
    }
}

TEST(Busybox, DynamicBinaryRejected) {
    testing::TestRoot root;
    setenv("ISOLAB_BUSYBOX", "/bin/ls", 1);
    try {
        Store(root.paths()).ensure_busybox();
        unsetenv("ISOLAB_BUSYBOX");
        FAIL() << "a dynamically linked busybox was accepted";
    } catch (const Error& error) {
        unsetenv("ISOLAB_BUSYBOX");
        EXPECT_NE(std::string(error.what()).find("dynamically linked"), std::string::npos) << error.what();
        EXPECT_NE(error.hint().find("busybox-static"), std::string::npos) << error.hint();
    }
    EXPECT_TRUE(Store(root.paths()).list().empty());
}

TEST(Busybox, MissingBinaryRejected) {
    testing::TestRoot root;
    setenv("ISOLAB_BUSYBOX", (root.root() / "no-busybox").c_str(), 1);
    EXPECT_THROW(Store(root.paths()).ensure_busybox(), Error);
    unsetenv("ISOLAB_BUSYBOX");
}

}  // namespace
}  // namespace isolab::image
