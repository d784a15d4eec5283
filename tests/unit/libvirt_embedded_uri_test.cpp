// The URI of isolab's embedded libvirt driver: its root folder may hold any character a
// state root may, and comes back unchanged.
#include <gtest/gtest.h>

#include "vmdriver/libvirt/connection.hpp"

using isolab::vm::libvirt::embedded_root;
using isolab::vm::libvirt::embedded_uri;

TEST(EmbeddedUri, PlainRootStaysReadable) {
    EXPECT_EQ(embedded_uri("/var/lib/isolab/libvirt-embedded"), "qemu:///embed?root=/var/lib/isolab/libvirt-embedded");
}

TEST(EmbeddedUri, SpacesAndQueryCharactersAreEscaped) {
    std::string uri = embedded_uri("/tmp/a b,c/x&y=z%#+/libvirt-embedded");
    EXPECT_EQ(uri, "qemu:///embed?root=/tmp/a%20b%2Cc/x%26y%3Dz%25%23%2B/libvirt-embedded");
    EXPECT_EQ(embedded_root(uri), "/tmp/a b,c/x&y=z%#+/libvirt-embedded");
}

TEST(EmbeddedUri, RootAsTypedIsDecoded) {
    EXPECT_EQ(embedded_root("qemu:///embed?root=/tmp/a b"), "/tmp/a b");
    EXPECT_EQ(embedded_root("qemu:///embed?root=/tmp/a%20b"), "/tmp/a b");
    // A malformed escape stays as it is.
    EXPECT_EQ(embedded_root("qemu:///embed?root=/tmp/100%"), "/tmp/100%");
    EXPECT_EQ(embedded_root("qemu:///embed?root=/tmp/%zz"), "/tmp/%zz");
    EXPECT_EQ(embedded_root("qemu:///system"), "");
}
