#pragma once
// .dockerignore rules, as Docker applies them to the build context: one pattern per line,
// `#` lines and blank lines skipped, a leading `!` marks an exception, and the last
// pattern that matches a path decides. Patterns use Go's filepath.Match syntax (`*`, `?`,
// `[...]`, `\` to escape) plus `**`, which matches any number of directories. A pattern
// that matches a directory also matches everything below it.
#include <regex>
#include <string>
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

private:
    struct Rule {
        std::string pattern;
        std::regex regex;
        bool exception = false;
    };
    std::vector<Rule> rules_;
};

}  // namespace isolab::build
