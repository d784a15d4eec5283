#pragma once
// Checks and edits of text that several parsers and name checks share.
#include <algorithm>
#include <string_view>

namespace isolab {

// Returns true when `name` follows Docker's rule for container, volume and network names,
// [a-zA-Z0-9][a-zA-Z0-9_.-]*, in ASCII. A character test, not std::regex: libstdc++'s
// matcher recurses once per character and overflows the stack on a long name.
inline bool is_object_name(std::string_view name) {
    auto alphanumeric = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
    auto allowed = [&](char c) { return alphanumeric(c) || c == '_' || c == '.' || c == '-'; };
    return !name.empty() && alphanumeric(name.front()) && std::all_of(name.begin(), name.end(), allowed);
}

// Returns `text` without a leading UTF-8 byte order mark. Editors on Windows may write
// one, and Docker drops it from a Dockerfile and from a .dockerignore file.
inline std::string_view without_utf8_bom(std::string_view text) {
    constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";
    if (text.starts_with(utf8_bom)) text.remove_prefix(utf8_bom.size());
    return text;
}

}  // namespace isolab
