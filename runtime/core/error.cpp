#include "runtime/core/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace isolab {

std::string Error::one_line() const {
    if (hint_.empty()) return what();
    return std::string(what()) + " (" + hint_ + ")";
}

std::string printable(std::string_view text, size_t max_length) {
    std::string result;
    size_t kept_length = std::min(text.size(), max_length);
    for (unsigned char c : text.substr(0, kept_length)) {
        if (c == '\n') {
            result += "\\n";
        } else if (c == '\t') {
            result += "\\t";
        } else if (c < 0x20 || c == 0x7f) {
            result += fmt::format("\\x{:02x}", c);
        } else {
            result += static_cast<char>(c);
        }
    }
    if (kept_length < text.size()) result += fmt::format("... ({} more bytes)", text.size() - kept_length);
    return result;
}

std::string joined_lines(std::string_view text) {
    std::string joined;
    while (!text.empty()) {
        size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
        if (!line.empty()) {
            if (!joined.empty()) joined += "; ";
            joined += line;
        }
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    return joined;
}

std::string error_line(const Error& error) {
    constexpr size_t max_hint_bytes = 500;
    std::string line = printable(joined_lines(error.what()), kMaxErrorMessageBytes);
    if (!error.hint().empty()) line += " (" + printable(joined_lines(error.hint()), max_hint_bytes) + ")";
    return line;
}

void throw_errno(const std::string& what, std::string hint) {
    throw_errno(errno, what, std::move(hint));
}

void throw_errno(int error_number, const std::string& what, std::string hint) {
    throw Error(what + ": " + std::strerror(error_number), std::move(hint));
}

}  // namespace isolab
