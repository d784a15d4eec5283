#include <gtest/gtest.h>

#include "runtime/core/files.hpp"
#include "runtime/image/bootstrap.hpp"

namespace isolab::image {
namespace {

namespace fs = std::filesystem;

// A fake /etc/apt folder.
class AptSources : public ::testing::Test {
protected:
    void SetUp() override {
        folder_ = std::make_unique<TemporaryDirectory>(fs::temp_directory_path(), "isolab-apt-");
        fs::create_directories(apt() / "sources.list.d");
    }
    fs::path apt() const { return folder_->path() / "apt"; }
    void write(const std::string& name, const std::string& text) const { write_file_atomic(apt() / name, text); }

    std::unique_ptr<TemporaryDirectory> folder_;
};

TEST_F(AptSources, OneLineSourcesList) {
    write("sources.list",
          "# deb http://commented.example/debian bookworm main\n"
          "deb-src http://source.example/debian bookworm main\n"
          "deb http://security.example/debian-security bookworm-security main\n"
          "deb [arch=amd64 signed-by=/usr/share/keyrings/debian.gpg] http://mirror.example/debian bookworm main\n");
    EXPECT_EQ(find_apt_mirror(apt(), "bookworm"), "http://mirror.example/debian");
    EXPECT_EQ(find_apt_mirror(apt(), "bookworm-security"), "http://security.example/debian-security");
    EXPECT_EQ(find_apt_mirror(apt(), "trixie"), std::nullopt);
}

TEST_F(AptSources, Deb822SourcesFile) {
    write("sources.list.d/debian.sources",
          "Types: deb-src\n"
          "URIs: http://source.example/debian\n"
          "Suites: bookworm\n"
          "\n"
          "Types: deb\n"
          "URIs: http://disabled.example/debian\n"
          "Suites: bookworm\n"
          "Enabled: no\n"
          "\n"
          "Types: deb deb-src\n"
          "# http://snapshot.debian.org/archive/debian/20250520T000000Z\n"
          "URIs: http://deb.example/debian\n"
          "  http://second.example/debian\n"
          "Suites: bookworm bookworm-updates\n"
          "Components: main\n");
    EXPECT_EQ(find_apt_mirror(apt(), "bookworm"), "http://deb.example/debian");
    EXPECT_EQ(find_apt_mirror(apt(), "bookworm-updates"), "http://deb.example/debian");
}

TEST_F(AptSources, SourcesListComesFirstThenNameOrder) {
    write("sources.list.d/b.sources", "Types: deb\nURIs: http://b.example/debian\nSuites: bookworm\n");
    write("sources.list.d/a.list", "deb http://a.example/debian bookworm main\n");
    write("sources.list.d/c.list.disabled", "deb http://c.example/debian trixie main\n");
    EXPECT_EQ(find_apt_mirror(apt(), "bookworm"), "http://a.example/debian");
    EXPECT_EQ(find_apt_mirror(apt(), "trixie"), std::nullopt) << "only .list and .sources files count";

    write("sources.list", "deb http://main.example/debian bookworm main\n");
    EXPECT_EQ(find_apt_mirror(apt(), "bookworm"), "http://main.example/debian");
}

TEST_F(AptSources, MissingFolder) {
    EXPECT_EQ(find_apt_mirror(folder_->path() / "absent", "bookworm"), std::nullopt);
}

TEST(BootstrapReference, DebianSuitesOnly) {
    EXPECT_EQ(bootstrap_suite("debian:bookworm"), "bookworm");
    EXPECT_EQ(bootstrap_suite("docker.io/library/debian:trixie"), "trixie");
    EXPECT_EQ(bootstrap_suite("debian"), std::nullopt) << "debian:latest names no suite";
    EXPECT_EQ(bootstrap_suite("debian:12"), std::nullopt);
    EXPECT_EQ(bootstrap_suite("ubuntu:jammy"), std::nullopt);
    EXPECT_EQ(bootstrap_suite("Not A Reference"), std::nullopt);
}

TEST(BootstrapReference, HintNamesTheCommand) {
    auto hint = bootstrap_hint("debian:bookworm");
    ASSERT_TRUE(hint);
    EXPECT_NE(hint->find("isolab image bootstrap debian:bookworm"), std::string::npos) << *hint;
    EXPECT_NE(hint->find("isolab load"), std::string::npos) << *hint;
    EXPECT_EQ(bootstrap_hint("alpine:3"), std::nullopt);
}

}  // namespace
}  // namespace isolab::image
