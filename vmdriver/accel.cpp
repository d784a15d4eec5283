#include "vmdriver/accel.hpp"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/core/process.hpp"

namespace isolab::vm {

namespace fs = std::filesystem;

namespace {

std::string read_cpu_model() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (!line.starts_with("model name")) continue;
        auto colon = line.find(':');
        if (colon == std::string::npos) break;
        auto value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        return value;
    }
    return "unknown";
}

// A verdict of "Permission denied" is stale once /dev/kvm is given to the QEMU user.
std::string read_kvm_device() {
    struct stat device {};
    if (stat("/dev/kvm", &device) != 0) return "missing";
    return fmt::format("{:o} {}:{}", device.st_mode & 07777, device.st_uid, device.st_gid);
}

nlohmann::json key_json(const HostKey& key) {
    return {{"kernel_release", key.kernel_release},
            {"cpu_model", key.cpu_model},
            {"qemu_version", key.qemu_version},
            {"kvm_device", key.kvm_device}};
}

nlohmann::json read_cache(const fs::path& file) {
    std::error_code ignored;
    if (!fs::exists(file, ignored)) return nlohmann::json::object();
    try {
        auto json = nlohmann::json::parse(read_file(file));
        if (json.is_object() && json.contains("hosts") && json["hosts"].is_array()) return json;
    } catch (const std::exception& error) {
        spdlog::warn("ignoring unreadable accelerator cache {}: {}", file.string(), error.what());
    }
    return nlohmann::json::object();
}

// A file descriptor closed by the destructor.
struct Descriptor {
    int fd = -1;
    ~Descriptor() {
        if (fd >= 0) close(fd);
    }
};

// The first executable `program` in PATH, as execvp would find it, or empty.
fs::path find_in_path(const std::string& program) {
    const char* search = std::getenv("PATH");
    std::string_view folders = search != nullptr ? search : "/usr/bin:/bin";
    while (true) {
        auto end = folders.find(':');
        fs::path candidate = fs::path(folders.substr(0, end)) / program;
        if (!candidate.parent_path().empty() && access(candidate.c_str(), X_OK) == 0) return candidate;
        if (end == std::string_view::npos) return {};
        folders.remove_prefix(end + 1);
    }
}

// Path, inode, size and modification time: a package upgrade changes at least one.
std::string binary_identity(const fs::path& binary) {
    struct stat status {};
    if (stat(binary.c_str(), &status) != 0) return {};
    return fmt::format("{} {} {} {}.{:09}", binary.string(), status.st_ino, status.st_size, status.st_mtim.tv_sec,
                       status.st_mtim.tv_nsec);
}

Accelerator effective_request(Accelerator requested) {
    if (requested != Accelerator::automatic) return requested;
    const char* environment = std::getenv("ISOLAB_ACCEL");
    if (environment == nullptr || *environment == '\0') return requested;
    spdlog::debug("ISOLAB_ACCEL={} sets the accelerator", environment);
    return parse_accelerator(environment);
}

AcceleratorVerdict verdict_for_kvm_only(const AcceleratorVerdict& verdict) {
    if (verdict.used == "kvm") return verdict;
    throw Error("--accel kvm: KVM cannot run guests on this host: " + verdict.reason,
                "use --accel tcg or --accel auto");
}

// Runs the probe once per host key; concurrent isolab processes wait for the first.
AcceleratorVerdict probe_and_cache(const Paths& paths, const HostKey& key, const KvmProbe& probe) {
    fs::create_directories(paths.cache);
    FileLock lock(paths.cache / "accel.lock");
    auto file = accel_cache_file(paths);
    if (auto cached = read_cached_verdict(file, key)) return *cached;

    spdlog::info("probing KVM: booting a test guest under KVM (deadline {} s)", kKvmProbeDeadline.count());
    std::string failure = probe();
    AcceleratorVerdict verdict;
    if (failure.empty()) {
        verdict = {"kvm", "a probe guest booted under KVM on this host"};
    } else {
        verdict = {"tcg", "KVM probe failed (" + failure + "); using TCG"};
    }
    write_cached_verdict(file, key, verdict);
    spdlog::info("accelerator verdict: {} ({})", verdict.used, verdict.reason);
    return verdict;
}

}  // namespace

HostKey current_host_key(std::string qemu_version) {
    struct utsname host {};
    uname(&host);
    return {host.release, read_cpu_model(), std::move(qemu_version), read_kvm_device()};
}

