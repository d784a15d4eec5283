#include "runtime/build/dockerignore.hpp"

#include <cctype>

#include "runtime/core/error.hpp"

namespace isolab::build {

namespace {

std::string trim(std::string_view text) {
    size_t start = text.find_first_not_of(" \t\r");
    if (start == std::string_view::npos) return {};
    size_t end = text.find_last_not_of(" \t\r");
    return std::string(text.substr(start, end - start + 1));
}

// Cleans a pattern as Go's filepath.Clean does for the cases that matter here: no
// leading "/", no "." components, no repeated or trailing "/".
std::string clean_pattern(const std::string& pattern) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= pattern.size()) {
        size_t end = pattern.find('/', start);
        if (end == std::string::npos) end = pattern.size();
        std::string part = pattern.substr(start, end - start);
        if (part == "..") {
            if (!parts.empty() && parts.back() != "..") parts.pop_back();
            else parts.push_back(part);
        } else if (!part.empty() && part != ".") {
            parts.push_back(part);
        }
        start = end + 1;
    }
    std::string cleaned;
    for (const auto& part : parts) cleaned += (cleaned.empty() ? "" : "/") + part;
    return cleaned.empty() ? "." : cleaned;
}

// Translates a pattern into an ECMAScript regex for the whole path.
std::string pattern_regex(const std::string& pattern) {
    std::string regex;
    for (size_t i = 0; i < pattern.size(); ++i) {
        char c = pattern[i];
        if (c == '*' && i + 1 < pattern.size() && pattern[i + 1] == '*') {
            ++i;
            if (i + 1 < pattern.size() && pattern[i + 1] == '/') {
                // "**/" matches zero or more whole directories.
                ++i;
                regex += "(.*/)?";
            } else {
                regex += ".*";
            }
        } else if (c == '*') {
            regex += "[^/]*";
        } else if (c == '?') {
            regex += "[^/]";
        } else if (c == '[') {
            size_t end = pattern.find(']', i + 1);
            if (end == std::string::npos) throw Error("invalid .dockerignore pattern '" + pattern + "': missing ']'");
            std::string set = pattern.substr(i + 1, end - i - 1);
            regex += "[";
            for (char member : set) {
                if (member == '\\' || member == ']') regex += '\\';
                regex += member;
            }
            regex += "]";
            i = end;
        } else if (c == '\\') {
            // Go's filepath.Match: a backslash makes the next character literal, and a
            // trailing one is a bad pattern.
            if (i + 1 == pattern.size()) {
                throw Error("invalid .dockerignore pattern '" + pattern + "': it ends with '\\'",
                            "write \\\\ for a literal backslash");
            }
            char literal = pattern[++i];
            if (!std::isalnum(static_cast<unsigned char>(literal))) regex += '\\';
            regex += literal;
        } else if (std::string_view(".+()|{}$^").find(c) != std::string_view::npos) {
            regex += '\\';
            regex += c;
        } else {
            regex += c;
        }
    }
    return regex;
}

}  // namespace

IgnoreRules::IgnoreRules(std::string_view text) {
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string line = trim(text.substr(start, end - start));
        start = end + 1;
        if (line.empty() || line.front() == '#') continue;

        Rule rule;
        if (line.front() == '!') {
            rule.exception = true;
            line = trim(line.substr(1));
            if (line.empty()) throw Error("invalid .dockerignore pattern '!': it names nothing", "write !PATTERN");
        }
        rule.pattern = clean_pattern(line);
        // The pattern matches the path itself or any directory above it.
        try {
            rule.regex = std::regex("^" + pattern_regex(rule.pattern) + "(/.*)?$");
        } catch (const std::regex_error& error) {
            throw Error("invalid .dockerignore pattern '" + line + "': " + error.what(),
                        "see Go's filepath.Match for the pattern syntax");
        }
        rules_.push_back(std::move(rule));
    }
}

bool IgnoreRules::excluded(const std::string& path) const {
    bool result = false;
    for (const auto& rule : rules_) {
        if (std::regex_match(path, rule.regex)) result = !rule.exception;
    }
    return result;
}

bool IgnoreRules::may_include_below(const std::string& path) const {
    for (const auto& rule : rules_) {
        if (!rule.exception) continue;
        // An exception reaches below `path` when its pattern starts with the directory's
        // components, or when it has a wildcard that can span directories.
        if (rule.pattern.rfind(path + "/", 0) == 0 || rule.pattern.find("**") != std::string::npos ||
            rule.pattern.find_first_of("*?[") < rule.pattern.find('/')) {
            return true;
        }
    }
    return false;
}

}  // namespace isolab::build
