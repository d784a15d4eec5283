// The guest kernel command line in both profiles.
#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/core/error.hpp"
#include "vmdriver/guest/cmdline.hpp"

using namespace isolab::vm::guest;

namespace {

bool contains(const std::vector<std::string>& parameters, const std::string& parameter) {
    return std::find(parameters.begin(), parameters.end(), parameter) != parameters.end();
}

}  // namespace

TEST(GuestCmdline, TrimmedHasProbeSkips) {
    auto parameters = kernel_parameters({.profile = CmdlineProfile::trimmed});
    for (const char* expected : {"console=ttyS0", "quiet", "panic=-1", "rdinit=/init", "tsc=reliable", "no_timer_check",
                                 "i8042.noaux", "i8042.nokbd", "i8042.nopnp", "8250.nr_uarts=1", "cryptomgr.notests"}) {
        EXPECT_TRUE(contains(parameters, expected)) << expected;
    }
}

TEST(GuestCmdline, DefaultKeepsNormalBoot) {
    auto parameters = kernel_parameters({.profile = CmdlineProfile::default_boot});
    EXPECT_TRUE(contains(parameters, "console=ttyS0"));
    EXPECT_TRUE(contains(parameters, "rdinit=/init"));
    EXPECT_TRUE(contains(parameters, "panic=-1"));
    EXPECT_FALSE(contains(parameters, "tsc=reliable"));
    EXPECT_FALSE(contains(parameters, "i8042.noaux"));
    EXPECT_FALSE(contains(parameters, "cryptomgr.notests"));
}

TEST(GuestCmdline, TcgSkipsApicTimerCalibration) {
    EXPECT_TRUE(contains(kernel_parameters({.tcg = true}), "noapictimer"));
    EXPECT_FALSE(contains(kernel_parameters({.tcg = false}), "noapictimer"));
    EXPECT_FALSE(contains(kernel_parameters({.profile = CmdlineProfile::default_boot, .tcg = true}), "noapictimer"));
}

TEST(GuestCmdline, TcgKeepsLockPrefixes) {
    EXPECT_TRUE(contains(kernel_parameters({.tcg = true}), "noreplace-smp"));
    EXPECT_FALSE(contains(kernel_parameters({.tcg = false}), "noreplace-smp"));
    EXPECT_FALSE(contains(kernel_parameters({.profile = CmdlineProfile::default_boot, .tcg = true}), "noreplace-smp"));
}

TEST(GuestCmdline, QuietCanBeDropped) {
    EXPECT_FALSE(contains(kernel_parameters({.quiet = false}), "quiet"));
}

TEST(GuestCmdline, DiskFormHasNoRootParameter) {
    std::string line = kernel_cmdline({.form = RootForm::disk});
    EXPECT_EQ(line.find("root="), std::string::npos) << line;
    EXPECT_NE(line.find("rdinit=/init"), std::string::npos) << line;
}

TEST(GuestCmdline, ParsesProfileNames) {
    EXPECT_EQ(parse_cmdline_profile("default"), CmdlineProfile::default_boot);
    EXPECT_EQ(parse_cmdline_profile("trimmed"), CmdlineProfile::trimmed);
    EXPECT_THROW(parse_cmdline_profile("fast"), isolab::Error);
}
