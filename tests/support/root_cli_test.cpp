#include "support/root_cli_test.hpp"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "runtime/core/files.hpp"
#include "runtime/image/store.hpp"
#include "runtime/linux/cgroups.hpp"
#include "runtime/network/netlink.hpp"

namespace isolab::testing {

void RootCliTest::SetUp() {
    if (!running_as_root()) GTEST_SKIP() << "running containers needs root";
}

void BusyboxCliTest::SetUp() {
    RootCliTest::SetUp();
    if (IsSkipped()) return;
    image::Store(root_.paths()).ensure_busybox();
}

bool RootCliTest::no_containers() const {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(root_.paths().containers(), error)) {
        if (entry.path().filename().string().front() != '.') return false;
    }
    return true;
}

void RootCliTest::expect_no_container_leftovers(const std::vector<std::string>& ids) const {
    namespace fs = std::filesystem;
    auto host = kernel::detect_cgroups();
    for (const auto& id : ids) {
        for (const auto& mount_point : kernel::cgroup_mount_points(host)) {
            EXPECT_FALSE(fs::exists(mount_point / ("isolab-" + id))) << mount_point / ("isolab-" + id);
        }
        EXPECT_FALSE(network::link_exists("isolab" + id.substr(0, 9))) << "veth of " << id;
    }
    EXPECT_EQ(read_file("/proc/self/mountinfo").find(" " + root_.root().string() + "/"), std::string::npos)
        << "a mount below the state root";
    auto ipam = root_.paths().root / "network/ipam.json";
    if (!fs::exists(ipam)) return;
    for (const auto& [name, network] : nlohmann::json::parse(read_file(ipam))["networks"].items()) {
        EXPECT_TRUE(network["leases"].empty()) << name << ": " << network["leases"].dump();
    }
}

}  // namespace isolab::testing
