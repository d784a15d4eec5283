#include <gtest/gtest.h>

#include <unistd.h>

#include "bench/cgroup_memory.hpp"
#include "bench/qemu_image_info.hpp"
#include "bench/smaps.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"

namespace isolab::bench {
namespace {

const std::filesystem::path fixtures = std::filesystem::path(ISOLAB_SOURCE_DIR) / "tests/fixtures/bench";

TEST(BenchSmaps, ParsesRollupFixture) {
    auto rollup = parse_smaps_rollup(read_file(fixtures / "smaps_rollup_qemu.txt"));

    EXPECT_EQ(rollup.rss_bytes, 312420ULL * 1024);
    EXPECT_EQ(rollup.pss_bytes, 298765ULL * 1024);
    EXPECT_EQ(rollup.pss_anon_bytes, 279980ULL * 1024);
    EXPECT_EQ(rollup.pss_file_bytes, 18653ULL * 1024);
    EXPECT_EQ(rollup.swap_bytes, 16ULL * 1024);
    EXPECT_EQ(rollup.fields.at("AnonHugePages"), 204800ULL * 1024);
    EXPECT_FALSE(rollup.fields.contains("55d0c0a00000-7ffc8b5f1000 ---p 00000000 00"));
}

TEST(BenchSmaps, MissingPssRejected) {
    EXPECT_THROW(parse_smaps_rollup("Rss: 12 kB\n"), Error);
    EXPECT_THROW(parse_smaps_rollup(""), Error);
}

TEST(BenchSmaps, KilobyteLineForms) {
    std::string name;
    std::uint64_t bytes = 0;
    EXPECT_TRUE(parse_kilobyte_line("Pss:      7 kB", name, bytes));
    EXPECT_EQ(name, "Pss");
    EXPECT_EQ(bytes, 7168U);
    EXPECT_FALSE(parse_kilobyte_line("VmFlags: rd wr", name, bytes));
    EXPECT_FALSE(parse_kilobyte_line("Pss: 7 MB", name, bytes));
    EXPECT_FALSE(parse_kilobyte_line("Pss: x kB", name, bytes));
}

TEST(BenchSmaps, ReadsOwnProcess) {
    auto rollup = read_smaps_rollup(getpid());
    ASSERT_TRUE(rollup.has_value());
    EXPECT_GT(rollup->pss_bytes, 0U);
    EXPECT_GE(rollup->rss_bytes, rollup->pss_bytes);
}

TEST(BenchSmaps, GoneProcessGivesNothing) {
    // PID 0 never has a /proc entry.
    EXPECT_FALSE(read_smaps_rollup(0).has_value());
}

TEST(BenchCgroupMemory, ParsesV1Stat) {
    auto stat = parse_memory_stat(read_file(fixtures / "memory_stat_v1.txt"));
    EXPECT_EQ(stat.at("cache"), 5406720U);
    // v1 counts children only in total_inactive_file, which is the one used.
    EXPECT_EQ(inactive_file_bytes(stat, CgroupVersion::v1), 4866048U);
}

TEST(BenchCgroupMemory, ParsesV2Stat) {
    auto stat = parse_memory_stat(read_file(fixtures / "memory_stat_v2.txt"));
    EXPECT_EQ(stat.at("anon"), 1118208U);
    EXPECT_EQ(inactive_file_bytes(stat, CgroupVersion::v2), 5246976U);
}

TEST(BenchCgroupMemory, MissingInactiveFileRejected) {
    auto stat = parse_memory_stat("anon 1\nfile 2\n");
    EXPECT_THROW(inactive_file_bytes(stat, CgroupVersion::v2), Error);
    EXPECT_THROW(inactive_file_bytes(stat, CgroupVersion::v1), Error);
}

TEST(BenchCgroupMemory, InvalidStatLineRejected) {
    EXPECT_THROW(parse_memory_stat("anon\n"), Error);
    EXPECT_THROW(parse_memory_stat("anon many\n"), Error);
}

TEST(BenchCgroupMemory, WorkingSetClampsAtZero) {
    EXPECT_EQ(working_set_bytes(1000, 400), 600U);
    EXPECT_EQ(working_set_bytes(400, 1000), 0U);
    EXPECT_EQ(working_set_bytes(400, 400), 0U);
}

TEST(BenchCgroupMemory, ReadsV2Folder) {
    auto root = fixtures / "cgroup_v2";
    ASSERT_EQ(detect_cgroup_version(root), CgroupVersion::v2);
    auto memory = read_cgroup_memory(root / "isolab-test", CgroupVersion::v2);

    EXPECT_EQ(memory.usage_bytes, 7933952U);
    ASSERT_TRUE(memory.peak_bytes.has_value());
    EXPECT_EQ(*memory.peak_bytes, 9125888U);
    EXPECT_EQ(memory.working_set_bytes, 7933952U - 5246976U);
}

TEST(BenchCgroupMemory, ReadsV1Folder) {
    auto root = fixtures / "cgroup_v1";
    ASSERT_EQ(detect_cgroup_version(root), CgroupVersion::v1);
    auto memory = read_cgroup_memory(root / "isolab-test", CgroupVersion::v1);

    EXPECT_EQ(memory.usage_bytes, 6488064U);
    ASSERT_TRUE(memory.peak_bytes.has_value());
    EXPECT_EQ(*memory.peak_bytes, 8388608U);
    EXPECT_EQ(memory.working_set_bytes, 6488064U - 4866048U);
}

TEST(BenchCgroupMemory, UsageSmallerThanCacheGivesZero) {
    auto memory = read_cgroup_memory(fixtures / "cgroup_v2_cache_larger/isolab-test", CgroupVersion::v2);
    EXPECT_EQ(memory.usage_bytes, 4194304U);
    EXPECT_EQ(memory.working_set_bytes, 0U);
    EXPECT_FALSE(memory.peak_bytes.has_value());  // no memory.peak before Linux 5.19
}

TEST(BenchCgroupMemory, MissingFolderNamesFile) {
    try {
        read_cgroup_memory(fixtures / "no-such-cgroup", CgroupVersion::v2);
        FAIL() << "expected Error";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("memory.current"), std::string::npos) << error.what();
    }
}

TEST(BenchQemuImageInfo, ParsesQcow2Overlay) {
    auto info = parse_qemu_image_info(read_file(fixtures / "qemu_img_info_qcow2.json"));
    EXPECT_EQ(info.format, "qcow2");
    EXPECT_EQ(info.virtual_size_bytes, 67108864U);
    ASSERT_TRUE(info.actual_size_bytes.has_value());
    EXPECT_EQ(*info.actual_size_bytes, 200704U);
    EXPECT_LT(*info.actual_size_bytes, info.virtual_size_bytes);
    ASSERT_TRUE(info.backing_file.has_value());
    EXPECT_EQ(*info.backing_file, "/tmp/qi/base.qcow2");
}

TEST(BenchQemuImageInfo, ParsesSparseRaw) {
    auto info = parse_qemu_image_info(read_file(fixtures / "qemu_img_info_raw.json"));
    EXPECT_EQ(info.format, "raw");
    EXPECT_EQ(info.virtual_size_bytes, 1073741824U);
    ASSERT_TRUE(info.actual_size_bytes.has_value());
    EXPECT_EQ(*info.actual_size_bytes, 0U);
    EXPECT_FALSE(info.backing_file.has_value());
}

TEST(BenchQemuImageInfo, RejectsInvalidOutput) {
    EXPECT_THROW(parse_qemu_image_info("qemu-img: Could not open 'x'"), Error);
    EXPECT_THROW(parse_qemu_image_info("{\"format\": \"raw\"}"), Error);
    EXPECT_THROW(parse_qemu_image_info("[1, 2]"), Error);
}

TEST(BenchQemuImageInfo, ReadsRealImage) {
    TemporaryDirectory folder("/tmp", "isolab-bench-test-");
    auto image = folder.path() / "disk.qcow2";
    ASSERT_EQ(std::system(("qemu-img create -q -f qcow2 " + image.string() + " 16M").c_str()), 0);

    auto info = read_qemu_image_info(image);
    EXPECT_EQ(info.format, "qcow2");
    EXPECT_EQ(info.virtual_size_bytes, 16ULL << 20);
    ASSERT_TRUE(info.actual_size_bytes.has_value());
    EXPECT_LT(*info.actual_size_bytes, info.virtual_size_bytes);
}

}  // namespace
}  // namespace isolab::bench
