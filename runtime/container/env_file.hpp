#pragma once
// --env-file: environment variables read from a file, one per line, as Docker reads them.
#include <string>
#include <vector>

#include "runtime/container/options.hpp"

namespace isolab::container {

// Parses env-file text: "NAME=value" splits at the first '=' and keeps the rest of the
// line as it is (quotes and spaces included); "NAME" alone takes the value from `lookup`
// and is left out when unset there; lines starting with '#' (after leading blanks) and
// blank lines are skipped. Throws Error naming source:line for an empty name or a name
// with whitespace.
std::vector<std::string> parse_env_file(const std::string& text, const std::string& source, const EnvironmentLookup& lookup);

// Reads and parses the file at `path`. Throws Error when it cannot be read.
std::vector<std::string> read_env_file(const std::string& path, const EnvironmentLookup& lookup);

}  // namespace isolab::container
