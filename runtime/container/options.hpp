#pragma once
// Parsing and checking what the user asks of a container (environment, memory, name)
// before anything is created, so bad input fails with one line and leaves nothing behind.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace isolab::container {

// Looks up a variable of the caller's environment; nullopt when unset.
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The caller's environment (getenv).
EnvironmentLookup process_environment();

// Parses one -e value: "NAME=value" splits at the first '=' (the value may contain more);
// "NAME" alone takes the value from `lookup` and yields nullopt when it is unset there,
// as Docker does. Throws Error for an empty name.
std::optional<std::string> parse_env_option(std::string_view text, const EnvironmentLookup& lookup);

// Appends or replaces "NAME=value" entries of `overrides` in `base`, keeping base's order.
std::vector<std::string> merge_env(std::vector<std::string> base, const std::vector<std::string>& overrides);

// Parses -m: a size as parse_size reads it, at least 6 MiB as Docker requires.
std::uint64_t parse_memory_limit(std::string_view text);

// Checks a container name: [a-zA-Z0-9][a-zA-Z0-9_.-]*, as Docker accepts. Throws Error.
void validate_container_name(std::string_view name);

// A readable name such as "calm_hopper", derived from random bits.
std::string generate_container_name(std::string_view id);

// The value of NAME in a "NAME=value" list, or nullopt.
std::optional<std::string> find_env(const std::vector<std::string>& env, std::string_view name);

}  // namespace isolab::container
