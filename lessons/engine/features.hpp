#pragma once
// isolab features a lesson can wait for ("build", "compose", ...). A feature is present
// when the isolab binary knows the subcommand (`isolab <words> --help` exits 0 and shows
// the usage of that subcommand) and,
// where an option is named, the help text lists that option.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace isolab::lessons {

struct FeatureProbe {
    std::vector<std::string> subcommand;  // e.g. {"vm", "run"}
    std::string option;                   // e.g. "--volume"; empty: the subcommand is enough
};

// The features a tasks.yaml may name under `requires`, with how each is probed.
const std::map<std::string, FeatureProbe>& known_features();

// Probes features against one isolab binary, remembering each answer.
class FeatureSet {
public:
    explicit FeatureSet(std::filesystem::path isolab_binary) : binary_(std::move(isolab_binary)) {}

    bool available(const std::string& feature);
    // The features in `wanted` this binary lacks, in the given order.
    std::vector<std::string> missing(const std::vector<std::string>& wanted);

private:
    std::filesystem::path binary_;
    std::map<std::string, bool> answers_;
};

// True when `isolab <subcommand...> --help` exits 0 and prints that subcommand's usage.
bool subcommand_known(const std::filesystem::path& isolab_binary, const std::vector<std::string>& subcommand);

}  // namespace isolab::lessons
