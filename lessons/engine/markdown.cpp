#include "lessons/engine/markdown.hpp"

#include <regex>
#include <sstream>

namespace isolab::lessons {

namespace {

bool is_command_block(const std::string& tag) {
    return tag == "sh" || tag == "shell" || tag == "bash";
}

std::vector<std::string> split_words(const std::string& command) {
    std::istringstream stream(command);
    std::vector<std::string> words;
    std::string word;
    while (stream >> word) words.push_back(word);
    return words;
}

}  // namespace

std::vector<FencedCommand> fenced_commands(const std::string& markdown) {
    std::vector<FencedCommand> commands;
    std::istringstream lines(markdown);
    std::string line;
    int number = 0;
    bool in_block = false;
    bool collecting = false;
    FencedCommand pending;

    while (std::getline(lines, line)) {
        ++number;
        if (line.rfind("```", 0) == 0) {
            collecting = !in_block && is_command_block(line.substr(3));
            in_block = !in_block;
            continue;
        }
        if (!collecting) continue;

        auto start = line.find_first_not_of(" \t");
        if (pending.command.empty() && (start == std::string::npos || line[start] == '#')) continue;
        if (pending.command.empty()) pending.line = number;
        bool continues = !line.empty() && line.back() == '\\';
        pending.command += (pending.command.empty() ? "" : " ") + line.substr(start == std::string::npos ? 0 : start,
                                                                              continues ? line.size() - 1 - start : std::string::npos);
        if (continues) continue;
        commands.push_back(pending);
        pending = FencedCommand{};
    }
    return commands;
}

std::vector<std::string> isolab_subcommand(const std::string& command) {
    static const std::regex assignment("[A-Za-z_][A-Za-z0-9_]*=.*");
    static const std::regex plain_word("[a-z][a-z0-9-]*");
    auto words = split_words(command);
    size_t index = 0;
    while (index < words.size()) {
        if (words[index] == "sudo") {
            ++index;
            while (index < words.size() && words[index].front() == '-') ++index;  // sudo -E
        } else if (std::regex_match(words[index], assignment) || words[index] == "{" || words[index] == "(" ||
                   words[index] == "time" || words[index] == "!") {
            ++index;
        } else {
            break;
        }
    }
    if (index >= words.size() || words[index] != "isolab") return {};

    std::vector<std::string> subcommand;
    for (++index; index < words.size() && subcommand.size() < 2; ++index) {
        if (!std::regex_match(words[index], plain_word)) break;
        subcommand.push_back(words[index]);
    }
    return subcommand;
}

}  // namespace isolab::lessons
