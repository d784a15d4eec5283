// ISOLAB_KERNEL: booting a custom kernel file instead of the Debian package.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "vmdriver/guest/kernel.hpp"

using namespace isolab::vm::guest;
namespace fs = std::filesystem;

namespace {

class CustomKernel : public ::testing::Test {
protected:
    void TearDown() override { unsetenv("ISOLAB_KERNEL"); }

    isolab::TemporaryDirectory folder_{fs::temp_directory_path(), "isolab-kernel-test-"};
    isolab::Paths paths_{folder_.path() / "root", folder_.path() / "cache"};
};

}  // namespace

TEST_F(CustomKernel, BzImageBootsAsBzImage) {
    // Setup header with protocol 2.15 and kernel_version pointing at offset 0x300 + 0x200.
    std::string image(4096, '\0');
    image[0x1f1] = 4;
    image.replace(0x202, 4, "HdrS");
    image[0x206] = 0x0f;
    image[0x207] = 0x02;
    image[0x20e] = 0x00;
    image[0x20f] = 0x03;
    image[0x24c] = 0x10;
    std::string version = "6.99.0-custom (builder@host) #1";
    image.replace(0x500, version.size(), version);
    fs::path file = folder_.path() / "bzImage";
    isolab::write_file_atomic(file, image);
    setenv("ISOLAB_KERNEL", file.c_str(), 1);

    GuestKernel kernel = ensure_kernel(paths_);
    EXPECT_EQ(kernel.release, "6.99.0-custom");
    EXPECT_EQ(kernel.boot_format, "bzimage");
    EXPECT_EQ(kernel.boot_image, file);
    EXPECT_FALSE(kernel.fallback_reason.empty());
    EXPECT_TRUE(kernel.modules_dir.empty());
    EXPECT_EQ(kernel.boot_image_bytes, 4096u);
    EXPECT_FALSE(fs::exists(paths_.kernels()));
}

TEST_F(CustomKernel, MissingFileRejected) {
    setenv("ISOLAB_KERNEL", (folder_.path() / "missing").c_str(), 1);
    try {
        ensure_kernel(paths_);
        FAIL() << "a missing kernel file was accepted";
    } catch (const isolab::Error& error) {
        EXPECT_NE(std::string(error.what()).find("ISOLAB_KERNEL"), std::string::npos);
        EXPECT_FALSE(error.hint().empty());
    }
}

TEST_F(CustomKernel, GarbageFileNamesTheVariable) {
    fs::path file = folder_.path() / "garbage";
    isolab::write_file_atomic(file, std::string(8192, 'x'));
    setenv("ISOLAB_KERNEL", file.c_str(), 1);
    try {
        ensure_kernel(paths_);
        FAIL() << "a file that is no kernel was accepted";
    } catch (const isolab::Error& error) {
        EXPECT_NE(std::string(error.what()).find("ISOLAB_KERNEL=" + file.string() + " is neither"), std::string::npos)
            << error.what();
        EXPECT_FALSE(error.hint().empty());
    }
}
