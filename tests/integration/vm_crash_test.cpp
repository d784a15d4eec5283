// Crashes of `vm run -d`: ISOLAB_FAULT=vm.network kills isolab once the address is leased
// and the tap device is set up, vm.prepared once the guest's initramfs is written, and
// vm.domain right after libvirt started the domain, before the record names it. `vm ps -a`
// then shows the VM as exited, a started domain is gone, the network holder has released
// the lease and the tap, and `system prune` removes the VM's folder. Only vm.domain starts
// QEMU, and the test does not wait for the guest to boot. Needs root.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/vm_domain_test.hpp"
#include "runtime/core/files.hpp"
#include "support/test_support.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_isolab;

constexpr int killed = 128 + 9;

class VmCrash : public testing::VmDomainTest {
protected:
    // Runs `vm run` (with -d when `detached`) of busybox on the default network with
    // ISOLAB_FAULT=point; isolab must die there with SIGKILL.
    void crash_at(const std::string& point, const std::string& name, bool detached = true) {
        std::vector<std::string> arguments{"vm", "run", "--accel", "tcg", "--network", "bridge", "--name", name,
                                           "busybox", "sleep", "600"};
        if (detached) arguments.insert(arguments.begin() + 2, "-d");
        setenv("ISOLAB_FAULT", point.c_str(), 1);
        auto result = run_isolab(root_.paths(), arguments);
        unsetenv("ISOLAB_FAULT");
        ASSERT_EQ(result.exit_code, killed) << point << " was not reached: " << result.err;
    }

    // The line of `name` in `vm ps -a`; empty when it is not listed.
    std::string ps_line(const std::string& name) {
        auto ps = run_isolab(root_.paths(), {"vm", "ps", "-a"});
        EXPECT_EQ(ps.exit_code, 0) << ps.err;
        std::istringstream lines(ps.out);
        for (std::string line; std::getline(lines, line);) {
            if (line.find(name + " ") != std::string::npos) return line;
        }
        return {};
    }

    void expect_no_network_left() { testing::expect_no_network_left(root_.paths()); }

    testing::TestRoot root_;
};

TEST_F(VmCrash, KilledBeforeTheRecordNamesTheDomain) {
    for (const std::string point : {"vm.network", "vm.prepared", "vm.domain"}) {
        std::string name = new_name("crash");
        crash_at(point, name);
        auto line = ps_line(name);
        EXPECT_NE(line, "") << point << ": the VM is not listed";
        EXPECT_NE(line.find("Exited"), std::string::npos) << point << ": " << line;
        EXPECT_FALSE(testing::domain_exists(name)) << point << ": the domain outlived the exited VM";
        expect_no_network_left();

        auto pruned = run_isolab(root_.paths(), {"system", "prune", "--force", "--connect", "test:///default"});
        EXPECT_EQ(pruned.exit_code, 0) << point << ": " << pruned.err;
        EXPECT_EQ(ps_line(name), "") << point << ": prune left the VM";
        EXPECT_FALSE(fs::exists(root_.paths().root / "vms" / name)) << point << ": prune left the VM's folder";
        EXPECT_FALSE(testing::domain_exists(name)) << point;
    }
}

// A foreground `vm run` starts its domain with auto-destroy, so libvirtd destroys it once
// the killed process's connection closes.
TEST_F(VmCrash, ForegroundRunKilledAfterStartingTheDomain) {
    for (const std::string point : {"vm.domain"}) {
        std::string name = new_name("crash");
        crash_at(point, name, false);
        bool gone = testing::wait_for([&] { return !testing::domain_exists(name); }, std::chrono::seconds(60));
        EXPECT_TRUE(gone) << point << ": the domain outlived the killed run";
        auto line = ps_line(name);
        EXPECT_NE(line.find("Exited"), std::string::npos) << point << ": " << line;
        expect_no_network_left();

        auto pruned = run_isolab(root_.paths(), {"system", "prune", "--force", "--connect", "test:///default"});
        EXPECT_EQ(pruned.exit_code, 0) << point << ": " << pruned.err;
        EXPECT_EQ(ps_line(name), "") << point << ": prune left the VM";
        EXPECT_FALSE(fs::exists(root_.paths().root / "vms" / name)) << point << ": prune left the VM's folder";
    }
}

}  // namespace
}  // namespace isolab
