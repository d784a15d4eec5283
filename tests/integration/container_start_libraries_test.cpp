// The process that owns a container (`isolab run` in the foreground, or the monitor of
// `run -d`) does not load libvirt, which only VM commands need, nor libarchive once the
// image's layers are unpacked. Needs root.
#include <gtest/gtest.h>

#include <string>

#include "integration/running_container.hpp"
#include "runtime/container/record.hpp"
#include "runtime/core/files.hpp"
#include "support/root_cli_test.hpp"

namespace isolab::testing {
namespace {

class ContainerStartLibraries : public BusyboxCliTest {
protected:
    // The memory map of the owner of container `name`, read while it runs.
    std::string owner_maps(const std::string& name) {
        auto container = container::find_container(root_.paths(), name);
        if (!container || container->state.monitor_pid <= 0) return {};
        return read_file("/proc/" + std::to_string(container->state.monitor_pid) + "/maps");
    }
};

TEST_F(ContainerStartLibraries, ForegroundRunLoadsNoLibvirt) {
    RunningContainer container(root_.paths(), "libraries-foreground");
    ASSERT_TRUE(container.started());

    auto maps = owner_maps("libraries-foreground");

    ASSERT_NE(maps.find("isolab"), std::string::npos) << maps;
    EXPECT_EQ(maps.find("/libvirt.so"), std::string::npos);
}

TEST_F(ContainerStartLibraries, MonitorLoadsNoLibvirt) {
    auto started = isolab({"run", "-d", "--name", "libraries-detached", "busybox", "sleep", "60"});
    ASSERT_EQ(started.exit_code, 0) << started.err;

    auto maps = owner_maps("libraries-detached");
    auto removed = isolab({"rm", "-f", "libraries-detached"});

    ASSERT_NE(maps.find("isolab"), std::string::npos) << maps;
    EXPECT_EQ(maps.find("/libvirt.so"), std::string::npos);
    EXPECT_EQ(maps.find("/libarchive.so"), std::string::npos);
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
}

TEST_F(ContainerStartLibraries, RunOfUnpackedImageLoadsNoLibarchive) {
    // The first run unpacks busybox's layer, which needs libarchive.
    auto first = isolab({"run", "--rm", "busybox", "true"});
    ASSERT_EQ(first.exit_code, 0) << first.err;
    RunningContainer container(root_.paths(), "libraries-unpacked");
    ASSERT_TRUE(container.started());

    auto maps = owner_maps("libraries-unpacked");

    ASSERT_NE(maps.find("isolab"), std::string::npos) << maps;
    EXPECT_EQ(maps.find("/libarchive.so"), std::string::npos);
}

}  // namespace
}  // namespace isolab::testing
