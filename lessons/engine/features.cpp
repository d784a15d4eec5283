#include "lessons/engine/features.hpp"

#include "runtime/core/log.hpp"
#include "runtime/core/process.hpp"

namespace isolab::lessons {

const std::map<std::string, FeatureProbe>& known_features() {
    static const std::map<std::string, FeatureProbe> features = {
        {"run", {{"run"}, ""}},
        {"images", {{"images"}, ""}},
        {"vm", {{"vm", "run"}, ""}},
        {"compare", {{"compare"}, ""}},
        {"build", {{"build"}, ""}},
        {"compose", {{"compose"}, ""}},
        {"volumes", {{"volume"}, ""}},
        {"mounts", {{"run"}, "--volume"}},
        {"detach", {{"run"}, "--detach"}},
        {"ps", {{"ps"}, ""}},
        {"rm", {{"rm"}, ""}},
        {"stop", {{"stop"}, ""}},
        {"exec", {{"exec"}, ""}},
        {"diff", {{"diff"}, ""}},
    };
    return features;
}

namespace {

CommandResult run_help(const std::filesystem::path& binary, const std::vector<std::string>& subcommand) {
    std::vector<std::string> argv{binary.string()};
    argv.insert(argv.end(), subcommand.begin(), subcommand.end());
    argv.push_back("--help");
    return run_command(argv, {.capture = true, .timeout = std::chrono::seconds(20)});
}

// CLI11 answers `--help` after an unknown subcommand with the top-level help and exit 0,
// so a subcommand is known only when its own usage line names it.
bool usage_names_subcommand(const std::string& help, const std::vector<std::string>& subcommand) {
    std::string words;
    for (const auto& word : subcommand) words += " " + word;
    auto usage = help.find("Usage:");
    if (usage == std::string::npos) return false;
    auto line = help.substr(usage, help.find('\n', usage) - usage) + " ";
    return line.find(words + " ") != std::string::npos;
}

bool help_lists_subcommand(const CommandResult& help, const std::vector<std::string>& subcommand) {
    return help.exit_code == 0 && usage_names_subcommand(help.output, subcommand);
}

}  // namespace

bool subcommand_known(const std::filesystem::path& isolab_binary, const std::vector<std::string>& subcommand) {
    if (help_lists_subcommand(run_help(isolab_binary, subcommand), subcommand)) return true;
    if (subcommand.size() < 2) return false;

    // In `isolab rm changed` the second word is an argument (a container name), not a
    // subcommand: that is the case when the first word is a command without subcommands.
    std::vector<std::string> parent{subcommand.front()};
    auto help = run_help(isolab_binary, parent);
    return help_lists_subcommand(help, parent) && help.output.find("Subcommands:") == std::string::npos;
}

bool FeatureSet::available(const std::string& feature) {
    auto cached = answers_.find(feature);
    if (cached != answers_.end()) return cached->second;

    bool present = false;
    auto probe = known_features().find(feature);
    if (probe != known_features().end()) {
        auto help = run_help(binary_, probe->second.subcommand);
        present = help_lists_subcommand(help, probe->second.subcommand) &&
                  (probe->second.option.empty() || help.output.find(probe->second.option) != std::string::npos);
    }
    spdlog::debug("lesson feature {}: {}", feature, present ? "available" : "missing");
    answers_[feature] = present;
    return present;
}

std::vector<std::string> FeatureSet::missing(const std::vector<std::string>& wanted) {
    std::vector<std::string> absent;
    for (const auto& feature : wanted) {
        if (!available(feature)) absent.push_back(feature);
    }
    return absent;
}

}  // namespace isolab::lessons
