// Module dependency resolution for the disk-form initramfs.
#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/core/error.hpp"
#include "vmdriver/guest/disk.hpp"

using namespace isolab::vm::guest;

namespace {

// Lines as depmod writes them for Debian's 6.1 kernel.
const char* modules_dep_fixture =
    "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko\n"
    "kernel/fs/jbd2/jbd2.ko:\n"
    "kernel/fs/mbcache.ko:\n"
    "kernel/lib/crc16.ko:\n"
    "kernel/crypto/crc32c_generic.ko:\n"
    "kernel/drivers/virtio/virtio.ko:\n"
    "kernel/drivers/virtio/virtio_ring.ko:\n"
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n"
    "kernel/drivers/virtio/virtio_pci_legacy_dev.ko:\n"
    "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko "
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko "
    "kernel/drivers/virtio/virtio_ring.ko\n"
    "kernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n";

std::size_t position(const std::vector<std::string>& order, const std::string& path) {
    return static_cast<std::size_t>(std::find(order.begin(), order.end(), path) - order.begin());
}

}  // namespace

TEST(GuestDisk, ModulesAfterDependencies) {
    auto order = resolve_module_order(modules_dep_fixture, disk_module_names());
    ASSERT_EQ(order.size(), 11u);
    EXPECT_LT(position(order, "kernel/drivers/virtio/virtio.ko"), position(order, "kernel/drivers/virtio/virtio_pci.ko"));
    EXPECT_LT(position(order, "kernel/drivers/virtio/virtio_ring.ko"),
              position(order, "kernel/drivers/block/virtio_blk.ko.xz"));
    EXPECT_LT(position(order, "kernel/fs/jbd2/jbd2.ko"), position(order, "kernel/fs/ext4/ext4.ko"));
    EXPECT_LT(position(order, "kernel/lib/crc16.ko"), position(order, "kernel/fs/ext4/ext4.ko"));
    EXPECT_LT(position(order, "kernel/crypto/crc32c_generic.ko"), position(order, "kernel/fs/ext4/ext4.ko"));
    EXPECT_EQ(order.back(), "kernel/fs/ext4/ext4.ko");
}

TEST(GuestDisk, EachModuleOnce) {
    auto order = resolve_module_order(modules_dep_fixture, {"virtio_blk", "virtio-pci", "virtio_blk"});
    EXPECT_EQ(std::count(order.begin(), order.end(), "kernel/drivers/virtio/virtio.ko"), 1);
    EXPECT_EQ(std::count(order.begin(), order.end(), "kernel/drivers/block/virtio_blk.ko.xz"), 1);
}

TEST(GuestDisk, UnknownModuleRejected) {
    try {
        resolve_module_order(modules_dep_fixture, {"btrfs"});
        FAIL() << "btrfs resolved";
    } catch (const isolab::Error& error) {
        EXPECT_NE(std::string(error.what()).find("btrfs"), std::string::npos);
    }
}

TEST(GuestDisk, CustomKernelHasNoDiskForm) {
    GuestKernel kernel;
    kernel.bzimage = "/boot/custom";
    EXPECT_THROW(write_disk_initramfs(kernel, Workload{}, "/dev/vda", "/tmp/unused.cpio"), isolab::Error);
}
