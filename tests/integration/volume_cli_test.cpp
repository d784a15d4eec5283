// `isolab volume ...`, `run -v/--mount`, `rm -v` and `system df` as a user types them:
// output shapes, one-line errors and exit codes. Needs root.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

namespace isolab::testing {
namespace {

namespace fs = std::filesystem;

class VolumeCli : public ::testing::Test {
protected:
    void SetUp() override {
        if (!running_as_root()) GTEST_SKIP() << "volumes and containers need root";
    }

    CliResult isolab(const std::vector<std::string>& arguments) { return run_isolab(root_.paths(), arguments); }

    std::string volume_list() { return isolab({"volume", "ls", "-q"}).out; }

    TestRoot root_;
};

// The first `count` whitespace-separated words of the first line starting with `prefix`.
std::vector<std::string> words_of_line(const std::string& text, const std::string& prefix, size_t count = 3) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind(prefix, 0) != 0) continue;
        std::istringstream fields(line);
        std::vector<std::string> words;
        for (std::string word; words.size() < count && fields >> word;) words.push_back(word);
        return words;
    }
    return {};
}

size_t line_count(const std::string& text) {
    size_t lines = 0;
    for (char c : text) lines += c == '\n';
    return lines;
}

TEST_F(VolumeCli, CreateListInspectRemove) {
    auto created = isolab({"volume", "create", "app-data", "--label", "tier=db", "--label", "empty"});
    ASSERT_EQ(created.exit_code, 0) << created.err;
    EXPECT_EQ(created.out, "app-data\n");

    auto listed = isolab({"volume", "ls"});
    EXPECT_EQ(listed.out, "DRIVER    VOLUME NAME\nlocal     app-data\n");

    auto json_lines = isolab({"volume", "ls", "--format", "json"});
    ASSERT_EQ(json_lines.exit_code, 0) << json_lines.err;
    auto line = nlohmann::json::parse(json_lines.out);
    EXPECT_EQ(line["Name"], "app-data");
    EXPECT_EQ(line["Driver"], "local");
    EXPECT_EQ(line["Labels"], "empty=,tier=db");

    auto inspected = isolab({"volume", "inspect", "app-data"});
    ASSERT_EQ(inspected.exit_code, 0) << inspected.err;
    auto document = nlohmann::json::parse(inspected.out);
    ASSERT_EQ(document.size(), 1U);
    EXPECT_EQ(document[0]["Name"], "app-data");
    EXPECT_EQ(document[0]["Driver"], "local");
    EXPECT_EQ(document[0]["Mountpoint"], (root_.paths().volumes() / "app-data" / "_data").string());
    EXPECT_EQ(document[0]["Labels"]["tier"], "db");
    EXPECT_EQ(document[0]["Labels"]["empty"], "");
    EXPECT_EQ(document[0]["CreatedAt"].get<std::string>().size(), 20U);
    EXPECT_TRUE(fs::is_directory(root_.paths().volumes() / "app-data" / "_data"));

    auto removed = isolab({"volume", "rm", "app-data"});
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_EQ(volume_list(), "");
    EXPECT_FALSE(fs::exists(root_.paths().volumes() / "app-data"));
}

TEST_F(VolumeCli, CreateWithoutNameIsRandom) {
    auto created = isolab({"volume", "create"});

    EXPECT_EQ(created.exit_code, 0) << created.err;
    EXPECT_EQ(created.out.size(), 65U);
    EXPECT_EQ(volume_list(), created.out);
}

TEST_F(VolumeCli, InvalidNameOneLine) {
    for (const char* name : {"a", "_data", "da/ta", "da ta", ".hidden"}) {
        auto result = isolab({"volume", "create", name});

        EXPECT_EQ(result.exit_code, 125) << name;
        EXPECT_EQ(line_count(result.err), 1U) << result.err;
        EXPECT_NE(result.err.find("invalid volume name"), std::string::npos) << result.err;
    }
    EXPECT_EQ(volume_list(), "");
}

