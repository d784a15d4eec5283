#pragma once
// Helpers shared by the libFuzzer targets in this folder.
//
// A target feeds its input to one parser. The parser may reject the input with
// isolab::Error, which is what bad input must produce. Any other exception escapes the
// target and libFuzzer reports it as a crash, because the CLI would print it without the
// project's message and hint.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "runtime/core/error.hpp"

namespace isolab::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// Splits the input at each line that is exactly "----": the targets that read several
// documents (an OCI index, manifest and config) take one part each.
inline std::vector<std::string> split_parts(std::string_view text, std::size_t count) {
    std::vector<std::string> parts;
    constexpr std::string_view separator = "\n----\n";
    while (parts.size() + 1 < count) {
        auto at = text.find(separator);
        if (at == std::string_view::npos) break;
        parts.emplace_back(text.substr(0, at));
        text.remove_prefix(at + separator.size());
    }
    parts.emplace_back(text);
    parts.resize(count);
    return parts;
}

// A folder under TMPDIR for one input, removed with everything in it when the input is done.
class ScratchDir {
public:
    ScratchDir() {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base && *base ? base : "/tmp") + "/isolab-fuzz-XXXXXX";
        if (!mkdtemp(pattern.data())) std::abort();
        path_ = pattern;
    }
    ~ScratchDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

}  // namespace isolab::fuzz
