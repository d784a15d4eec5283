#include <gtest/gtest.h>

#include <regex>

#include "runtime/core/clock.hpp"
#include "runtime/core/digest.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"

namespace isolab {
namespace {

TEST(ParseSize, BinaryUnits) {
    EXPECT_EQ(parse_size("64M"), 64ULL << 20);
    EXPECT_EQ(parse_size("64m"), 64ULL << 20);
    EXPECT_EQ(parse_size("16G"), 17179869184ULL);
    EXPECT_EQ(parse_size("16384M"), 17179869184ULL);
    EXPECT_EQ(parse_size("512k"), 512ULL << 10);
    EXPECT_EQ(parse_size("4096"), 4096ULL);
    EXPECT_EQ(parse_size("1GiB"), 1ULL << 30);
}

TEST(ParseSize, RejectsInvalid) {
    for (const char* text : {"", "M", "12X", "-5M", "1.5G", "99999999999999999999", "18014398509481984G"}) {
        EXPECT_THROW(parse_size(text), Error) << text;
    }
}

TEST(Digest, KnownSha256) {
    EXPECT_EQ(sha256_digest(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_digest("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AtomicWrite, ReplacesContent) {
    TemporaryDirectory folder(std::filesystem::temp_directory_path(), "isolab-core-");
    auto file = folder.path() / "state.json";
    write_file_atomic(file, "one");
    write_file_atomic(file, "two");
    EXPECT_EQ(read_file(file), "two");
    int entries = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(folder.path())) ++entries;
    EXPECT_EQ(entries, 1) << "no temporary file may remain";
}

TEST(AtomicWrite, RenameOnlyReplacesContent) {
    TemporaryDirectory folder(std::filesystem::temp_directory_path(), "isolab-core-");
    auto file = folder.path() / "state.json";
    write_file_atomic(file, "one", 0600, Durability::rename_only);
    write_file_atomic(file, "two", 0600, Durability::rename_only);
    EXPECT_EQ(read_file(file), "two");
    EXPECT_EQ(std::filesystem::status(file).permissions(),
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    int entries = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(folder.path())) ++entries;
    EXPECT_EQ(entries, 1) << "no temporary file may remain";
}

TEST(AtomicWrite, RejectsNonRegularTargets) {
    TemporaryDirectory folder(std::filesystem::temp_directory_path(), "isolab-core-");
    auto target = folder.path() / "target";
    write_file_atomic(target, "kept");
    auto link = folder.path() / "link";
    std::filesystem::create_symlink(target, link);

    EXPECT_THROW(write_file_atomic(link, "new"), Error);
    EXPECT_TRUE(std::filesystem::is_symlink(link));
    EXPECT_EQ(read_file(target), "kept");
    EXPECT_THROW(write_file_atomic(folder.path(), "new"), Error);
    EXPECT_THROW(write_file_atomic("/dev/null", "new"), Error);
    EXPECT_TRUE(std::filesystem::is_character_file("/dev/null"));
}

TEST(RunCommand, ExitCodeAndOutput) {
    auto result = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"});
    EXPECT_EQ(result.exit_code, 3);
    EXPECT_NE(result.output.find("out"), std::string::npos);
    EXPECT_NE(result.output.find("err"), std::string::npos);
}

TEST(RunCommand, FailedToolOutputJoinedOnOneLine) {
    try {
        run_checked({"sh", "-c", "printf 'first problem\\n\\nsecond problem  \\n' >&2; exit 1"});
        FAIL() << "a failing command did not throw";
    } catch (const Error& error) {
        EXPECT_STREQ(error.what(), "sh failed with exit code 1: first problem; second problem");
    }
}

TEST(RunCommand, MissingProgramThrows) {
    EXPECT_THROW(run_command({"isolab-no-such-program"}), Error);
}

TEST(RunCommand, TimeoutKills) {
    auto result = run_command({"sleep", "10"}, {.capture = true, .timeout = std::chrono::milliseconds(200)});
    EXPECT_EQ(result.exit_code, 128 + 9);
}

TEST(UtcTimestamp, Rfc3339ByDefaultAndCustomFormat) {
    std::regex rfc3339(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)");
    std::regex compact(R"(\d{8}T\d{6}Z)");

    EXPECT_TRUE(std::regex_match(utc_timestamp(), rfc3339)) << utc_timestamp();
    EXPECT_TRUE(std::regex_match(utc_timestamp("%Y%m%dT%H%M%SZ"), compact));
}

TEST(PhaseRecorder, MarksInOrder) {
    PhaseRecorder phases;
    phases.mark("first");
    phases.mark("second");
    EXPECT_LE(phases.at("first"), phases.at("second"));
    EXPECT_LT(phases.at("missing"), 0);
    EXPECT_EQ(phases.to_json().size(), 2u);
}

}  // namespace
}  // namespace isolab
