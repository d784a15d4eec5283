// The URI of isolab's embedded libvirt driver: its root folder may hold any character a
// state root may, and comes back unchanged. And when QEMU's user follows from the root alone.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "vmdriver/libvirt/connection.hpp"

using isolab::vm::libvirt::embedded_qemu_runs_as_root;
using isolab::vm::libvirt::embedded_root;
using isolab::vm::libvirt::embedded_uri;
using isolab::vm::libvirt::prepare_embedded_root;

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

// QEMU's user is known without a capabilities call only while the embedded driver's
// qemu.conf is the one isolab wrote.
TEST(EmbeddedQemuUser, RootOnlyWithIsolabsOwnConfig) {
    isolab::TemporaryDirectory folder(std::filesystem::temp_directory_path(), "isolab-embedded-conf-");
    std::filesystem::path root = folder.path() / "a b,c";
    std::string uri = embedded_uri(root);
    EXPECT_FALSE(embedded_qemu_runs_as_root(uri)) << "no qemu.conf yet";

    prepare_embedded_root(root);
    EXPECT_TRUE(embedded_qemu_runs_as_root(uri));

    // An edited file may name another user, so the capabilities must be read.
    std::filesystem::path config = root / "etc" / "qemu.conf";
    isolab::write_file_atomic(config, isolab::read_file(config) + "user = \"libvirt-qemu\"\n");
    EXPECT_FALSE(embedded_qemu_runs_as_root(uri));
    prepare_embedded_root(root);
    EXPECT_FALSE(embedded_qemu_runs_as_root(uri)) << "an existing qemu.conf was replaced";

    EXPECT_FALSE(embedded_qemu_runs_as_root("qemu:///system"));
}

// libvirt 9.0 hands the root to QEMU's -qmp option unescaped: rejected before libvirt loads.
TEST(EmbeddedQemuUser, RootWithCommaOrEqualsRejected) {
    for (const char* root : {"/tmp/a,b/libvirt-embedded", "/tmp/a=b/libvirt-embedded"}) {
        try {
            isolab::vm::libvirt::Connection connection(embedded_uri(root));
            ADD_FAILURE() << "accepted " << root;
        } catch (const isolab::Error& error) {
            EXPECT_NE(std::string(error.what()).find("invalid embedded driver root"), std::string::npos) << error.what();
            EXPECT_NE(error.hint().find("without ',' or '='"), std::string::npos) << error.hint();
        }
        EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(root).parent_path())) << "created " << root;
    }
}
