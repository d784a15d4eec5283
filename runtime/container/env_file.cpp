#include "runtime/container/env_file.hpp"

#include <filesystem>
#include <sstream>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"

namespace isolab::container {

std::vector<std::string> parse_env_file(const std::string& text, const std::string& source, const EnvironmentLookup& lookup) {
    std::vector<std::string> env;
    std::istringstream lines(text);
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#') continue;
        line.erase(0, first);

        auto equals = line.find('=');
        auto name = line.substr(0, equals);
        auto where = source + ":" + std::to_string(number);
        if (name.empty()) throw Error("invalid line in env file " + where + ": the variable name is empty", "write NAME=value");
        if (name.find_first_of(" \t") != std::string::npos) {
            throw Error("invalid line in env file " + where + ": variable '" + name + "' contains whitespace",
                        "write NAME=value without spaces in NAME");
        }
        if (equals != std::string::npos) {
            env.push_back(line);
        } else if (auto value = lookup(name)) {
            env.push_back(name + "=" + *value);
        }
    }
    return env;
}

std::vector<std::string> read_env_file(const std::string& path, const EnvironmentLookup& lookup) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) {
        throw Error("env file " + path + " not found", "give the path of a file with NAME=value lines");
    }
    return parse_env_file(read_file(path), path, lookup);
}

}  // namespace isolab::container
