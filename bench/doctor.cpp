#include "bench/doctor.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <libvirt/libvirt.h>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "runtime/linux/cgroups.hpp"
#include "vmdriver/accel.hpp"
#include "vmdriver/libvirt/connection.hpp"

namespace isolab::bench {

namespace fs = std::filesystem;

namespace {

std::string first_line(const std::string& text) {
    return text.substr(0, text.find('\n'));
}

// Runs one check, turning an isolab::Error into a failed check with its hint.
DoctorCheck run_check(std::string area, std::string name, const std::function<DoctorCheck()>& check) {
    try {
        DoctorCheck result = check();
        result.area = std::move(area);
        result.name = std::move(name);
        return result;
    } catch (const Error& error) {
        return {std::move(area), std::move(name), false, error.what(), error.hint()};
    } catch (const std::exception& error) {
        return {std::move(area), std::move(name), false, error.what(), ""};
    }
}

DoctorCheck check_kernel() {
    utsname host{};
    uname(&host);
    return {{}, {}, true, fmt::format("Linux {} ({})", host.release, host.machine), ""};
}

DoctorCheck check_root() {
    if (geteuid() == 0) return {{}, {}, true, "running as root", ""};
    return {{}, {}, false, "not running as root", "run isolab as root: containers and VMs need it"};
}

DoctorCheck check_cgroups() {
    auto host = kernel::detect_cgroups();
    std::string controllers;
    if (host.version == kernel::CgroupVersion::v1) {
        for (const auto& [controller, mount] : host.v1_hierarchies) {
            controllers += (controllers.empty() ? "" : " ") + controller;
        }
    } else {
        for (const auto& controller : host.unified_controllers) {
            controllers += (controllers.empty() ? "" : " ") + controller;
        }
    }
    std::string mode = std::string(kernel::to_string(host.version));
    if (host.version == kernel::CgroupVersion::v1 && !host.unified_mount.empty()) mode += " (hybrid)";
    return {{}, {}, true, fmt::format("{}, controllers: {}", mode, controllers), ""};
}

DoctorCheck check_overlay() {
    std::string filesystems = read_file("/proc/filesystems");
    if (filesystems.find("\toverlay\n") != std::string::npos) return {{}, {}, true, "overlay filesystem available", ""};
    return {{}, {}, false, "overlay is not in /proc/filesystems", "load it: modprobe overlay"};
}

DoctorCheck check_namespaces() {
    std::vector<std::string> present;
    std::vector<std::string> missing;
    for (const char* name : {"pid", "mnt", "uts", "ipc", "net", "cgroup", "user"}) {
        if (fs::exists(fs::path("/proc/self/ns") / name)) {
            present.emplace_back(name);
        } else {
            missing.emplace_back(name);
        }
    }
    if (missing.empty()) return {{}, {}, true, fmt::format("{}", fmt::join(present, " ")), ""};
    return {{}, {}, false, fmt::format("missing: {}", fmt::join(missing, " ")),
            "use a kernel built with these namespaces"};
}

DoctorCheck check_busybox() {
    if (fs::exists("/bin/busybox")) return {{}, {}, true, "/bin/busybox (busybox-static) for the built-in image", ""};
    return {{}, {}, false, "/bin/busybox not found", "install it: apt-get install busybox-static"};
}

DoctorCheck check_qemu() {
    auto result = run_command({"qemu-system-x86_64", "--version"});
    return {{}, {}, result.exit_code == 0, first_line(result.output), "install it: apt-get install qemu-system-x86"};
}

DoctorCheck check_libvirtd(const std::string& uri) {
    vm::libvirt::Connection connection(vm::libvirt::resolve_uri(uri));
    unsigned long version = 0;
    virConnectGetLibVersion(connection.get(), &version);
    return {{}, {}, true,
            fmt::format("reachable at {} (libvirt {}.{}.{})", connection.uri(), version / 1000000,
                        (version / 1000) % 1000, version % 1000),
            ""};
}

DoctorCheck check_kvm(const Paths& paths) {
    std::string problem = vm::kvm_device_problem();
    if (!problem.empty()) return {{}, {}, false, problem, "VMs run under TCG (emulation), which is slower"};

    auto verdict = vm::read_cached_verdict(vm::accel_cache_file(paths), vm::current_host_key());
    if (!verdict) {
        return {{}, {}, true, "/dev/kvm creates VMs; not probed yet by a real boot",
                "the first `isolab vm run` boots a probe guest and records whether KVM works"};
    }
    return {{}, {}, verdict->used == "kvm", verdict->used + ": " + verdict->reason,
            "VMs run under TCG (emulation), which is slower"};
}

// libvirt's QEMU runs as libvirt-qemu, which Debian's udev rule lets open /dev/kvm through
// the kvm group (0660 root:kvm). Without that, libvirt 9.0 finds its cached QEMU
// capabilities (probed with KVM) invalid at every lookup and probes QEMU again: 48 s
// more for one VM start on a 2-CPU host.
DoctorCheck check_kvm_device_access() {
    struct stat device {};
    if (stat("/dev/kvm", &device) != 0) return {{}, {}, true, "no /dev/kvm: VMs use TCG", ""};
    if ((device.st_mode & (S_IRGRP | S_IWGRP)) == (S_IRGRP | S_IWGRP) && device.st_gid != 0) {
        return {{}, {}, true, fmt::format("/dev/kvm mode {:o}, group {}", device.st_mode & 0777, device.st_gid), ""};
    }
    return {{}, {}, false,
            fmt::format("/dev/kvm mode {:o} owner {}:{}: libvirt's QEMU user cannot open it, so libvirtd re-probes "
                        "QEMU on every VM start",
                        device.st_mode & 0777, device.st_uid, device.st_gid),
            "give it the group and mode Debian's udev sets: chgrp kvm /dev/kvm && chmod 0660 /dev/kvm "
            "(scripts/setup does this)"};
}

DoctorCheck check_guest_kernel(const Paths& paths) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(paths.kernels(), error)) {
        if (!entry.is_directory()) continue;
        auto release = entry.path().filename().string();
        if (fs::exists(entry.path() / "boot" / ("vmlinuz-" + release))) {
            bool has_vmlinux = fs::exists(entry.path() / "vmlinux");
            return {{}, {}, true,
                    fmt::format("{} in {}{}", release, entry.path().string(),
                                has_vmlinux ? " (PVH vmlinux extracted)" : ""),
                    ""};
        }
    }
    return {{}, {}, false, "no guest kernel in " + paths.kernels().string(),
            "fetch it: isolab vm kernel"};
}

}  // namespace