TEST_F(VolumeCli, HugeNamesGiveShortErrors) {
    std::string huge(100000, 'a');
    std::string with_escape = "a\x1b[31mb";
    for (const auto& arguments : std::vector<std::vector<std::string>>{{"volume", "create", huge},
                                                                        {"volume", "rm", huge},
                                                                        {"volume", "inspect", huge},
                                                                        {"inspect", huge},
                                                                        {"inspect", with_escape}}) {
        auto result = isolab(arguments);

        EXPECT_NE(result.exit_code, 0) << arguments[1];
        EXPECT_EQ(line_count(result.err), 1U) << arguments[1];
        EXPECT_LT(result.err.size(), 2000U) << arguments[1];
        EXPECT_EQ(result.err.find('\x1b'), std::string::npos) << result.err;
    }
}

TEST_F(VolumeCli, InspectMissingFails) {
    isolab({"volume", "create", "present"});

    auto result = isolab({"volume", "inspect", "present", "absent"});

    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("no such volume: absent"), std::string::npos) << result.err;
    EXPECT_EQ(nlohmann::json::parse(result.out).size(), 1U);
}

TEST_F(VolumeCli, RemoveMissingOnlyWithForce) {
    EXPECT_EQ(isolab({"volume", "rm", "absent"}).exit_code, 1);
    EXPECT_EQ(isolab({"volume", "rm", "-f", "absent"}).exit_code, 0);
}

TEST_F(VolumeCli, RemoveInUseNamesContainer) {
    ASSERT_EQ(isolab({"run", "--name", "keeper", "-v", "held:/data", "busybox", "true"}).exit_code, 0);

    auto result = isolab({"volume", "rm", "-f", "held"});

    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("in use by container keeper"), std::string::npos) << result.err;
    EXPECT_EQ(volume_list(), "held\n");

    ASSERT_EQ(isolab({"rm", "keeper"}).exit_code, 0);
    EXPECT_EQ(isolab({"volume", "rm", "held"}).exit_code, 0);
}

TEST_F(VolumeCli, PruneRemovesUnusedAnonymousOnly) {
    isolab({"volume", "create", "named"});
    ASSERT_EQ(isolab({"run", "--name", "user", "-v", "/kept", "busybox", "true"}).exit_code, 0);
    ASSERT_EQ(isolab({"run", "--name", "gone", "-v", "/dropped", "busybox", "true"}).exit_code, 0);
    ASSERT_EQ(isolab({"rm", "gone"}).exit_code, 0);
    ASSERT_EQ(line_count(volume_list()), 3U);

    auto pruned = isolab({"volume", "prune", "-f"});

    EXPECT_EQ(pruned.exit_code, 0) << pruned.err;
    EXPECT_NE(pruned.out.find("Deleted Volumes:"), std::string::npos) << pruned.out;
    EXPECT_EQ(line_count(volume_list()), 2U);
    EXPECT_NE(volume_list().find("named"), std::string::npos);

    EXPECT_EQ(isolab({"volume", "prune", "-f", "--all"}).exit_code, 0);
    EXPECT_EQ(line_count(volume_list()), 1U) << "the volume of container 'user' must stay";
}

TEST_F(VolumeCli, ListFilters) {
    isolab({"volume", "create", "idle-one", "--label", "tier=db"});
    isolab({"volume", "create", "idle-two"});
    ASSERT_EQ(isolab({"run", "--name", "user", "-v", "busy:/data", "busybox", "true"}).exit_code, 0);

    EXPECT_EQ(isolab({"volume", "ls", "-q", "-f", "dangling=true"}).out, "idle-one\nidle-two\n");
    EXPECT_EQ(isolab({"volume", "ls", "-q", "--filter", "dangling=false"}).out, "busy\n");
    EXPECT_EQ(isolab({"volume", "ls", "-q", "-f", "name=idle", "-f", "label=tier=db"}).out, "idle-one\n");
    EXPECT_EQ(isolab({"volume", "ls", "-q", "-f", "label=tier=web"}).out, "");
    auto invalid = isolab({"volume", "ls", "-f", "color=blue"});
    EXPECT_EQ(invalid.exit_code, 125);
    EXPECT_EQ(line_count(invalid.err), 1U) << invalid.err;
}

