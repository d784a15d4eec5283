#include "bench/host_info.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <libvirt/libvirt.h>

#include "bench/cgroup_memory.hpp"
#include "bench/smaps.hpp"
#include "runtime/core/process.hpp"

namespace isolab::bench {

namespace {

// The value of the first "key<sep>value" line of a file, trimmed of spaces and quotes.
std::string file_field(const std::string& path, const std::string& key, char separator) {
    std::ifstream file(path);
    std::string line;
    while (std::getline(file, line)) {
        auto at = line.find(separator);
        if (at == std::string::npos) continue;
        auto name = line.substr(0, at);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
        if (name != key) continue;

        auto value = line.substr(at + 1);
        auto first = value.find_first_not_of(" \t\"");
        auto last = value.find_last_not_of(" \t\"");
        return first == std::string::npos ? "" : value.substr(first, last - first + 1);
    }
    return {};
}

std::uint64_t memory_total_bytes() {
    std::ifstream file("/proc/meminfo");
    std::string line;
    while (std::getline(file, line)) {
        std::string name;
        std::uint64_t bytes = 0;
        if (parse_kilobyte_line(line, name, bytes) && name == "MemTotal") return bytes;
    }
    return 0;
}

std::string kernel_release() {
    utsname names{};
    if (uname(&names) != 0) return {};
    return names.release;
}

std::string libvirt_version() {
    unsigned long version = 0;
    if (virGetVersion(&version, nullptr, nullptr) != 0) return {};
    return std::to_string(version / 1000000) + "." + std::to_string(version / 1000 % 1000) + "." +
           std::to_string(version % 1000);
}

}  // namespace

std::string program_version(const std::string& program) {
    if (!program_available(program)) return {};
    try {
        auto result = run_command({program, "--version"}, {.timeout = std::chrono::seconds(10)});
        auto line = result.output.substr(0, result.output.find('\n'));
        return result.exit_code == 0 ? line : "";
    } catch (const std::exception&) {
        return {};
    }
}

HostInfo collect_host_info() {
    HostInfo host;
    host.cpu_model = file_field("/proc/cpuinfo", "model name", ':');
    host.cpu_count = static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN));
    host.memory_total_bytes = memory_total_bytes();
    host.kernel = kernel_release();
    host.os = file_field("/etc/os-release", "PRETTY_NAME", '=');
    host.cgroup_version = to_string(detect_cgroup_version());
    host.qemu_version = program_version("qemu-system-x86_64");
    host.libvirt_version = libvirt_version();
    host.isolab_version = ISOLAB_VERSION;
    for (const std::string tool : {"crun", "runc", "podman"}) {
        auto version = program_version(tool);
        if (!version.empty()) host.tool_versions[tool] = version;
    }
    return host;
}

}  // namespace isolab::bench
