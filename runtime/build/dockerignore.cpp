#include "runtime/build/dockerignore.hpp"

#include <string_view>
#include <utility>

#include "runtime/core/error.hpp"
#include "runtime/core/text.hpp"

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

using Token = IgnoreRules::Token;
using Kind = Token::Kind;

Error bad_pattern(const std::string& pattern, const std::string& reason, std::string hint = {}) {
    if (hint.empty()) hint = "see Go's filepath.Match for the pattern syntax";
    return Error("invalid .dockerignore pattern '" + printable(pattern) + "': " + reason, std::move(hint));
}

// Reads one class member at pattern[i], as Go's filepath.Match does: `\c` is c, and an
// unescaped '-' or ']' is a bad pattern. Advances i past it.
char class_member(const std::string& pattern, size_t& i) {
    bool escaped = i < pattern.size() && pattern[i] == '\\';
    if (escaped) ++i;
    if (i >= pattern.size()) throw bad_pattern(pattern, "missing ']'");
    char c = pattern[i];
    if (!escaped && (c == '-' || c == ']')) {
        throw bad_pattern(pattern, std::string("unescaped '") + c + "' in a character class",
                          std::string("write \\") + c + " for a literal '" + c + "'");
    }
    ++i;
    return c;
}

// Parses the class that starts at pattern[open] ('['): an optional '^', then one or more
// characters and ranges such as a-z, then ']'. Returns the index of the closing ']'.
size_t parse_class(const std::string& pattern, size_t open, Token& token) {
    token.kind = Kind::char_class;
    size_t i = open + 1;
    if (i < pattern.size() && pattern[i] == '^') {
        token.negated = true;
        ++i;
    }
    while (true) {
        if (i >= pattern.size()) throw bad_pattern(pattern, "missing ']'");
        if (pattern[i] == ']' && !token.ranges.empty()) return i;
        if (pattern[i] == ']') throw bad_pattern(pattern, "empty character class");
        char low = class_member(pattern, i);
        char high = low;
        if (i < pattern.size() && pattern[i] == '-') {
            ++i;
            high = class_member(pattern, i);
            if (high < low) {
                throw bad_pattern(pattern, std::string("the range ") + low + "-" + high + " is reversed",
                                  std::string("write ") + high + "-" + low);
            }
        }
        token.ranges.emplace_back(low, high);
    }
}

// Compiles a cleaned pattern into tokens, checking its syntax.
std::vector<Token> compile_pattern(const std::string& pattern) {
    std::vector<Token> tokens;
    for (size_t i = 0; i < pattern.size(); ++i) {
        char c = pattern[i];
        Token token;
        if (c == '*' && i + 1 < pattern.size() && pattern[i + 1] == '*') {
            ++i;
            token.kind = Kind::double_star;
            if (i + 1 < pattern.size() && pattern[i + 1] == '/') {
                ++i;
                token.kind = Kind::double_star_slash;
            }
        } else if (c == '*') {
            token.kind = Kind::star;
        } else if (c == '?') {
            token.kind = Kind::any_char;
        } else if (c == '[') {
            i = parse_class(pattern, i, token);
        } else if (c == '\\') {
            // Go's filepath.Match: a backslash makes the next character literal, and a
            // trailing one is a bad pattern.
            if (i + 1 == pattern.size()) throw bad_pattern(pattern, "it ends with '\\'", "write \\\\ for a literal backslash");
            token.literal = pattern[++i];
        } else {
            token.literal = c;
        }
        tokens.push_back(std::move(token));
    }
    return tokens;
}

bool class_matches(const Token& token, char c) {
    bool member = false;
    for (const auto& [low, high] : token.ranges) member = member || (low <= c && c <= high);
    return member != token.negated;
}

// True when `tokens` match `path` itself or a directory above it ("build" matches
// "build/out/x.o"). Dynamic programming over (token, position) in O(tokens x length)
// time, so a pattern of many stars cannot make it backtrack exponentially as a regex
// engine would. Row t of the table says for each position whether tokens[t..] match the
// rest of the path, built from the last token back.
bool tokens_match(const std::vector<Token>& tokens, std::string_view path) {
    size_t length = path.size();
    std::vector<char> next(length + 1);  // row t + 1
    std::vector<char> current(length + 1);
    std::vector<char> slash_ahead(length + 1);  // for `**/`: a '/' at or after i ends a match
    for (size_t i = 0; i <= length; ++i) next[i] = i == length || path[i] == '/';

    for (size_t t = tokens.size(); t-- > 0;) {
        const Token& token = tokens[t];
        for (size_t i = length + 1; i-- > 0;) {
            bool more = i < length;
            char c = more ? path[i] : '\0';
            bool result = false;
            switch (token.kind) {
                case Kind::literal: result = more && c == token.literal && next[i + 1]; break;
                case Kind::any_char: result = more && c != '/' && next[i + 1]; break;
                case Kind::char_class: result = more && class_matches(token, c) && next[i + 1]; break;
                case Kind::star: result = next[i] || (more && c != '/' && current[i + 1]); break;
                case Kind::double_star: result = next[i] || (more && current[i + 1]); break;
                case Kind::double_star_slash:
                    slash_ahead[i] = more && ((c == '/' && next[i + 1]) || slash_ahead[i + 1]);
                    result = next[i] || slash_ahead[i];
                    break;
            }
            current[i] = result;
        }
        std::swap(next, current);
    }
    return next[0] != 0;
}

}  // namespace

IgnoreRules::IgnoreRules(std::string_view text) {
    text = without_utf8_bom(text);
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
        rule.tokens = compile_pattern(rule.pattern);
        rules_.push_back(std::move(rule));
    }
}

bool IgnoreRules::excluded(const std::string& path) const {
    bool result = false;
    for (const auto& rule : rules_) {
        if (tokens_match(rule.tokens, path)) result = !rule.exception;
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
