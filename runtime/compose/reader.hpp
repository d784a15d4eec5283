#pragma once
// Reading values of a compose file: every scalar interpolated, every error naming the
// file, the line and the key.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "runtime/compose/project.hpp"
#include "runtime/container/options.hpp"
#include "runtime/core/error.hpp"

namespace isolab::compose {

inline std::string location(const std::string& file, const YAML::Node& node) {
    return file + ":" + std::to_string(node.Mark().line + 1);
}

[[noreturn]] inline void fail(const std::string& file, const YAML::Node& node, const std::string& key, const std::string& what) {
    throw Error(location(file, node) + ": " + printable(key, 200) + ": " + printable(what, 1000), "fix the compose file", 1);
}

// Reads values of one service, interpolating every scalar it returns.
class Reader {
public:
    Reader(std::string file, const container::EnvironmentLookup& lookup) : file_(std::move(file)), lookup_(lookup) {}

    const std::string& file() const { return file_; }

    std::string scalar(const YAML::Node& node, const std::string& key) const {
        if (!node.IsScalar()) fail(file_, node, key, "expected a single value");
        return interpolate(node.Scalar(), lookup_, location(file_, node));
    }

    bool boolean(const YAML::Node& node, const std::string& key) const {
        auto text = scalar(node, key);
        if (text == "true" || text == "True" || text == "yes") return true;
        if (text == "false" || text == "False" || text == "no") return false;
        fail(file_, node, key, "expected true or false, got \"" + text + "\"");
    }

    // A string or a list of strings. A string is split into words at spaces, with quotes and
    // backslashes as in a shell but without expansions.
    std::vector<std::string> words(const YAML::Node& node, const std::string& key) const {
        if (node.IsSequence()) return list(node, key);
        return split_words(scalar(node, key), node, key);
    }

    std::vector<std::string> list(const YAML::Node& node, const std::string& key) const {
        if (!node.IsSequence()) fail(file_, node, key, "expected a list");
        std::vector<std::string> values;
        for (const auto& item : node) values.push_back(scalar(item, key));
        return values;
    }

    // A map, or a list of "NAME=value" (split on the first '=').
    std::vector<std::pair<std::string, std::optional<std::string>>> pairs(const YAML::Node& node,
                                                                          const std::string& key) const {
        std::vector<std::pair<std::string, std::optional<std::string>>> result;
        if (node.IsMap()) {
            for (const auto& item : node) {
                auto name = item.first.as<std::string>();
                if (item.second.IsNull()) {
                    result.emplace_back(name, std::nullopt);
                } else {
                    result.emplace_back(name, scalar(item.second, key + "." + name));
                }
            }
        } else if (node.IsSequence()) {
            for (const auto& item : node) {
                auto text = scalar(item, key);
                auto equals = text.find('=');
                if (equals == 0 || text.empty()) fail(file_, item, key, "\"" + text + "\" has no name before '='");
                if (equals == std::string::npos) {
                    result.emplace_back(text, std::nullopt);
                } else {
                    result.emplace_back(text.substr(0, equals), text.substr(equals + 1));
                }
            }
        } else {
            fail(file_, node, key, "expected a map or a list of NAME=value");
        }
        return result;
    }

private:
    std::vector<std::string> split_words(const std::string& text, const YAML::Node& node, const std::string& key) const {
        std::vector<std::string> words;
        std::string word;
        bool in_word = false;
        char quote = 0;
        for (size_t i = 0; i < text.size(); ++i) {
            char c = text[i];
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                } else if (c == '\\' && quote == '"' && i + 1 < text.size()) {
                    word += text[++i];
                } else {
                    word += c;
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
                in_word = true;
            } else if (c == '\\' && i + 1 < text.size()) {
                word += text[++i];
                in_word = true;
            } else if (std::isspace(static_cast<unsigned char>(c))) {
                if (in_word) words.push_back(word);
                word.clear();
                in_word = false;
            } else {
                word += c;
                in_word = true;
            }
        }
        if (quote != 0) fail(file_, node, key, "unclosed quote in \"" + text + "\"");
        if (in_word) words.push_back(word);
        return words;
    }

    std::string file_;
    const container::EnvironmentLookup& lookup_;
};

}  // namespace isolab::compose
