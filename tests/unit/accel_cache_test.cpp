// The accelerator choice and its per-host cache, with a fake probe (the real probe boot
// is covered by tests/integration/vm_accel_test.cpp).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "vmdriver/accel.hpp"

namespace isolab::vm {
namespace {

namespace fs = std::filesystem;

class AccelCache : public ::testing::Test {
protected:
    void SetUp() override { unsetenv("ISOLAB_ACCEL"); }
    void TearDown() override { unsetenv("ISOLAB_ACCEL"); }

    Paths paths() const { return {folder_.path() / "root", folder_.path() / "cache"}; }
    fs::path file() const { return accel_cache_file(paths()); }

    TemporaryDirectory folder_{fs::temp_directory_path(), "isolab-accel-"};
    HostKey key_{"6.1.0-test", "Test CPU @ 1 GHz", "7.2.22", "660 0:107"};
};

TEST_F(AccelCache, MissingFileHasNoVerdict) { EXPECT_FALSE(read_cached_verdict(file(), key_).has_value()); }

TEST_F(AccelCache, WriteThenRead) {
    fs::create_directories(file().parent_path());
    write_cached_verdict(file(), key_, {"tcg", "KVM probe failed (timeout); using TCG"});
    auto verdict = read_cached_verdict(file(), key_);
    ASSERT_TRUE(verdict.has_value());
    EXPECT_EQ(verdict->used, "tcg");
    EXPECT_TRUE(verdict->reason.starts_with("KVM probe failed (timeout); using TCG")) << verdict->reason;
    EXPECT_NE(verdict->reason.find("cached"), std::string::npos) << verdict->reason;
}

TEST_F(AccelCache, KeyedByHost) {
    fs::create_directories(file().parent_path());
    HostKey other = key_;
    other.qemu_version = "8.0.0";
    write_cached_verdict(file(), key_, {"tcg", "probe timed out"});
    write_cached_verdict(file(), other, {"kvm", "probe booted"});
    EXPECT_EQ(read_cached_verdict(file(), key_)->used, "tcg");
    EXPECT_EQ(read_cached_verdict(file(), other)->used, "kvm");

    HostKey kernel_changed = key_;
    kernel_changed.kernel_release = "6.2.0-test";
    EXPECT_FALSE(read_cached_verdict(file(), kernel_changed).has_value());

    // A verdict taken while the QEMU user could not open /dev/kvm does not outlive a chmod.
    HostKey device_changed = key_;
    device_changed.kvm_device = "600 0:0";
    EXPECT_FALSE(read_cached_verdict(file(), device_changed).has_value());

    write_cached_verdict(file(), key_, {"kvm", "probe booted after an upgrade"});
    EXPECT_EQ(read_cached_verdict(file(), key_)->used, "kvm");
    EXPECT_EQ(read_cached_verdict(file(), other)->used, "kvm");
}

TEST_F(AccelCache, CorruptFileIgnored) {
    fs::create_directories(file().parent_path());
    write_file_atomic(file(), "{not json");
    EXPECT_FALSE(read_cached_verdict(file(), key_).has_value());
    write_cached_verdict(file(), key_, {"tcg", "probe timed out"});
    EXPECT_EQ(read_cached_verdict(file(), key_)->used, "tcg");
}

TEST_F(AccelCache, TcgNeedsNoProbe) {
    int probes = 0;
    auto verdict = choose_accelerator(Accelerator::tcg, paths(), key_, [&] {
        ++probes;
        return std::string();
    });
    EXPECT_EQ(verdict.used, "tcg");
    EXPECT_EQ(probes, 0);
}

TEST_F(AccelCache, CachedTcgVerdictNeedsNoDevice) {
    fs::create_directories(file().parent_path());
    write_cached_verdict(file(), key_, {"tcg", "KVM probe failed (timeout); using TCG"});
    int probes = 0;
    auto verdict = choose_accelerator(Accelerator::automatic, paths(), key_, [&] {
        ++probes;
        return std::string();
    });
    EXPECT_EQ(verdict.used, "tcg");
    EXPECT_TRUE(verdict.reason.starts_with("KVM probe failed (timeout)")) << verdict.reason;
    EXPECT_EQ(probes, 0);
}

// The remaining cases need a /dev/kvm that can create VMs; without one, choose_accelerator
// decides from the device alone and never calls the probe.
class AccelChoice : public AccelCache {
protected:
    void SetUp() override {
        AccelCache::SetUp();
        if (!kvm_device_problem().empty()) GTEST_SKIP() << kvm_device_problem();
    }
};

TEST_F(AccelChoice, AutoProbesOnceThenCaches) {
    int probes = 0;
    auto failing = [&] {
        ++probes;
        return std::string("the probe guest did not finish within 15 s under KVM");
    };
    auto first = choose_accelerator(Accelerator::automatic, paths(), key_, failing);
    EXPECT_EQ(first.used, "tcg");
    EXPECT_NE(first.reason.find("did not finish within 15 s"), std::string::npos) << first.reason;
    auto second = choose_accelerator(Accelerator::automatic, paths(), key_, failing);
    EXPECT_EQ(second.used, "tcg");
    EXPECT_EQ(probes, 1);
    EXPECT_TRUE(fs::exists(file()));
}

TEST_F(AccelChoice, KvmRequestedFailsWithReason) {
    auto failing = [] { return std::string("the probe guest did not finish within 15 s under KVM"); };
    try {
        choose_accelerator(Accelerator::kvm, paths(), key_, failing);
        FAIL() << "--accel kvm succeeded although the probe failed";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("did not finish within 15 s"), std::string::npos) << error.what();
        EXPECT_NE(error.hint().find("--accel tcg"), std::string::npos) << error.hint();
    }
}

TEST_F(AccelChoice, WorkingProbeGivesKvm) {
    auto verdict = choose_accelerator(Accelerator::automatic, paths(), key_, [] { return std::string(); });
    EXPECT_EQ(verdict.used, "kvm");
    EXPECT_EQ(choose_accelerator(Accelerator::kvm, paths(), key_, [] { return std::string("unused"); }).used, "kvm");
}

TEST_F(AccelChoice, EnvironmentOverridesAuto) {
    setenv("ISOLAB_ACCEL", "tcg", 1);
    int probes = 0;
    auto verdict = choose_accelerator(Accelerator::automatic, paths(), key_, [&] {
        ++probes;
        return std::string();
    });
    EXPECT_EQ(verdict.used, "tcg");
    EXPECT_EQ(probes, 0);
}

// A stand-in qemu-system-x86_64 in a PATH of its own that prints `version`.
class QemuVersionCache : public AccelCache {
protected:
    void SetUp() override {
        AccelCache::SetUp();
        const char* path = std::getenv("PATH");
        saved_path_ = path != nullptr ? path : "";
        fs::create_directories(bin());
        setenv("PATH", bin().c_str(), 1);
    }
    void TearDown() override {
        setenv("PATH", saved_path_.c_str(), 1);
        AccelCache::TearDown();
    }

