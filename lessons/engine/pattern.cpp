#include "lessons/engine/pattern.hpp"

#include "runtime/core/error.hpp"

namespace isolab::lessons {

OutputPattern::OutputPattern(const std::string& pattern) {
    int code = regcomp(&compiled_, pattern.c_str(), REG_EXTENDED | REG_NEWLINE | REG_NOSUB);
    if (code != 0) {
        char description[256];
        regerror(code, &compiled_, description, sizeof description);
        regfree(&compiled_);
        throw Error(description);
    }
}

OutputPattern::~OutputPattern() { regfree(&compiled_); }

bool OutputPattern::found_in(std::string_view text) const {
    // REG_STARTEND (a BSD and glibc extension) bounds the text by the offsets in `range`,
    // so it needs no terminating NUL and may contain NUL bytes.
    regmatch_t range{0, static_cast<regoff_t>(text.size())};
    return regexec(&compiled_, text.data(), 1, &range, REG_STARTEND) == 0;
}

}  // namespace isolab::lessons
