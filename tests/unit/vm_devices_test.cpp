// The VM's NIC and shared folders: the kernel command line, -v parsing and the checks on
// host folders. Their domain XML is tested in vm_domain_xml_test.cpp.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "vmdriver/guest/cmdline.hpp"
#include "vmdriver/network/vm_network.hpp"
#include "vmdriver/shared_folders.hpp"

namespace isolab::vm {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(VmCmdline, StaticAddressForInit) {
    std::string line = guest::kernel_cmdline({.address = "10.89.0.7/24", .gateway = "10.89.0.1"});
    EXPECT_TRUE(contains(line, " isolab.ip=10.89.0.7/24")) << line;
    EXPECT_TRUE(contains(line, " isolab.gateway=10.89.0.1")) << line;
    EXPECT_FALSE(contains(guest::kernel_cmdline({}), "isolab.ip")) << guest::kernel_cmdline({});
}

TEST(VmNetworkMode, HostRejected) {
    EXPECT_THROW(check_vm_network_mode("host"), Error);
    EXPECT_NO_THROW(check_vm_network_mode("bridge"));
    EXPECT_NO_THROW(check_vm_network_mode("none"));
    EXPECT_NO_THROW(check_vm_network_mode("backend"));
}

TEST(SharedFolderOptions, ParsesHostGuestAndMode) {
    auto requests = parse_shared_folders({"/srv/a b,c:/data", "/srv/ro/:/config:ro"});
    ASSERT_EQ(requests.size(), 2U);
    EXPECT_EQ(requests[0].host, fs::path("/srv/a b,c"));
    EXPECT_EQ(requests[0].guest, "/data");
    EXPECT_FALSE(requests[0].read_only);
    EXPECT_EQ(requests[1].host, fs::path("/srv/ro/"));
    EXPECT_EQ(requests[1].guest, "/config");
    EXPECT_TRUE(requests[1].read_only);
}

TEST(SharedFolderOptions, VolumesRejected) {
    try {
        parse_shared_folders({"data:/data"});
        FAIL() << "a named volume was accepted";
    } catch (const Error& error) {
        EXPECT_TRUE(contains(error.what(), "host folders only")) << error.what();
    }
    EXPECT_THROW(parse_shared_folders({"/data"}), Error);
    EXPECT_THROW(parse_shared_folders({"/srv/a:relative"}), Error);
    EXPECT_THROW(parse_shared_folders({"/srv/a:/data", "/srv/b:/data"}), Error);
}

class SharedFolderChecks : public ::testing::Test {
protected:
    void SetUp() override {
        if (geteuid() != 0) GTEST_SKIP() << "needs root to create folders of other owners";
        parent_ = std::make_unique<TemporaryDirectory>(fs::temp_directory_path(), "isolab-shared-");
        fs::permissions(parent_->path(), fs::perms(0755));
    }
    static constexpr uid_t kQemuUid = 65534;
    static constexpr gid_t kQemuGid = 65534;
    std::unique_ptr<TemporaryDirectory> parent_;
};

TEST_F(SharedFolderChecks, MissingFolderCreatedForQemu) {
    fs::path folder = parent_->path() / "new, with space";
    auto prepared = prepare_shared_folders({{folder, "/data", false}}, kQemuUid, kQemuGid);
    struct stat status {};
    ASSERT_EQ(stat(folder.c_str(), &status), 0);
    EXPECT_EQ(status.st_uid, kQemuUid);
    EXPECT_EQ(status.st_gid, kQemuGid);
    ASSERT_EQ(prepared.devices.size(), 1U);
    EXPECT_EQ(prepared.devices[0].tag, "isolab0");
    ASSERT_EQ(prepared.mounts.size(), 1U);
    EXPECT_EQ(prepared.mounts[0].guest_path, "/data");
}

TEST_F(SharedFolderChecks, UnlistableFolderRejected) {
    fs::path folder = parent_->path() / "private";
    fs::create_directory(folder);
    fs::permissions(folder, fs::perms(0700));
    try {
        prepare_shared_folders({{folder, "/data", false}}, kQemuUid, kQemuGid);
        FAIL() << "a folder of mode 0700 was accepted";
    } catch (const Error& error) {
        EXPECT_TRUE(contains(error.what(), "cannot list " + folder.string())) << error.what();
        EXPECT_TRUE(contains(error.what(), "mode 0700")) << error.what();
    }
    struct stat status {};
    ASSERT_EQ(stat(folder.c_str(), &status), 0);
    EXPECT_EQ(status.st_mode & 07777, 0700U) << "the check changed the folder's mode";
}

TEST_F(SharedFolderChecks, UnenterableParentRejected) {
    fs::path closed = parent_->path() / "closed";
    fs::create_directories(closed / "inner");
    fs::permissions(closed, fs::perms(0700));
    try {
        prepare_shared_folders({{closed / "inner", "/data", true}}, kQemuUid, kQemuGid);
        FAIL() << "a folder under a parent of mode 0700 was accepted";
    } catch (const Error& error) {
        EXPECT_TRUE(contains(error.what(), "cannot enter " + closed.string())) << error.what();
        EXPECT_FALSE(error.hint().empty());
    }
}

TEST_F(SharedFolderChecks, FileRejected) {
    fs::path file = parent_->path() / "file";
    write_file_atomic(file, "x");
    EXPECT_THROW(prepare_shared_folders({{file, "/data", false}}, kQemuUid, kQemuGid), Error);
}

}  // namespace
}  // namespace isolab::vm
