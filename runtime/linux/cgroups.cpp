#include "runtime/linux/cgroups.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"

namespace isolab::kernel {

namespace fs = std::filesystem;

std::string_view to_string(CgroupVersion version) { return version == CgroupVersion::v1 ? "v1" : "v2"; }

fs::path CgroupHost::on_host(const fs::path& mount_point) const {
    return host_root / mount_point.relative_path();
}

namespace {

std::vector<std::string> split(std::string_view text, char separator) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find(separator, start);
        if (end == std::string_view::npos) end = text.size();
        parts.emplace_back(text.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}


// Super options that are not controller names.
bool is_controller_option(const std::string& option) {
    static const std::set<std::string> others{"rw", "ro", "clone_children", "noprefix", "xattr",
                                              "cpuset_v2_mode", "favordynmods", "nsdelegate"};
    return !option.empty() && !others.contains(option) && option.rfind("name=", 0) != 0 &&
           option.rfind("release_agent=", 0) != 0;
}

std::vector<std::string> read_unified_controllers(const fs::path& mount_point) {
    std::error_code error;
    if (!fs::exists(mount_point / "cgroup.controllers", error)) return {};
    std::vector<std::string> controllers;
    std::istringstream words(read_file(mount_point / "cgroup.controllers"));
    std::string word;
    while (words >> word) controllers.push_back(word);
    return controllers;
}

}  // namespace

std::string unescape_mount_path(std::string_view text) {
    std::string path;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 3 < text.size()) {
            int value = 0;
            auto [end, error] = std::from_chars(text.data() + i + 1, text.data() + i + 4, value, 8);
            if (error == std::errc() && end == text.data() + i + 4) {
                path += static_cast<char>(value);
                i += 3;
                continue;
            }
        }
        path += text[i];
    }
    return path;
}

std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo) {
    std::vector<CgroupMount> mounts;
    for (const auto& line : split(mountinfo, '\n')) {
        // "<id> <parent> <major:minor> <root> <mount point> <options> [optional...] - <fs> <source> <super options>"
        auto separator = line.find(" - ");
        if (separator == std::string::npos) continue;
        auto before = split(std::string_view(line).substr(0, separator), ' ');
        auto after = split(std::string_view(line).substr(separator + 3), ' ');
        if (before.size() < 5 || after.size() < 3) continue;
        if (after[0] != "cgroup" && after[0] != "cgroup2") continue;

        CgroupMount mount;
        mount.mount_point = unescape_mount_path(before[4]);
        mount.filesystem = after[0];
        if (mount.filesystem == "cgroup") {
            for (auto& option : split(after[2], ',')) {
                if (is_controller_option(option)) mount.controllers.push_back(option);
            }
        }
        mounts.push_back(std::move(mount));
    }
    return mounts;
}

std::map<std::string, std::string> parse_self_cgroup(std::string_view text) {
    std::map<std::string, std::string> paths;
    for (const auto& line : split(text, '\n')) {
        // "<hierarchy id>:<controllers, comma separated>:<path>"
        auto first = line.find(':');
        auto second = first == std::string::npos ? std::string::npos : line.find(':', first + 1);
        if (second == std::string::npos) continue;
        auto controllers = line.substr(first + 1, second - first - 1);
        auto path = line.substr(second + 1);
        if (controllers.empty()) {
            paths[""] = path;
            continue;
        }
        for (auto& controller : split(controllers, ',')) paths[controller] = path;
    }
    return paths;
}

CgroupHost detect_cgroups(const fs::path& host_root) {
    CgroupHost host;
    host.host_root = host_root;
    auto mounts = parse_cgroup_mounts(read_file(host_root / "proc/self/mountinfo"));
    host.self_paths = parse_self_cgroup(read_file(host_root / "proc/self/cgroup"));

    for (const auto& mount : mounts) {
        if (mount.filesystem == "cgroup2") {
            host.unified_mount = mount.mount_point;
            host.unified_controllers = read_unified_controllers(host.on_host(mount.mount_point));
            continue;
        }
        for (const auto& controller : mount.controllers) host.v1_hierarchies.emplace(controller, mount.mount_point);
    }

    if (host.v1_hierarchies.contains("memory")) {
        host.version = CgroupVersion::v1;
    } else if (!host.unified_mount.empty() && !host.unified_controllers.empty()) {
        host.version = CgroupVersion::v2;
    } else if (!host.v1_hierarchies.empty()) {
        host.version = CgroupVersion::v1;
    } else {
        throw Error("no usable cgroup hierarchy: neither cgroup v1 controllers nor a cgroup2 mount with controllers "
                    "is listed in " + (host_root / "proc/self/mountinfo").string(),
                    "mount cgroup2 on /sys/fs/cgroup or the v1 controllers below it");
    }
    spdlog::debug("cgroups: host uses {} (unified mount '{}', {} v1 controllers)", to_string(host.version),
                  host.unified_mount.string(), host.v1_hierarchies.size());
    return host;
}

