// libvirt is loaded with dlopen() at the first libvirt call, not linked. Needs libvirt0,
// no libvirtd.
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>

#include <cstdlib>
#include <string>

#include "runtime/core/files.hpp"

namespace isolab {
namespace {

bool libvirt_mapped() { return read_file("/proc/self/maps").find("/libvirt.so") != std::string::npos; }

TEST(LibvirtLoader, LoadsLibraryAtFirstCall) {
    ASSERT_FALSE(libvirt_mapped()) << "the test executable must not link libvirt";
    unsetenv("LIBVIRT_DEBUG");
    unsetenv("LIBVIRT_LOG_OUTPUTS");

    unsigned long version = 0;
    ASSERT_EQ(virGetVersion(&version, nullptr, nullptr), 0);

    EXPECT_GE(version, 1000000u) << "libvirt versions are major * 1000000 + minor * 1000 + release";
    EXPECT_TRUE(libvirt_mapped());
    // Any first libvirt call, not only a connection, must drop libvirt's log before libvirt
    // reads the variable, or its warnings reach stderr.
    const char* outputs = std::getenv("LIBVIRT_LOG_OUTPUTS");
    ASSERT_NE(outputs, nullptr);
    EXPECT_STREQ(outputs, "4:file:/dev/null");
}

TEST(LibvirtLoader, TestDriverConnects) {
    // The test:///default driver runs inside the library, so this needs no daemon.
    virConnectPtr connection = virConnectOpen("test:///default");
    ASSERT_NE(connection, nullptr);

    unsigned long version = 0;
    EXPECT_EQ(virConnectGetLibVersion(connection, &version), 0);
    EXPECT_GT(version, 0u);
    EXPECT_EQ(virConnectClose(connection), 0);
}

}  // namespace
}  // namespace isolab