std::string qemu_binary_version() {
    auto qemu = run_command({"qemu-system-x86_64", "--version"});
    constexpr std::string_view marker = "version ";
    auto at = qemu.output.find(marker);
    if (qemu.exit_code != 0 || at == std::string::npos) return "unknown";
    auto start = at + marker.size();
    return qemu.output.substr(start, qemu.output.find_first_of(" \n", start) - start);
}

HostKey current_host_key() { return current_host_key(qemu_binary_version()); }

std::string cached_qemu_binary_version(const Paths& paths) {
    auto binary = find_in_path("qemu-system-x86_64");
    if (binary.empty()) return "unknown";
    std::string identity = binary_identity(binary);
    if (identity.empty()) return qemu_binary_version();
    auto file = paths.cache / "qemu-version.json";
    std::error_code ignored;
    if (fs::exists(file, ignored)) {
        try {
            auto cached = nlohmann::json::parse(read_file(file));
            if (cached.value("binary", "") == identity) return cached.value("version", "unknown");
        } catch (const std::exception& error) {
            spdlog::debug("ignoring unreadable {}: {}", file.string(), error.what());
        }
    }
    std::string version = qemu_binary_version();
    if (version == "unknown") return version;
    try {
        fs::create_directories(paths.cache);
        write_file_atomic(file, nlohmann::json{{"binary", identity}, {"version", version}}.dump(2) + "\n");
    } catch (const std::exception& error) {
        spdlog::debug("cannot remember the QEMU version in {}: {}", file.string(), error.what());
    }
    return version;
}

HostKey current_host_key(const Paths& paths) { return current_host_key(cached_qemu_binary_version(paths)); }

fs::path accel_cache_file(const Paths& paths) { return paths.cache / "accel.json"; }

std::optional<AcceleratorVerdict> read_cached_verdict(const fs::path& file, const HostKey& key) {
    auto cache = read_cache(file);
    if (!cache.contains("hosts")) return std::nullopt;
    auto wanted = key_json(key);
    for (const auto& entry : cache["hosts"]) {
        if (!entry.is_object() || entry.value("key", nlohmann::json()) != wanted) continue;
        auto used = entry.value("used", "");
        if (used != "kvm" && used != "tcg") continue;
        return AcceleratorVerdict{used, entry.value("reason", "") + " (cached in " + file.string() + ")"};
    }
    return std::nullopt;
}

void write_cached_verdict(const fs::path& file, const HostKey& key, const AcceleratorVerdict& verdict) {
    auto cache = read_cache(file);
    auto wanted = key_json(key);
    auto hosts = nlohmann::json::array();
    if (cache.contains("hosts")) {
        for (const auto& entry : cache["hosts"]) {
            if (entry.value("key", nlohmann::json()) != wanted) hosts.push_back(entry);
        }
    }
    hosts.push_back({{"key", wanted}, {"used", verdict.used}, {"reason", verdict.reason}});
    write_file_atomic(file, nlohmann::json{{"hosts", hosts}}.dump(2) + "\n");
}

std::string kvm_device_problem() {
    Descriptor device{open("/dev/kvm", O_RDWR | O_CLOEXEC)};
    if (device.fd < 0) return fmt::format("cannot open /dev/kvm: {}", std::strerror(errno));

    int version = ioctl(device.fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION) return fmt::format("/dev/kvm reports API version {}, expected {}", version, KVM_API_VERSION);

    Descriptor vm{ioctl(device.fd, KVM_CREATE_VM, 0)};
    if (vm.fd < 0) return fmt::format("KVM_CREATE_VM on /dev/kvm failed: {}", std::strerror(errno));
    return {};
}

AcceleratorVerdict choose_accelerator(Accelerator requested, const Paths& paths, const HostKey& key,
                                      const KvmProbe& probe) {
    Accelerator request = effective_request(requested);
    if (request == Accelerator::tcg) return {"tcg", "requested (--accel tcg)"};
    // A cached TCG verdict stands whatever /dev/kvm does now, so `auto` skips the device
    // check (an open and a KVM_CREATE_VM, about 10 ms on a nested host).
    if (request == Accelerator::automatic) {
        auto cached = read_cached_verdict(accel_cache_file(paths), key);
        if (cached && cached->used == "tcg") return *cached;
    }

    std::string problem = kvm_device_problem();
    if (!problem.empty()) {
        AcceleratorVerdict verdict{"tcg", problem + "; using TCG"};
        if (request == Accelerator::kvm) return verdict_for_kvm_only({"tcg", problem});
        return verdict;
    }

    AcceleratorVerdict verdict = probe_and_cache(paths, key, probe);
    if (request == Accelerator::kvm) return verdict_for_kvm_only(verdict);
    return verdict;
}

}  // namespace isolab::vm
