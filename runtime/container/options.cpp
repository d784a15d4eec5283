#include "runtime/container/options.hpp"

#include <array>
#include <cstdlib>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/text.hpp"

namespace isolab::container {

EnvironmentLookup process_environment() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
    };
}

std::optional<std::string> parse_env_option(std::string_view text, const EnvironmentLookup& lookup) {
    auto equals = text.find('=');
    auto name = text.substr(0, equals);
    if (name.empty()) {
        throw Error("invalid environment variable '" + std::string(text) + "': the name is empty", "use -e NAME=value");
    }
    if (equals != std::string_view::npos) return std::string(text);

    auto value = lookup(std::string(name));
    if (!value) return std::nullopt;
    return std::string(name) + "=" + *value;
}

std::optional<std::string> find_env(const std::vector<std::string>& env, std::string_view name) {
    for (const auto& entry : env) {
        if (entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 && entry[name.size()] == '=') {
            return entry.substr(name.size() + 1);
        }
    }
    return std::nullopt;
}

std::vector<std::string> merge_env(std::vector<std::string> base, const std::vector<std::string>& overrides) {
    for (const auto& entry : overrides) {
        auto name = entry.substr(0, entry.find('='));
        bool replaced = false;
        for (auto& existing : base) {
            if (existing.substr(0, existing.find('=')) == name) {
                existing = entry;
                replaced = true;
                break;
            }
        }
        if (!replaced) base.push_back(entry);
    }
    return base;
}

std::uint64_t parse_memory_limit(std::string_view text) {
    std::uint64_t bytes = 0;
    try {
        bytes = parse_size(text);
    } catch (const Error&) {
        throw Error("invalid memory limit '" + std::string(text) + "'", "use a size such as 64m or 1g");
    }
    constexpr std::uint64_t minimum = 6ULL << 20;
    if (bytes < minimum) {
        throw Error("invalid memory limit '" + std::string(text) + "': the minimum is 6 MiB", "use a size such as 64m");
    }
    return bytes;
}

void validate_container_name(std::string_view name) {
    if (!is_object_name(name)) {
        throw Error("invalid container name '" + std::string(name) + "'",
                    "use letters, digits, '_', '.' and '-', starting with a letter or digit");
    }
}

std::string generate_container_name(std::string_view id) {
    static constexpr std::array<const char*, 16> adjectives{"calm", "brave", "eager", "gentle", "jolly", "keen",
                                                            "lucid", "merry", "nimble", "quiet", "sharp", "tidy",
                                                            "vivid", "witty", "zen", "bold"};
    static constexpr std::array<const char*, 16> scientists{"hopper", "turing", "lovelace", "ritchie", "thompson",
                                                            "torvalds", "knuth", "dijkstra", "hamilton", "liskov",
                                                            "lamport", "backus", "kay", "perlman", "wirth", "cerf"};
    auto nibble = [&](size_t index) {
        char c = id.size() > index ? id[index] : '0';
        return static_cast<size_t>(c >= 'a' ? c - 'a' + 10 : c - '0') % 16;
    };
    return std::string(adjectives[nibble(0)]) + "_" + scientists[nibble(1)] + "_" + std::string(id.substr(2, 4));
}

}  // namespace isolab::container
