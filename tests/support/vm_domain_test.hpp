#pragma once
// Helpers of the integration tests that boot VMs on qemu:///system: a fixture that starts
// libvirtd, gives each test a fresh state root and destroys the domains a test named,
// checks on domains by name, `vm ps -a` lines, and polling.
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <chrono>
#include <functional>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/core/files.hpp"
#include "support/test_support.hpp"
#include "vmdriver/libvirt/connection.hpp"

namespace isolab::testing {

inline constexpr const char* kSystemUri = "qemu:///system";

// How long a test waits for a busybox guest to reach its workload under TCG. Generous,
// because creating a domain alone took 44 s on a loaded two-core host; a guest usually
// gets there in 2-20 s.
inline constexpr std::chrono::seconds kBootDeadline{180};

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

inline bool domain_exists(const std::string& name) {
    vm::libvirt::Connection connection(kSystemUri);
    virDomainPtr domain = virDomainLookupByName(connection.get(), name.c_str());
    if (domain == nullptr) {
        virResetLastError();
        return false;
    }
    virDomainFree(domain);
    return true;
}

// Destroys the domain `name` when it exists; a missing one is no error.
inline void destroy_domain(const std::string& name) {
    vm::libvirt::Connection connection(kSystemUri);
    virDomainPtr domain = virDomainLookupByName(connection.get(), name.c_str());
    if (domain != nullptr) {
        virDomainDestroy(domain);
        virDomainFree(domain);
    }
    virResetLastError();
}

// Polls `probe` every 500 ms until it returns true or `deadline` passes.
inline bool wait_for(const std::function<bool()>& probe, std::chrono::seconds deadline) {
    auto end = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < end) {
        if (probe()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return probe();
}

// Checks that no lease is left in the state root's ipam.json and no device on a bridge of
// its networks.
inline void expect_no_network_left(const Paths& paths) {
    auto ipam = paths.root / "network/ipam.json";
    if (!std::filesystem::exists(ipam)) return;
    for (const auto& [network, record] : nlohmann::json::parse(read_file(ipam))["networks"].items()) {
        EXPECT_TRUE(record["leases"].empty()) << network << ": " << record["leases"].dump();
        std::filesystem::path ports = std::filesystem::path("/sys/class/net") / record["bridge"].get<std::string>() / "brif";
        std::error_code error;
        for (const auto& port : std::filesystem::directory_iterator(ports, error)) {
            ADD_FAILURE() << "device " << port.path().filename() << " is left on " << record["bridge"];
        }
    }
}

// Skips the test unless it runs as root, starts libvirtd with scripts/start-libvirtd
// when needed, and destroys every domain new_name() handed out, whatever state the test
// left it in.
class VmDomainTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!running_as_root()) GTEST_SKIP() << "needs root for qemu:///system";
        std::string start = std::string(ISOLAB_SOURCE_DIR) + "/scripts/start-libvirtd";
        ASSERT_EQ(std::system(start.c_str()), 0) << "scripts/start-libvirtd failed";
    }

    void TearDown() override {
        for (const auto& name : domains_) destroy_domain(name);
    }

    // A unique VM name; its domain is destroyed in TearDown.
    std::string new_name(const std::string& stem) {
        std::string name = "isolab-" + stem + "-" + random_hex_id().substr(0, 8);
        domains_.push_back(name);
        return name;
    }

    // The line of `vm ps -a` that lists `name`; empty when there is none.
    std::string ps_line(const std::string& name) {
        CliResult ps = run_isolab(test_root_.paths(), {"vm", "ps", "-a"});
        EXPECT_EQ(ps.exit_code, 0) << ps.err;
        auto start = ps.out.find(name + " ");
        if (start == std::string::npos) return {};
        return ps.out.substr(start, ps.out.find('\n', start) - start);
    }

    std::vector<std::string> domains_;
    TestRoot test_root_;
};

}  // namespace isolab::testing
