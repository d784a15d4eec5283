// Every command a lesson text asks the student to type must exist: isolab subcommands
// must be known to the isolab binary (`isolab <subcommand> --help` exits 0) unless the
// lesson waits for the feature that adds them, and other programs must be installed.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "lessons/engine/catalog.hpp"
#include "lessons/engine/features.hpp"
#include "lessons/engine/markdown.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"

namespace isolab::lessons {
namespace {

// The first word of a shell command line that names a program, after assignments and
// the shell's own keywords.
std::string program_of(const std::string& command) {
    static const std::set<std::string> skipped = {"{", "(", "!", "time", "sudo", "-E"};
    std::istringstream words(command);
    std::string word;
    while (words >> word) {
        if (skipped.count(word) || word.find('=') != std::string::npos) continue;
        return word;
    }
    return {};
}

bool is_shell_builtin(const std::string& word) {
    static const std::set<std::string> builtins = {"cd", "export", "echo", "kill", "for", "if", "while", "test", "["};
    return builtins.count(word) > 0;
}

// True when one of the lesson's missing features would add `subcommand`.
bool waits_for(const std::vector<std::string>& missing, const std::vector<std::string>& subcommand) {
    for (const auto& feature : missing) {
        const auto& probe = known_features().at(feature);
        if (probe.subcommand.front() == subcommand.front()) return true;
    }
    return false;
}

TEST(LessonText, EveryCommandExists) {
    Catalog catalog(std::filesystem::path(ISOLAB_SOURCE_DIR) / "lessons");
    FeatureSet features(ISOLAB_BINARY);
    std::map<std::vector<std::string>, bool> known;
    int isolab_commands = 0;

    for (const auto& lesson : catalog.lessons()) {
        auto missing = features.missing(lesson.requires_features);
        auto commands = fenced_commands(read_file(lesson.text_path()));
        EXPECT_FALSE(commands.empty()) << lesson.name << " has no commands to type";

        for (const auto& command : commands) {
            std::string where = lesson.name + "/lesson.md:" + std::to_string(command.line) + ": " + command.command;
            auto subcommand = isolab_subcommand(command.command);
            if (subcommand.empty()) {
                auto program = program_of(command.command);
                EXPECT_TRUE(is_shell_builtin(program) || program_available(program)) << where << ": " << program << " not found";
                continue;
            }
            ++isolab_commands;
            if (!known.count(subcommand)) known[subcommand] = subcommand_known(ISOLAB_BINARY, subcommand);
            if (known[subcommand]) continue;
            EXPECT_TRUE(waits_for(missing, subcommand)) << where << ": isolab does not know this command, and the lesson "
                                                        << "does not list the feature that adds it under requires";
        }
    }
    EXPECT_GT(isolab_commands, 30);
}

}  // namespace
}  // namespace isolab::lessons
