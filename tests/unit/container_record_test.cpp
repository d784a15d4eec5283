// The container record on disk: config.json and state.json, read back by
// list_containers, including a state.json lost in a host crash. Needs no root.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "runtime/container/record.hpp"
#include "runtime/core/files.hpp"
#include "support/test_support.hpp"

namespace isolab::testing {
namespace {

container::ContainerConfig config_named(const std::string& name, bool remove) {
    container::ContainerConfig config;
    config.id = std::string(63, '0') + (remove ? "1" : "2");
    config.name = name;
    config.image = "busybox";
    config.command = {"true"};
    config.created = container::rfc3339_now();
    config.request.remove = remove;
    return config;
}

TEST(ContainerRecord, RemovedContainerStateReadsBack) {
    TestRoot root;
    container::ContainerRecord record(root.paths(), config_named("saved", true));
    record.state().status = "running";
    record.state().pid = 4242;
    record.save_state();

    auto stored = container::find_container(root.paths(), "saved");

    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->state.status, "running");
    EXPECT_EQ(stored->state.pid, 4242);
}

TEST(ContainerRecord, LostStateOfRemovedContainerReadsAsCreated) {
    TestRoot root;
    container::ContainerRecord record(root.paths(), config_named("lost", true));
    record.state().status = "running";
    record.save_state();
    std::ofstream(record.paths().state(), std::ios::trunc).close();  // what a host crash may leave

    auto containers = container::list_containers(root.paths());

    ASSERT_EQ(containers.size(), 1u);
    EXPECT_EQ(containers[0].config.name, "lost");
    EXPECT_EQ(containers[0].state.status, "created");
    EXPECT_EQ(containers[0].state.pid, 0);
}

TEST(ContainerRecord, BrokenStateOfKeptContainerSkipped) {
    TestRoot root;
    container::ContainerRecord record(root.paths(), config_named("kept", false));
    std::ofstream(record.paths().state(), std::ios::trunc) << "{broken";

    EXPECT_TRUE(container::list_containers(root.paths()).empty());
}

}  // namespace
}  // namespace isolab::testing
