#pragma once
// OutputPattern: the regular expression of a check's output_matches, an extended regular
// expression as `grep -E` takes it (POSIX ERE with GNU's \b, \w and \s), where ^ and $
// match at every line. It runs on glibc's regex engine, which keeps its matching state on
// the heap. libstdc++'s std::regex recurses once per character and overflows the stack on
// long input; glibc's engine searched 4 MiB of output in a unit test.
#include <regex.h>

#include <string>
#include <string_view>

namespace isolab::lessons {

class OutputPattern {
public:
    // Compiles `pattern`. Throws Error with regcomp's description when it is invalid.
    explicit OutputPattern(const std::string& pattern);
    ~OutputPattern();
    OutputPattern(const OutputPattern&) = delete;
    OutputPattern& operator=(const OutputPattern&) = delete;

    // Returns true when the pattern matches somewhere in `text`, NUL bytes included.
    bool found_in(std::string_view text) const;

private:
    regex_t compiled_{};
};

}  // namespace isolab::lessons
