#include "bench/cgroup_memory.hpp"

#include <charconv>
#include <sstream>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"

namespace isolab::bench {

namespace fs = std::filesystem;

namespace {

std::uint64_t parse_number(std::string_view text, const std::string& what) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
    std::uint64_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size()) {
        throw Error("invalid number in " + what + ": '" + std::string(text) + "'");
    }
    return value;
}

std::uint64_t read_number(const fs::path& file) {
    return parse_number(read_file(file), file.string());
}

}  // namespace

std::map<std::string, std::uint64_t> parse_memory_stat(std::string_view text) {
    std::map<std::string, std::uint64_t> stat;
    std::istringstream lines{std::string(text)};
    std::string line;
    while (std::getline(lines, line)) {
        if (line.empty()) continue;
        auto space = line.find(' ');
        if (space == std::string::npos) throw Error("invalid memory.stat line: '" + line + "'");
        stat[line.substr(0, space)] = parse_number(std::string_view(line).substr(space + 1), "memory.stat");
    }
    return stat;
}

std::uint64_t inactive_file_bytes(const std::map<std::string, std::uint64_t>& stat, CgroupVersion version) {
    const char* name = version == CgroupVersion::v1 ? "total_inactive_file" : "inactive_file";
    auto found = stat.find(name);
    if (found == stat.end()) throw Error(std::string("memory.stat has no ") + name + " field");
    return found->second;
}

std::uint64_t working_set_bytes(std::uint64_t usage_bytes, std::uint64_t inactive_file) {
    return usage_bytes > inactive_file ? usage_bytes - inactive_file : 0;
}

CgroupMemory read_cgroup_memory(const fs::path& folder, CgroupVersion version) {
    CgroupMemory memory;
    bool v1 = version == CgroupVersion::v1;
    memory.usage_bytes = read_number(folder / (v1 ? "memory.usage_in_bytes" : "memory.current"));

    auto peak_file = folder / (v1 ? "memory.max_usage_in_bytes" : "memory.peak");
    if (fs::exists(peak_file)) memory.peak_bytes = read_number(peak_file);

    auto stat = parse_memory_stat(read_file(folder / "memory.stat"));
    memory.working_set_bytes = working_set_bytes(memory.usage_bytes, inactive_file_bytes(stat, version));
    return memory;
}

CgroupVersion detect_cgroup_version(const fs::path& mount_point) {
    return fs::exists(mount_point / "cgroup.controllers") ? CgroupVersion::v2 : CgroupVersion::v1;
}

std::string to_string(CgroupVersion version) { return version == CgroupVersion::v1 ? "v1" : "v2"; }

}  // namespace isolab::bench