const std::vector<std::string>& v1_container_controllers() {
    static const std::vector<std::string> controllers{"memory", "pids", "cpu", "cpuacct", "blkio", "freezer", "devices"};
    return controllers;
}

std::vector<fs::path> cgroup_directories(const CgroupHost& host, const std::string& name) {
    if (host.version == CgroupVersion::v2) return {host.on_host(host.unified_mount) / name};

    // Several controllers may share one hierarchy (cpu,cpuacct): one folder each hierarchy.
    std::vector<fs::path> directories;
    for (const auto& controller : v1_container_controllers()) {
        auto hierarchy = host.v1_hierarchies.find(controller);
        if (hierarchy == host.v1_hierarchies.end()) continue;
        auto directory = host.on_host(hierarchy->second) / name;
        if (std::find(directories.begin(), directories.end(), directory) == directories.end()) {
            directories.push_back(directory);
        }
    }
    return directories;
}

std::optional<std::uint64_t> read_cgroup_number(const fs::path& file) {
    std::ifstream stream(file);
    std::string word;
    if (!stream || !(stream >> word) || word == "max") return std::nullopt;
    std::uint64_t value = 0;
    auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value);
    if (error != std::errc()) return std::nullopt;
    return value;
}

void write_cgroup_file(const fs::path& file, const std::string& value) {
    spdlog::debug("cgroup: write {} to {}", value, file.string());
    std::ofstream stream(file, std::ios::out | std::ios::trunc);
    if (!stream) throw_errno("cannot open " + file.string());
    stream << value;
    stream.flush();
    if (!stream) throw_errno("cannot write '" + value + "' to " + file.string());
}

std::uint64_t cpu_shares_to_weight(std::uint64_t shares) {
    shares = std::clamp<std::uint64_t>(shares, 2, 262144);
    return 1 + ((shares - 2) * 9999) / 262142;
}

Cgroup::Cgroup(std::vector<fs::path> directories) : directories_(std::move(directories)) {}

void Cgroup::create_directories() {
    for (size_t created = 0; created < directories_.size(); ++created) {
        const auto& directory = directories_[created];
        if (mkdir(directory.c_str(), 0755) != 0) {
            int saved = errno;
            // Removes only the directories made here. One that already existed (EEXIST) may
            // be another container's, and removing it would kill that container's processes.
            remove_cgroup_directories({directories_.begin(), directories_.begin() + static_cast<std::ptrdiff_t>(created)});
            removed_ = true;
            throw_errno(saved, "cannot create cgroup " + directory.string(),
                        saved == EEXIST ? "remove the leftover with 'isolab system prune'" : "");
        }
        spdlog::debug("cgroup: created {}", directory.string());
    }
}

void Cgroup::add_process(pid_t pid) {
    for (const auto& directory : directories_) write_cgroup_file(directory / "cgroup.procs", std::to_string(pid));
}

namespace {

void kill_cgroup_members(const fs::path& directory) {
    std::ifstream procs(directory / "cgroup.procs");
    pid_t pid = 0;
    while (procs >> pid) {
        if (pid > 0) kill(pid, SIGKILL);
    }
}

}  // namespace

