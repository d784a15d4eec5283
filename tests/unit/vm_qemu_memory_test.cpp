// Finding QEMU's guest RAM mapping in /proc/PID/smaps text, which splits a VM's PSS into
// the guest RAM touched and QEMU's own memory.
#include <gtest/gtest.h>

#include "vmdriver/libvirt/domain.hpp"

namespace isolab::vm::libvirt {
namespace {

constexpr std::uint64_t mebibyte = 1ULL << 20;

// A shortened smaps of QEMU with 256 MiB of guest RAM: the binary, a heap, a larger file
// mapping, the guest RAM block (of which 40 MiB is touched) and a small anonymous mapping.
constexpr const char* qemu_smaps =
    "55d1c0000000-55d1c0400000 r-xp 00000000 08:01 1234 /usr/bin/qemu-system-x86_64\n"
    "Size:               4096 kB\n"
    "Pss:                1024 kB\n"
    "55d1c1000000-55d1c3000000 rw-p 00000000 00:00 0                          [heap]\n"
    "Size:              32768 kB\n"
    "Pss:               20000 kB\n"
    "7f0000000000-7f0020000000 r--p 00000000 08:01 99 /usr/lib/locale/locale-archive-huge\n"
    "Size:             524288 kB\n"
    "Pss:                 100 kB\n"
    "7f1000000000-7f1010000000 rw-p 00000000 00:00 0 \n"
    "Size:             262144 kB\n"
    "KernelPageSize:        4 kB\n"
    "Rss:               40960 kB\n"
    "Pss:               40960 kB\n"
    "AnonHugePages:      2048 kB\n"
    "VmFlags: rd wr mr mw me ac hg dd\n"
    "7f2000000000-7f2000200000 rw-p 00000000 00:00 0\n"
    "Size:               2048 kB\n"
    "Pss:                2048 kB\n"
    // TCG's translated code: anonymous and larger than the guest RAM, but executable.
    "7f3000000000-7f3040000000 rwxp 00000000 00:00 0 \n"
    "Size:            1048576 kB\n"
    "Pss:               30720 kB\n";

// Guest RAM as a shared memfd (small pages under TCG) beside TCG's code buffer.
constexpr const char* memfd_smaps =
    "7f603ffff000-7f604ffff000 rw-s 00000000 00:01 8878                       /memfd:memory-backend-memfd (deleted)\n"
    "Size:             262144 kB\n"
    "Pss:               96256 kB\n"
    "7f6050000000-7f608ffff000 rwxp 00000000 00:00 0 \n"
    "Size:            1048576 kB\n"
    "Pss:               40960 kB\n";

TEST(GuestRamPss, FindsTheRamBlock) {
    auto pss = guest_ram_pss_from_smaps(qemu_smaps, 256 * mebibyte);
    ASSERT_TRUE(pss.has_value());
    EXPECT_EQ(*pss, 40960ULL * 1024);
}

TEST(GuestRamPss, FindsMemfdRamNotCodeBuffer) {
    auto pss = guest_ram_pss_from_smaps(memfd_smaps, 256 * mebibyte);
    ASSERT_TRUE(pss.has_value());
    EXPECT_EQ(*pss, 96256ULL * 1024);
}

TEST(GuestRamPss, NothingWhenNoMappingIsLargeEnough) {
    EXPECT_EQ(guest_ram_pss_from_smaps(qemu_smaps, 512 * mebibyte), std::nullopt);
}

TEST(GuestRamPss, FileMappingsDoNotCount) {
    // Only the 512 MiB file mapping is large enough: it is not guest RAM.
    EXPECT_EQ(guest_ram_pss_from_smaps(qemu_smaps, 300 * mebibyte), std::nullopt);
}

TEST(GuestRamPss, EmptyText) { EXPECT_EQ(guest_ram_pss_from_smaps("", 256 * mebibyte), std::nullopt); }

}  // namespace
}  // namespace isolab::vm::libvirt