TEST_F(VolumeCli, PruneNeedsConfirmation) {
    auto result = isolab({"volume", "prune"});

    EXPECT_EQ(result.exit_code, 125);
    EXPECT_NE(result.err.find("--force"), std::string::npos) << result.err;
}

TEST_F(VolumeCli, RunVolumeSurvivesRmV) {
    ASSERT_EQ(isolab({"run", "--name", "first", "-v", "data:/data", "-v", "/anon", "busybox", "sh", "-c",
                      "echo saved > /data/f; echo lost > /f"})
                  .exit_code,
              0);
    ASSERT_EQ(line_count(volume_list()), 2U);

    auto removed = isolab({"rm", "-v", "first"});

    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_EQ(volume_list(), "data\n");
    auto second = isolab({"run", "--rm", "-v", "data:/data", "busybox", "sh", "-c", "cat /data/f; cat /f || echo no-f"});
    EXPECT_EQ(second.out, "saved\nno-f\n");
}

TEST_F(VolumeCli, InvalidVolumeOptionOneLine) {
    for (const char* value : {"relative/path:/data", "data:relative", "data:/data:bogus", "a:b:c:d", "data:/"}) {
        auto result = isolab({"run", "--rm", "-v", value, "busybox", "true"});

        EXPECT_EQ(result.exit_code, 125) << value;
        EXPECT_EQ(line_count(result.err), 1U) << result.err;
    }
    EXPECT_EQ(volume_list(), "");
}

TEST_F(VolumeCli, MissingBindSourceOneLine) {
    auto missing = root_.root().parent_path() / "absent";

    auto result = isolab({"run", "--rm", "--mount", "type=bind,source=" + missing.string() + ",target=/in", "busybox", "true"});

    EXPECT_EQ(result.exit_code, 125);
    EXPECT_EQ(line_count(result.err), 1U) << result.err;
    EXPECT_NE(result.err.find(missing.string()), std::string::npos) << result.err;
    EXPECT_EQ(isolab({"ps", "-a", "-q"}).out, "");
}

TEST_F(VolumeCli, SystemDfCountsVolumes) {
    ASSERT_EQ(isolab({"run", "--name", "filler", "-v", "big:/data", "busybox", "sh", "-c",
                      "dd if=/dev/zero of=/data/blob bs=1024 count=512 2>/dev/null; echo x > /upper"})
                  .exit_code,
              0);
    isolab({"volume", "create", "idle"});

    auto summary = isolab({"system", "df"});
    auto verbose = isolab({"system", "df", "-v"});

    ASSERT_EQ(summary.exit_code, 0) << summary.err;
    EXPECT_EQ(words_of_line(summary.out, "Images"), (std::vector<std::string>{"Images", "1", "1"}));
    EXPECT_EQ(words_of_line(summary.out, "Containers"), (std::vector<std::string>{"Containers", "1", "0"}));
    // 512 KiB of data plus the folders' blocks: between 524 and 540 kB on ext4 or tmpfs.
    auto volumes = words_of_line(summary.out, "Local Volumes", 6);
    ASSERT_EQ(volumes.size(), 6U) << summary.out;
    EXPECT_EQ(volumes[2], "2");
    EXPECT_EQ(volumes[3], "1");
    EXPECT_GE(std::stod(volumes[4]), 524.0) << summary.out;
    EXPECT_LE(std::stod(volumes[4]), 540.0) << summary.out;
    EXPECT_EQ(volumes[5], "kB");
    ASSERT_EQ(verbose.exit_code, 0) << verbose.err;
    EXPECT_NE(verbose.out.find("SHARED SIZE"), std::string::npos) << verbose.out;
    EXPECT_EQ(words_of_line(verbose.out, "big ", 2), (std::vector<std::string>{"big", "1"})) << verbose.out;
    EXPECT_EQ(words_of_line(verbose.out, "idle ", 2), (std::vector<std::string>{"idle", "0"})) << verbose.out;
    EXPECT_NE(verbose.out.find("filler"), std::string::npos) << verbose.out;
}

}  // namespace
}  // namespace isolab::testing
