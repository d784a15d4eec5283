#pragma once
// A fixture for integration tests that run build/isolab as root in a fresh state root.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace isolab::testing {

// Skips the test unless it runs as root. Subclasses that override SetUp call
// RootCliTest::SetUp() first and return when IsSkipped().
class RootCliTest : public ::testing::Test {
protected:
    void SetUp() override;

    // Runs build/isolab with `arguments` against this test's state root.
    CliResult isolab(const std::vector<std::string>& arguments) { return run_isolab(root_.paths(), arguments); }

    // True when no container folder exists (the .lock file of the containers folder stays).
    bool no_containers() const;
    // Checks that nothing of the containers `ids` is left on the host (cgroups named
    // isolab-ID, veths) and that no mount below the state root and no address lease stays.
    void expect_no_container_leftovers(const std::vector<std::string>& ids) const;

    TestRoot root_;
};

// A RootCliTest whose state root has the busybox image before the test starts.
class BusyboxCliTest : public RootCliTest {
protected:
    void SetUp() override;
};

}  // namespace isolab::testing
