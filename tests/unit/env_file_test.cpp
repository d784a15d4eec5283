// --env-file parsing: splitting, comments, names taken from the caller, errors with file:line.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "runtime/container/env_file.hpp"
#include "runtime/core/error.hpp"

namespace isolab::container {
namespace {

EnvironmentLookup lookup_from(std::map<std::string, std::string> values) {
    return [values](const std::string& name) -> std::optional<std::string> {
        auto found = values.find(name);
        if (found == values.end()) return std::nullopt;
        return found->second;
    };
}

TEST(EnvFile, SplitsAtFirstEquals) {
    auto env = parse_env_file("A=b=c\nEMPTY=\nSPACES= x y \n", "f", lookup_from({}));

    EXPECT_EQ(env, (std::vector<std::string>{"A=b=c", "EMPTY=", "SPACES= x y "}));
}

TEST(EnvFile, SkipsCommentsAndBlankLines) {
    auto env = parse_env_file("# comment\n\n   \n  # indented comment\nX=1\r\n\tY=2\n", "f", lookup_from({}));

    EXPECT_EQ(env, (std::vector<std::string>{"X=1", "Y=2"}));
}

TEST(EnvFile, NameAloneTakesCallerValue) {
    auto env = parse_env_file("SET\nUNSET\n", "f", lookup_from({{"SET", "from caller"}}));

    EXPECT_EQ(env, std::vector<std::string>{"SET=from caller"});
}

TEST(EnvFile, ErrorsNameFileAndLine) {
    try {
        parse_env_file("OK=1\n\n=value\n", "vars.env", lookup_from({}));
        FAIL() << "an empty name must be rejected";
    } catch (const Error& error) {
        EXPECT_EQ(std::string(error.what()), "invalid line in env file vars.env:3: the variable name is empty");
    }
    try {
        parse_env_file("MY VAR=1\n", "vars.env", lookup_from({}));
        FAIL() << "a name with a space must be rejected";
    } catch (const Error& error) {
        EXPECT_EQ(std::string(error.what()), "invalid line in env file vars.env:1: variable 'MY VAR' contains whitespace");
    }
}

TEST(EnvFile, MissingFileRejected) {
    EXPECT_THROW(read_env_file("/no/such/file.env", lookup_from({})), Error);
}

}  // namespace
}  // namespace isolab::container
