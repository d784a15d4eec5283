#pragma once
// .dockerignore rules, as Docker applies them to the build context: one pattern per line,
// `#` lines and blank lines skipped, a leading `!` marks an exception, and the last
// pattern that matches a path decides. Patterns use Go's filepath.Match syntax (`*`, `?`,
// `[...]`, `\` to escape) plus `**`, which matches any number of directories. A pattern
// that matches a directory also matches everything below it.
#include <string>
#include <utility>
#include <string_view>
#include <vector>

namespace isolab::build {

class IgnoreRules {
public:
    IgnoreRules() = default;
    // Parses the content of a .dockerignore file. Throws Error for an invalid pattern.
    explicit IgnoreRules(std::string_view text);

    // True when `path` (relative to the context root, '/'-separated) is excluded.
    bool excluded(const std::string& path) const;
    // True when some exception pattern could re-include a path below the directory
    // `path`, so an excluded directory must still be walked.
    bool may_include_below(const std::string& path) const;
    bool empty() const { return rules_.empty(); }

    // One element of a compiled pattern.
    struct Token {
        enum class Kind {
            literal,            // `c`, or `\c`
            any_char,           // `?`: one character other than '/'
            char_class,         // `[...]`, `[^...]`: one character (a class may match '/')
            star,               // `*`: any run of characters other than '/'
            double_star,        // `**`: any run of characters
            double_star_slash,  // `**/`: nothing, or any run of characters that ends with '/'
        };
        Kind kind = Kind::literal;
        char literal = 0;
        bool negated = false;
        std::vector<std::pair<char, char>> ranges;  // inclusive; a single character is {c, c}
        // NOTE: classes compare bytes, not UTF-8 characters as Go does, so a class with a
        // non-ASCII member or range does not match as in Docker.
    };

private:
    struct Rule {
        std::string pattern;
        std::vector<Token> tokens;
        bool exception = false;
    };
    std::vector<Rule> rules_;
};

}  // namespace isolab::build