    fs::path bin() const { return folder_.path() / "bin"; }
    fs::path qemu() const { return bin() / "qemu-system-x86_64"; }

    // Rewrites the script in place, so its inode stays the same.
    void write_qemu(const std::string& version) {
        std::ofstream script(qemu(), std::ios::trunc);
        script << "#!/bin/sh\necho 'QEMU emulator version " << version << " (test)'\n";
        script.close();
        fs::permissions(qemu(), fs::perms(0755));
    }

    std::string saved_path_;
};

TEST_F(QemuVersionCache, ReusedWhileBinaryUnchanged) {
    write_qemu("9.1.1");
    EXPECT_EQ(cached_qemu_binary_version(paths()), "9.1.1");
    EXPECT_TRUE(fs::exists(paths().cache / "qemu-version.json"));

    // Same size and modification time: the cached version is returned, QEMU is not run.
    auto modified = fs::last_write_time(qemu());
    write_qemu("9.1.2");
    fs::last_write_time(qemu(), modified);
    EXPECT_EQ(cached_qemu_binary_version(paths()), "9.1.1");
}

TEST_F(QemuVersionCache, ReadAgainAfterUpgrade) {
    write_qemu("9.1.1");
    EXPECT_EQ(cached_qemu_binary_version(paths()), "9.1.1");
    write_qemu("10.0.0");
    EXPECT_EQ(cached_qemu_binary_version(paths()), "10.0.0");
    EXPECT_EQ(current_host_key(paths()).qemu_version, "10.0.0");
}

TEST_F(QemuVersionCache, MissingBinaryIsUnknown) {
    EXPECT_EQ(cached_qemu_binary_version(paths()), "unknown");
    EXPECT_FALSE(fs::exists(paths().cache / "qemu-version.json"));
}

TEST(HostKeyTest, ReadsThisHost) {
    HostKey key = current_host_key("7.2.22");
    EXPECT_FALSE(key.kernel_release.empty());
    EXPECT_FALSE(key.cpu_model.empty());
    EXPECT_EQ(key.qemu_version, "7.2.22");
    EXPECT_FALSE(key.kvm_device.empty());
}

}  // namespace
}  // namespace isolab::vm
