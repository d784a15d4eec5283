#include "bench/smaps.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

#include "runtime/core/error.hpp"

namespace isolab::bench {

namespace {

std::string_view trim(std::string_view text) {
    auto first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    auto last = text.find_last_not_of(" \t\r");
    return text.substr(first, last - first + 1);
}

std::uint64_t field_or_zero(const std::map<std::string, std::uint64_t>& fields, const std::string& name) {
    auto found = fields.find(name);
    return found == fields.end() ? 0 : found->second;
}

}  // namespace

bool parse_kilobyte_line(std::string_view line, std::string& name, std::uint64_t& bytes) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return false;

    auto value = trim(line.substr(colon + 1));
    if (value.size() < 3 || value.substr(value.size() - 2) != "kB") return false;
    auto number = trim(value.substr(0, value.size() - 2));

    std::uint64_t kilobytes = 0;
    auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), kilobytes);
    if (error != std::errc{} || end != number.data() + number.size()) return false;

    name = std::string(trim(line.substr(0, colon)));
    bytes = kilobytes * 1024;
    return true;
}

SmapsRollup parse_smaps_rollup(std::string_view text) {
    SmapsRollup rollup;
    std::istringstream lines{std::string(text)};
    std::string line;
    while (std::getline(lines, line)) {
        std::string name;
        std::uint64_t bytes = 0;
        if (parse_kilobyte_line(line, name, bytes)) rollup.fields[name] = bytes;
    }

    if (!rollup.fields.contains("Pss")) throw Error("smaps_rollup has no Pss line");
    rollup.rss_bytes = field_or_zero(rollup.fields, "Rss");
    rollup.pss_bytes = field_or_zero(rollup.fields, "Pss");
    rollup.pss_anon_bytes = field_or_zero(rollup.fields, "Pss_Anon");
    rollup.pss_file_bytes = field_or_zero(rollup.fields, "Pss_File");
    rollup.swap_bytes = field_or_zero(rollup.fields, "Swap");
    return rollup;
}

std::optional<SmapsRollup> read_smaps_rollup(pid_t pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/smaps_rollup");
    if (!file) return std::nullopt;
    std::stringstream content;
    content << file.rdbuf();
    if (content.str().empty()) return std::nullopt;
    try {
        return parse_smaps_rollup(content.str());
    } catch (const Error&) {
        return std::nullopt;
    }
}

}  // namespace isolab::bench