void remove_cgroup_directories(const std::vector<fs::path>& directories) {
    // Processes of a finished PID namespace may still be exiting: rmdir fails with EBUSY
    // until the kernel has released them.
    for (auto it = directories.rbegin(); it != directories.rend(); ++it) {
        std::error_code error;
        if (!fs::exists(*it, error)) continue;
        bool removed = false;
        for (int attempt = 0; attempt < 200 && !removed; ++attempt) {
            if (rmdir(it->c_str()) == 0 || errno == ENOENT) {
                removed = true;
                break;
            }
            if (errno != EBUSY) break;
            kill_cgroup_members(*it);
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        if (removed) {
            spdlog::debug("cgroup: removed {}", it->string());
        } else {
            spdlog::warn("cannot remove cgroup {}: {}", it->string(), std::strerror(errno));
        }
    }
}

void Cgroup::remove() {
    if (removed_) return;
    removed_ = true;
    remove_cgroup_directories(directories_);
}

namespace {

// Reads "<key> <number>" lines (memory.events, memory.oom_control); 0 when the key is absent.
std::uint64_t read_keyed_number(const fs::path& file, const std::string& wanted) {
    std::ifstream stream(file);
    std::string key;
    std::uint64_t value = 0;
    while (stream >> key >> value) {
        if (key == wanted) return value;
    }
    return 0;
}

class CgroupV1 final : public Cgroup {
public:
    explicit CgroupV1(std::vector<fs::path> directories) : Cgroup(std::move(directories)) { create_directories(); }
    ~CgroupV1() override { remove(); }

    CgroupVersion version() const override { return CgroupVersion::v1; }

    void apply(const CgroupLimits& limits) override {
        auto memory = directory_with("memory.limit_in_bytes");
        if (limits.memory && memory) {
            write_cgroup_file(*memory / "memory.limit_in_bytes", std::to_string(*limits.memory));
            // Without swap accounting (memsw) the limit covers RAM only.
            if (fs::exists(*memory / "memory.memsw.limit_in_bytes")) {
                std::string total = limits.unlimited_swap ? "-1" : std::to_string(limits.memory_swap.value_or(*limits.memory));
                write_cgroup_file(*memory / "memory.memsw.limit_in_bytes", total);
            }
        }
        if (limits.memory && !memory) throw Error("cannot limit memory: the memory cgroup controller is not mounted");

        auto pids = directory_with("pids.max");
        if (limits.pids && pids) write_cgroup_file(*pids / "pids.max", *limits.pids > 0 ? std::to_string(*limits.pids) : "max");

        auto cpu = directory_with("cpu.shares");
        if (limits.cpu_shares && cpu) write_cgroup_file(*cpu / "cpu.shares", std::to_string(*limits.cpu_shares));
        if (limits.cpus && cpu) {
            constexpr std::uint64_t period = 100000;
            auto quota = static_cast<std::uint64_t>(std::llround(*limits.cpus * period));
            write_cgroup_file(*cpu / "cpu.cfs_period_us", std::to_string(period));
            write_cgroup_file(*cpu / "cpu.cfs_quota_us", std::to_string(quota));
        }

        if (limits.devices) {
            auto devices = directory_with("devices.allow");
            if (!devices) throw Error("cannot restrict device access: the devices cgroup controller is not mounted");
            for (const auto& [file, value] : v1_device_writes(*limits.devices)) write_cgroup_file(*devices / file, value);
        }
    }

    std::uint64_t memory_peak() override {
        auto memory = directory_with("memory.max_usage_in_bytes");
        if (!memory) return 0;
        return read_cgroup_number(*memory / "memory.max_usage_in_bytes").value_or(0);
    }

    std::uint64_t oom_kills() override {
        auto memory = directory_with("memory.oom_control");
        return memory ? read_keyed_number(*memory / "memory.oom_control", "oom_kill") : 0;
    }

private:
    std::optional<fs::path> directory_with(const std::string& file) const {
        for (const auto& directory : directories_) {
            std::error_code error;
            if (fs::exists(directory / file, error)) return directory;
        }
        return std::nullopt;
    }
};

class CgroupV2 final : public Cgroup {
public:
    CgroupV2(fs::path parent, fs::path directory) : Cgroup({std::move(directory)}), parent_(std::move(parent)) {
        enable_controllers();
        create_directories();
    }
    ~CgroupV2() override { remove(); }

    CgroupVersion version() const override { return CgroupVersion::v2; }

    void apply(const CgroupLimits& limits) override {
        const auto& directory = directories_.front();
        if (limits.memory) {
            write_cgroup_file(directory / "memory.max", std::to_string(*limits.memory));
            if (fs::exists(directory / "memory.swap.max")) {
                // memory.swap.max counts swap alone, --memory-swap counts memory plus swap.
                std::string swap = "0";
                if (limits.unlimited_swap) swap = "max";
                else if (limits.memory_swap) swap = std::to_string(*limits.memory_swap - std::min(*limits.memory_swap, *limits.memory));
                write_cgroup_file(directory / "memory.swap.max", swap);
            }
        }
        if (limits.pids) write_cgroup_file(directory / "pids.max", *limits.pids > 0 ? std::to_string(*limits.pids) : "max");
        if (limits.cpu_shares) write_cgroup_file(directory / "cpu.weight", std::to_string(cpu_shares_to_weight(*limits.cpu_shares)));
        if (limits.cpus) {
            constexpr std::uint64_t period = 100000;
            auto quota = static_cast<std::uint64_t>(std::llround(*limits.cpus * period));
            write_cgroup_file(directory / "cpu.max", std::to_string(quota) + " " + std::to_string(period));
        }
        if (limits.devices) attach_device_filter(directory, device_filter_program(*limits.devices));
    }

    bool needs_sampling() const override { return !fs::exists(directories_.front() / "memory.peak"); }

    void sample_memory() override {
        auto current = read_cgroup_number(directories_.front() / "memory.current");
        if (current) sampled_peak_ = std::max(sampled_peak_, *current);
    }

    std::uint64_t memory_peak() override {
        auto peak = read_cgroup_number(directories_.front() / "memory.peak");
        if (peak) return *peak;
        sample_memory();
        return sampled_peak_;
    }

    std::uint64_t oom_kills() override {
        return read_keyed_number(directories_.front() / "memory.events", "oom_kill");
    }

private:
    // A v2 cgroup can only use the controllers its parent lists in cgroup.subtree_control.
    void enable_controllers() {
        auto available = read_file_or_empty(parent_ / "cgroup.controllers");
        auto enabled = read_file_or_empty(parent_ / "cgroup.subtree_control");
        for (const char* controller : {"memory", "pids", "cpu"}) {
            if (!contains_word(available, controller) || contains_word(enabled, controller)) continue;
            try {
                write_cgroup_file(parent_ / "cgroup.subtree_control", std::string("+") + controller);
            } catch (const Error& error) {
                spdlog::warn("cannot enable the {} controller in {}: {}", controller, parent_.string(), error.what());
            }
        }
    }

    static std::string read_file_or_empty(const fs::path& path) {
        std::error_code error;
        return fs::exists(path, error) ? read_file(path) : std::string();
    }

    static bool contains_word(const std::string& text, const std::string& word) {
        std::istringstream words(text);
        std::string candidate;
        while (words >> candidate) {
            if (candidate == word) return true;
        }
        return false;
    }

    fs::path parent_;
    std::uint64_t sampled_peak_ = 0;
};

}  // namespace

std::unique_ptr<Cgroup> create_cgroup(const CgroupHost& host, const std::string& name) {
    auto directories = cgroup_directories(host, name);
    if (directories.empty()) throw Error("no cgroup hierarchy to create " + name + " in");
    if (host.version == CgroupVersion::v2) {
        return std::make_unique<CgroupV2>(directories.front().parent_path(), directories.front());
    }
    return std::make_unique<CgroupV1>(std::move(directories));
}

std::vector<fs::path> cgroup_mount_points(const CgroupHost& host) {
    std::set<fs::path> mount_points;
    if (!host.unified_mount.empty()) mount_points.insert(host.on_host(host.unified_mount));
    for (const auto& [controller, mount_point] : host.v1_hierarchies) mount_points.insert(host.on_host(mount_point));
    try {
        for (const auto& mount : parse_cgroup_mounts(read_file(host.host_root / "proc/self/mountinfo"))) {
            mount_points.insert(host.on_host(mount.mount_point));
        }
    } catch (const Error& error) {
        spdlog::debug("cgroup mounts not read: {}", error.what());
    }
    return {mount_points.begin(), mount_points.end()};
}

std::vector<fs::path> find_isolab_cgroups(const CgroupHost& host) {
    auto parents = cgroup_mount_points(host);

    std::vector<fs::path> found;
    for (const auto& parent : parents) {
        std::error_code error;
        for (const auto& entry : fs::directory_iterator(parent, error)) {
            if (entry.is_directory() && entry.path().filename().string().rfind("isolab-", 0) == 0) {
                found.push_back(entry.path());
            }
        }
    }
    return found;
}

}  // namespace isolab::kernel