std::vector<DoctorCheck> run_doctor(const Paths& paths, const std::string& connect_uri) {
    std::vector<DoctorCheck> checks;
    checks.push_back(run_check("host", "kernel", check_kernel));
    checks.push_back(run_check("host", "user", check_root));
    checks.push_back(run_check("containers", "cgroups", check_cgroups));
    checks.push_back(run_check("containers", "overlayfs", check_overlay));
    checks.push_back(run_check("containers", "namespaces", check_namespaces));
    checks.push_back(run_check("containers", "busybox", check_busybox));
    checks.push_back(run_check("vms", "qemu", check_qemu));
    checks.push_back(run_check("vms", "libvirtd", [&] { return check_libvirtd(connect_uri); }));
    checks.push_back(run_check("vms", "kvm", [&] { return check_kvm(paths); }));
    checks.push_back(run_check("vms", "kvm access", check_kvm_device_access));
    for (auto& check : checks) check.required = check.name.rfind("kvm", 0) != 0;
    checks.push_back(run_check("vms", "guest kernel", [&] { return check_guest_kernel(paths); }));
    return checks;
}

std::string format_doctor(const std::vector<DoctorCheck>& checks) {
    std::string text;
    std::string area;
    for (const auto& check : checks) {
        if (check.area != area) {
            area = check.area;
            text += (text.empty() ? "" : "\n") + area + ":\n";
        }
        text += fmt::format("  {:<4} {:<13} {}\n", check.ok ? "ok" : check.required ? "FAIL" : "warn", check.name, check.detail);
        if (!check.ok && !check.hint.empty()) text += fmt::format("  {:<4} {:<13} {}\n", "", "", check.hint);
    }
    return text;
}

}  // namespace isolab::bench
