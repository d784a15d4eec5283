#include "vmdriver/vm.hpp"

#include <libvirt/libvirt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "runtime/core/error.hpp"
#include "runtime/core/fault.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/interrupt.hpp"
#include "runtime/core/log.hpp"
#include "vmdriver/accel.hpp"
#include "vmdriver/guest/disk.hpp"
#include "vmdriver/guest/initramfs.hpp"
#include "vmdriver/libvirt/connection.hpp"
#include "vmdriver/libvirt/domain.hpp"
#include "vmdriver/libvirt/domain_xml.hpp"
#include "vmdriver/libvirt/running.hpp"
#include "vmdriver/network/holder.hpp"
#include "vmdriver/network/vm_network.hpp"
#include "vmdriver/record.hpp"
#include "vmdriver/shared_folders.hpp"
#include "runtime/container/status.hpp"
#include "runtime/network/attachment.hpp"

namespace isolab::vm {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kMib = 1ULL << 20;
constexpr const char* kPssDefinition =
    "max of the Pss line of /proc/<QEMU pid>/smaps_rollup, sampled every 500 ms from workload start and at the "
    "exit line";

// Files one guest boots from, removed with the per-VM folder.
struct GuestFiles {
    guest::GuestKernel kernel;
    std::unique_ptr<TemporaryDirectory> temporary;  // foreground runs: <state root>/vms/<domain name>-<random>
    fs::path folder;                                // the VM's folder: `temporary`, or vms/<name> for -d
    std::unique_ptr<guest::DiskOverlay> overlay;    // disk form only, inside `folder`
    std::uint64_t disk_base_bytes = 0;              // disk form only: the image's cached qcow2 base, allocated
    fs::path initramfs;
    std::uint64_t initramfs_bytes = 0;
    std::string cmdline;
};

// The devices of a guest besides its root: the NIC and the shared folders.
struct GuestDevices {
    GuestInterface interface;  // address empty: no NIC (--network none)
    SharedFolders folders;
};

// The user and group libvirt runs QEMU as, from the DAC model's base label in the
// capabilities XML (for example <baselabel type='kvm'>+64055:+64055</baselabel>).
struct QemuIds {
    uid_t uid = 0;
    gid_t gid = 0;
};

// libvirt's QEMU runs as an unprivileged user (libvirt-qemu on Debian) and opens the kernel
// and initramfs itself, so every folder above them must be searchable by that user.
// `setting` names what chose the file's place, for the hint: "a state root (ISOLAB_ROOT)".
void check_qemu_can_reach(const fs::path& file, const QemuIds& qemu,
                          std::string_view setting = "a state root (ISOLAB_ROOT)") {
    for (fs::path folder = file.parent_path(); !folder.empty(); folder = folder.parent_path()) {
        struct stat status {};
        if (stat(folder.c_str(), &status) == 0 && !grants(status, qemu.uid, qemu.gid, 1)) {
            throw Error(fmt::format("libvirt's QEMU process (uid {}) cannot reach {}: folder {} is not searchable by "
                                    "it (mode {:04o}, owner {}:{})",
                                    qemu.uid, file.string(), folder.string(), status.st_mode & 07777, status.st_uid,
                                    status.st_gid),
                        fmt::format("run chmod o+x '{}' or use {} under a folder others may enter", folder.string(),
                                    setting));
        }
        if (folder == folder.root_path()) break;
    }
}

fs::path make_vm_parent(const Paths& paths) {
    fs::create_directories(paths.vms());
    fs::permissions(paths.vms(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                     fs::perms::others_read | fs::perms::others_exec);
    return paths.vms();
}

image::Image resolve_image(image::Store& store, const std::string& reference) {
    if (image::normalize_reference(reference) == "busybox:latest" && !store.find(reference)) {
        return store.ensure_busybox();
    }
    try {
        return store.resolve(reference);
    } catch (const Error& error) {
        // `vm run` exits 125 for a missing image, as `run` does, while image commands exit 1.
        throw Error(error.what(), error.hint());
    }
}

// Adds "NAME=value" entries to the image's environment, replacing entries of the same name.
void apply_environment(std::vector<std::string>& env, const std::vector<std::string>& extra) {
    for (const auto& entry : extra) {
        auto equals = entry.find('=');
        if (equals == std::string::npos || equals == 0) {
            throw Error("invalid environment entry '" + entry + "'", "write it as NAME=value");
        }
        std::string prefix = entry.substr(0, equals + 1);
        std::erase_if(env, [&](const std::string& existing) { return existing.starts_with(prefix); });
        env.push_back(entry);
    }
}

// Adds the per-VM qcow2 overlay on the image's cached base and the module initramfs that
// mounts it. The overlay is the only file QEMU writes, and with relabelling off (see
// domain_xml.cpp) isolab hands it to the QEMU user itself.
void prepare_disk(GuestFiles& files, const Paths& paths, const image::Image& image,
                  const std::vector<fs::path>& lowerdirs, const guest::Workload& workload, const QemuIds& qemu) {
    auto base = guest::ensure_disk_base(paths, image.config_digest, lowerdirs);
    files.overlay = std::make_unique<guest::DiskOverlay>(base.path, files.folder / "disk.qcow2");
    files.disk_base_bytes = base.bytes;
    if (chown(files.overlay->path().c_str(), qemu.uid, qemu.gid) != 0) {
        throw_errno("cannot hand the disk overlay " + files.overlay->path().string() + " to the QEMU user");
    }
    spdlog::debug("disk overlay {} on base {} owned by {}:{}", files.overlay->path().string(), base.path.string(),
                  qemu.uid, qemu.gid);
    files.initramfs_bytes = guest::write_disk_initramfs(files.kernel, workload, "/dev/vda", files.initramfs);
    check_qemu_can_reach(base.path, qemu, "a cache (ISOLAB_CACHE)");
}

// Marks the phases image and initramfs in `phases` when it is given.
GuestFiles prepare_guest(image::Store& store, const std::string& reference, const std::vector<std::string>& command,
                         const std::vector<std::string>& env, const fs::path& folder, guest::RootForm form, bool tcg,
                         bool power_button, const QemuIds& qemu, const GuestDevices& devices = {},
                         PhaseRecorder* phases = nullptr) {
    const Paths& paths = store.paths();
    GuestFiles files;
    files.kernel = guest::ensure_kernel(paths);

    image::Image image = resolve_image(store, reference);
    auto lowerdirs = store.lowerdirs(image);
    guest::Workload workload = guest::workload_for_image(image, command, lowerdirs);
    apply_environment(workload.env, env);
    // Only recorded VMs (detached ones and those of `vm run`) get `vm stop`, which presses
    // the power button; the modules would only lengthen every other boot (benchmarks). The NIC and 9p modules likewise only when used.
    std::vector<std::string> modules;
    if (power_button) modules = guest::power_button_module_names();
    if (!devices.interface.address.empty()) {
        for (auto& name : guest::network_module_names()) modules.push_back(std::move(name));
    }
    if (!devices.folders.mounts.empty()) {
        for (auto& name : guest::shared_folder_module_names()) modules.push_back(std::move(name));
    }
    workload.early_modules = guest::early_modules(files.kernel, modules);
    workload.mounts = devices.folders.mounts;
    // The same DNS servers a container on the bridge gets.
    if (!devices.interface.address.empty()) workload.resolv_conf = network::bridge_resolv_conf();

    // The folder contains the workload's environment (-e values too) in the initramfs and, in
    // the disk form, what the guest writes: only root and QEMU's group may enter it.
    files.folder = folder;
    fs::permissions(files.folder, fs::perms(0750));
    if (chown(files.folder.c_str(), static_cast<uid_t>(-1), qemu.gid) != 0) {
        throw_errno("cannot hand the VM folder " + files.folder.string() + " to QEMU's group");
    }
    files.initramfs = files.folder / "initramfs.cpio";
    if (phases != nullptr) phases->mark("image");
    if (form == guest::RootForm::disk) {
        prepare_disk(files, paths, image, lowerdirs, workload, qemu);
    } else {
        auto image_part = guest::ensure_image_initramfs(paths, image.config_digest, lowerdirs);
        files.initramfs_bytes = guest::write_run_initramfs(image_part.path, workload, files.initramfs);
    }
    guest::CmdlineOptions cmdline{.form = form, .tcg = tcg};
    if (!devices.interface.address.empty()) {
        cmdline.address = devices.interface.address + "/" + std::to_string(devices.interface.prefix);
        cmdline.gateway = devices.interface.gateway;
    }
    files.cmdline = guest::kernel_cmdline(cmdline);

    // Compared by path components, so that a cache /c does not claim /c2/vmlinux.
    const fs::path& kernel_file = files.kernel.boot_image;
    bool cached_kernel = std::mismatch(paths.cache.begin(), paths.cache.end(), kernel_file.begin(), kernel_file.end())
                             .first == paths.cache.end();
    check_qemu_can_reach(files.kernel.boot_image, qemu,
                         cached_kernel ? "a cache (ISOLAB_CACHE)" : "a kernel (ISOLAB_KERNEL)");
    check_qemu_can_reach(files.initramfs, qemu);
    if (phases != nullptr) phases->mark("initramfs");
    spdlog::debug("guest files: kernel {} ({}), initramfs {} ({} bytes), cmdline '{}'",
                  files.kernel.boot_image.string(), files.kernel.boot_format, files.initramfs.string(),
                  files.initramfs_bytes, files.cmdline);
    return files;
}

// Rejects an initramfs that cannot fit in the guest's memory. The guest kernel keeps the
// initramfs (S bytes) in RAM while it unpacks it into its root tmpfs, which may fill half
// of the RAM left, so less than 3 S of memory always fails. The kernel's own share comes
// on top: with Debian's 6.1 kernel a 103 MiB initramfs failed in 352 MiB and booted in 384 MiB.
void check_initramfs_fits(const GuestFiles& files, const VmOptions& options) {
    if (options.memory_bytes >= 3 * files.initramfs_bytes) return;
    throw Error(fmt::format("the VM's initramfs ({} MiB) does not fit in --memory {}M: the guest kernel keeps it in RAM "
                            "and unpacks it into a RAM filesystem of at most half the rest",
                            (files.initramfs_bytes + kMib - 1) / kMib, options.memory_bytes / kMib),
                fmt::format("give --memory {}M or more{}", libvirt::initramfs_memory_advice_mib(files.initramfs_bytes),
                            options.form == guest::RootForm::initramfs ? ", or use --form disk" : ""));
}

QemuIds read_qemu_ids(libvirt::Connection& connection) {
    if (libvirt::embedded_qemu_runs_as_root(connection.uri())) return {0, 0};
    char* capabilities = virConnectGetCapabilities(connection.get());
    if (capabilities == nullptr) libvirt::throw_last_error("cannot read libvirt's capabilities");
    std::string xml = capabilities;
    free(capabilities);

    // The label follows "<model>dac</model>"; its text is "+<uid>:+<gid>".
    auto model = xml.find("<model>dac</model>");
    auto label = model == std::string::npos ? model : xml.find("<baselabel", model);
    auto start = label == std::string::npos ? label : xml.find(">+", label);
    unsigned uid = 0, gid = 0;
    if (start == std::string::npos || std::sscanf(xml.c_str() + start, ">+%u:+%u", &uid, &gid) != 2) {
        throw Error("cannot find the user QEMU runs as in libvirt's capabilities (no DAC base label)",
                    "isolab gives each VM's files to that user's group; check security_driver in libvirt's qemu.conf");
    }
    return {static_cast<uid_t>(uid), static_cast<gid_t>(gid)};
}

libvirt::DomainSpec domain_spec(const Paths& paths, const std::string& name, const GuestFiles& files,
                                const std::string& accelerator, std::uint64_t memory_bytes, unsigned cpus,
                                const GuestDevices& devices = {}) {
    libvirt::DomainSpec spec;
    spec.name = name;
    spec.owner_root = paths.root;
    spec.domain_type = accelerator == "kvm" ? "kvm" : "qemu";
    spec.memory_mib = memory_bytes / kMib;
    spec.vcpus = cpus;
    spec.small_page_ram = libvirt::uses_small_page_ram(accelerator);
    spec.kernel = files.kernel.boot_image;
    spec.initrd = files.initramfs;
    spec.cmdline = files.cmdline;
    if (files.overlay) spec.disk = files.overlay->path();
    spec.bridge = devices.interface.bridge;
    spec.tap_device = devices.interface.tap_device;
    spec.shared_folders = devices.folders.devices;
    return spec;
}

void print_line(const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

// Boots the busybox image with `true` under KVM. Returns empty when the guest reported its
// exit, else why not.
std::string probe_kvm(image::Store& store, libvirt::Connection& connection) {
    std::string name = libvirt::make_domain_name("kvm-probe-" + random_hex_id().substr(0, 8));
    try {
        auto temporary = std::make_unique<TemporaryDirectory>(make_vm_parent(store.paths()), name + "-");
        GuestFiles files = prepare_guest(store, "busybox", {"true"}, {}, temporary->path(), guest::RootForm::initramfs, false,
                                         false, read_qemu_ids(connection));
        files.temporary = std::move(temporary);
        libvirt::BootRequest request;
        request.spec = domain_spec(store.paths(), name, files, "kvm", 256 * kMib, 1);
        request.timeout = kKvmProbeDeadline;
        request.on_output = [](const std::string& line, Clock::time_point) { spdlog::debug("kvm probe: {}", line); };
        InterruptGuard interrupts;
        request.interrupted = InterruptGuard::requested;
        PhaseRecorder phases;
        libvirt::boot(connection, request, phases);
        return {};
    } catch (const libvirt::BootTimeout&) {
        return fmt::format("the probe guest did not finish within {} s under KVM", kKvmProbeDeadline.count());
    } catch (const Error& error) {
        if (error.exit_code() == 130) throw;
        // QEMU's own messages span lines; the verdict is shown and cached as one line.
        std::string reason = error.what();
        std::replace(reason.begin(), reason.end(), '\n', ' ');
        return reason;
    }
}

std::vector<network::PortMapping> port_mappings(const std::vector<std::string>& values) {
    std::vector<network::PortMapping> mappings;
    for (const auto& value : values) mappings.push_back(network::parse_port_mapping(value));
    return mappings;
}

void check_options(const VmOptions& options) {
    if (options.memory_bytes % kMib != 0 || options.memory_bytes / kMib < libvirt::kMinimumMemoryMib) {
        throw Error(fmt::format("invalid guest memory {} bytes: it must be a whole number of MiB, at least {} MiB",
                                options.memory_bytes, libvirt::kMinimumMemoryMib));
    }
    if (options.cpus == 0) throw Error("invalid --cpus 0: a guest needs at least one CPU");
    check_vm_network_mode(options.network);
    if (!network::uses_bridge(options.network) && !options.publish.empty()) {
        throw Error(fmt::format("cannot publish ports of a VM with --network {}: the guest has no NIC", options.network),
                    "drop --network none to put the VM on the isolab0 bridge");
    }
    network::reject_repeated_host_ports(port_mappings(options.publish));
    // QEMU 7.2 rejects more for the pc (i440fx) machine type: "Invalid SMP CPUs 256. The
    // max CPUs supported by machine 'pc-i440fx-7.2' is 255". Checked here, it fails early.
    constexpr unsigned max_vcpus = 255;
    if (options.cpus > max_vcpus) {
        throw Error(fmt::format("invalid --cpus {}: the pc machine type allows at most {} virtual CPUs", options.cpus, max_vcpus),
                    "use a smaller --cpus; more virtual CPUs than host CPUs only slows a guest down");
    }
    // libvirt lets virtual CPUs outnumber host CPUs, and so does isolab, but the guest then
    // boots slowly: its CPUs take turns on the host's, and under TCG each is an emulator thread.
    if (unsigned host_cpus = std::thread::hardware_concurrency(); host_cpus != 0 && options.cpus > host_cpus) {
        spdlog::warn("--cpus {} gives the guest more CPUs than this host has ({}): expect a slow boot", options.cpus,
                     host_cpus);
    }
}

// vms/<name> of a detached VM, removed with its content unless keep() was called.
class RecordFolder {
public:
    explicit RecordFolder(fs::path path) : path_(std::move(path)) {}
    ~RecordFolder() {
        if (keep_) return;
        std::error_code error;
        fs::remove_all(path_, error);
        if (error) spdlog::warn("cannot remove {}: {}", path_.string(), error.message());
    }
    RecordFolder(const RecordFolder&) = delete;
    RecordFolder& operator=(const RecordFolder&) = delete;

    const fs::path& path() const { return path_; }
    void keep() { keep_ = true; }

private:
    fs::path path_;
    bool keep_ = false;
};

// Throws Error when `name` belongs to a VM record in this state root or to a libvirt
// domain, saying which one and how to remove it.
void check_name_free(const Paths& paths, libvirt::Connection& connection, const std::string& name) {
    VmPaths vm = vm_paths(paths, name);
    if (fs::exists(vm.record())) {
        VmRecord existing = read_record(vm);
        throw Error(fmt::format("cannot create VM {}: the name is in use by a VM of this state root ({}, created {})",
                                name, existing.status, existing.created),
                    fmt::format("remove it with `isolab vm rm -f {}`, or choose another --name", name));
    }
    auto existing = libvirt::describe_domain(connection, name);
    if (!existing) return;
    if (!existing->owner_root.empty() && existing->owner_root != paths.root.string()) {
        throw Error(fmt::format("cannot create VM {}: the name is in use by a VM of the state root {} ({})", name,
                                existing->owner_root, existing->summary),
                    fmt::format("remove it there with `ISOLAB_ROOT='{}' isolab vm rm -f {}`, or choose another --name",
                                existing->owner_root, name));
    }
    throw Error(fmt::format("cannot create VM {}: a leftover libvirt domain of that name exists ({}) and no VM "
                            "record in {} describes it",
                            name, existing->summary, paths.vms().string()),
                fmt::format("remove it with `virsh -c {} destroy {}` (and `virsh undefine` if it is persistent) "
                            "or `isolab system prune --connect {}`",
                            connection.uri(), name, connection.uri()));
}

// Claims `name` under the records lock: checks that it is free and creates vms/<name>
// with a record in status "created", so a second `vm run -d` with the same name fails.
std::unique_ptr<RecordFolder> claim_name(const Paths& paths, libvirt::Connection& connection, VmRecord& record) {
    FileLock lock = lock_vm_records(paths);
    check_name_free(paths, connection, record.name);
    VmPaths vm = vm_paths(paths, record.name);
    fs::create_directory(vm.folder);
    auto folder = std::make_unique<RecordFolder>(vm.folder);
    record.creator_pid = getpid();
    record.creator_start_ticks = container::process_start_ticks(record.creator_pid);
    write_record(vm, record);
    return folder;
}

// Hands the started domain's QEMU process to the network holder. Destroys the domain when
// that fails, so the VM never runs without the network its record names.
void hand_over_network(libvirt::Connection& connection, VmRecord& record, NetworkHolder& holder) {
    try {
        int qemu_pid = libvirt::read_qemu_pid(connection.uri(), record.name);
        if (qemu_pid <= 0) throw Error("cannot find the QEMU process of VM " + record.name + " (no libvirt pid file)");
        holder.attach(qemu_pid);
        record.holder_pid = holder.pid();
        record.holder_start_ticks = container::process_start_ticks(holder.pid());
    } catch (...) {
        libvirt::destroy_domain(connection, record.uuid);
        throw;
    }
}

// The record of a foreground `vm run` (VmOptions::keep_record), so other `vm` commands
// list the VM while it runs, as `docker ps` lists a container run in the foreground. It
// names this process as the owner, and the guest files go into the VM's folder, so what
// a killed run leaves is removed with the record. finish() records the exit; an
// unfinished record (an error or an interrupt) is recorded as exited by the destructor,
// or removed when the domain never started.
class ForegroundRecord {
public:
    ForegroundRecord(const Paths& paths, libvirt::Connection& connection, const VmOptions& options,
                     const std::string& name)
        : paths_(paths), vm_(vm_paths(paths, name)) {
        VmRecord record;
        record.name = name;
        record.image = options.image;
        record.command = options.command;
        record.form = options.form == guest::RootForm::disk ? "disk" : "initramfs";
        record.memory_bytes = options.memory_bytes;
        record.cpus = options.cpus;
        record.auto_remove = options.auto_remove;
        record.created = utc_timestamp();
        record.network = options.network;
        record.publish = options.publish;
        record.volumes = options.volumes;
        record.connect_uri = connection.uri();
        record.owner_pid = getpid();
        record.owner_start_ticks = container::process_start_ticks(getpid());
        make_vm_parent(paths);
        folder_ = claim_name(paths, connection, record);
        // libvirt's QEMU user enters it to reach the guest files.
        fs::permissions(vm_.folder, fs::perms(0755));
        auto_remove_ = options.auto_remove;
    }
    ~ForegroundRecord() {
        if (finished_) return;
        try {
            finish(std::nullopt);
        } catch (const std::exception& error) {
            spdlog::warn("cannot record the exit of VM {}: {}", vm_.folder.filename().string(), error.what());
        }
    }
    ForegroundRecord(const ForegroundRecord&) = delete;
    ForegroundRecord& operator=(const ForegroundRecord&) = delete;

    const VmPaths& vm() const { return vm_; }

    void update(const std::function<void(VmRecord&)>& change) {
        FileLock lock = lock_vm_records(paths_);
        if (!fs::exists(vm_.record())) return;  // `vm rm -f` removed it
        VmRecord record = read_record(vm_);
        change(record);
        write_record(vm_, record);
    }

    // Records the domain, once it exists, as running.
    void started(const std::string& uuid) {
        started_ = !uuid.empty();
        update([&](VmRecord& record) {
            record.uuid = uuid;
            record.status = "running";
            record.started = utc_timestamp();
        });
    }

    // Records the exit with `exit_code`, or the code in the console log when the guest
    // reported none (255 without one), and removes an --rm VM's folder.
    void finish(std::optional<int> exit_code) {
        finished_ = true;
        if (!started_ || auto_remove_) return;  // the folder goes with `folder_`
        update([&](VmRecord& record) {
            if (record.status == "exited") return;
            record.status = "exited";
            record.exit_code = exit_code ? exit_code : exit_code_from_console(vm_.console_log());
            if (!record.exit_code) record.exit_code = record.stopped_by.empty() ? 255 : 137;
            record.finished = utc_timestamp();
        });
        folder_->keep();
    }

private:
    Paths paths_;
    VmPaths vm_;
    std::unique_ptr<RecordFolder> folder_;
    bool auto_remove_ = false;
    bool started_ = false;
    bool finished_ = false;
};

// The same marks ordered by time: the guest's phases are recorded once the boot ends,
// and kernel-start may come before the first console byte.
PhaseRecorder sorted_by_time(const PhaseRecorder& phases) {
    std::vector<PhaseMark> marks = phases.marks();
    std::stable_sort(marks.begin(), marks.end(), [](const PhaseMark& a, const PhaseMark& b) { return a.at_ms < b.at_ms; });
    PhaseRecorder sorted(phases.origin());
    for (auto& mark : marks) sorted.mark_ms(std::move(mark.name), mark.at_ms, std::move(mark.source));
    return sorted;
}

}  // namespace

Accelerator parse_accelerator(std::string_view text) {
    if (text == "auto") return Accelerator::automatic;
    if (text == "kvm") return Accelerator::kvm;
    if (text == "tcg") return Accelerator::tcg;
    throw Error(fmt::format("invalid accelerator '{}'", text), "use auto, kvm or tcg");
}

VmResult run(image::Store& store, const VmOptions& options) {
    VmResult result;
    if (options.requested_at) {
        result.phases = PhaseRecorder(*options.requested_at);
        result.phases.mark("isolab-start");
    }
    check_options(options);
    auto shared = parse_shared_folders(options.volumes);
    result.name = libvirt::make_domain_name(options.name);
    result.memory_bytes = options.memory_bytes;
    result.machine = std::string(libvirt::kDefaultMachine);
    result.pss_definition = kPssDefinition;

    libvirt::Connection connection(libvirt::resolve_uri(options.connect_uri));
    result.phases.mark("libvirt-connect");
    std::unique_ptr<ForegroundRecord> record;
    if (options.keep_record) {
        record = std::make_unique<ForegroundRecord>(store.paths(), connection, options, result.name);
    } else if (fs::exists(vm_paths(store.paths(), result.name).record())) {
        check_name_free(store.paths(), connection, result.name);
    }
    result.accelerator = choose_accelerator(options.accelerator, store.paths(), current_host_key(store.paths()),
                                            [&] { return probe_kvm(store, connection); });
    result.phases.mark("accelerator");
    spdlog::debug("accelerator for {}: {} ({})", result.name, result.accelerator.used, result.accelerator.reason);
    if (record) {
        record->update([&](VmRecord& recorded) {
            recorded.accelerator = result.accelerator.used;
            recorded.accelerator_reason = result.accelerator.reason;
        });
    }

    QemuIds qemu = read_qemu_ids(connection);
    GuestDevices devices;
    devices.folders = prepare_shared_folders(shared, qemu.uid, qemu.gid);
    // Owned here for the whole boot: the lease names this process, and the published
    // ports are its sockets.
    std::unique_ptr<VmNetwork> vm_network;
    if (network::uses_bridge(options.network)) {
        vm_network = std::make_unique<VmNetwork>(store.paths(), options.network, result.name, port_mappings(options.publish));
        devices.interface = vm_network->guest();
        result.address = devices.interface.address;
        if (record) {
            record->update([&](VmRecord& recorded) {
                recorded.address = result.address;
                recorded.ports = vm_network->published_ports();
            });
        }
        fault_point("vm.network");
        result.phases.mark("network");
    }
    auto temporary = record ? std::make_unique<TemporaryDirectory>(record->vm().folder, "guest-")
                            : std::make_unique<TemporaryDirectory>(make_vm_parent(store.paths()), result.name + "-");
    // A recorded VM can be stopped with `vm stop`, which presses the power button.
    GuestFiles files = prepare_guest(store, options.image, options.command, options.env, temporary->path(), options.form,
                                     result.accelerator.used == "tcg",
                                     options.keep_record, qemu, devices, &result.phases);
    files.temporary = std::move(temporary);
    check_initramfs_fits(files, options);
    fault_point("vm.prepared");
    result.kernel_bytes = files.kernel.boot_image_bytes;
    result.initramfs_bytes = files.initramfs_bytes;

    libvirt::BootRequest request;
    request.spec = domain_spec(store.paths(), result.name, files, result.accelerator.used, options.memory_bytes,
                               options.cpus, devices);
    request.timeout = options.timeout;
    request.stop_requested = options.stop_requested;
    request.guest_ram_bytes = options.memory_bytes;
    if (record) request.spec.console_log = record->vm().console_log();
    request.on_created = [&](int qemu_pid) {
        if (vm_network) vm_network->attach(qemu_pid);
        if (record) record->started(libvirt::domain_uuid(connection, result.name));
    };
    request.on_output = [&options](const std::string& line, Clock::time_point arrived) {
        if (options.on_console_line) {
            options.on_console_line(line, arrived);
        } else {
            print_line(line);
        }
    };
    InterruptGuard interrupts;
    request.interrupted = InterruptGuard::requested;

    libvirt::BootOutcome outcome = libvirt::boot(connection, request, result.phases);
    if (record) record->finish(outcome.exit_code);
    result.exit_code = outcome.exit_code;
    result.init_error = outcome.init_error;
    result.guest_kernel = outcome.guest_kernel.empty() ? files.kernel.release : outcome.guest_kernel;
    result.guest_uptime_at_ready_ms = outcome.guest_uptime_at_ready_ms;
    result.qemu_pss_peak_bytes = outcome.qemu_pss_peak_bytes;
    result.guest_ram_pss_at_peak_bytes = outcome.guest_ram_pss_at_peak_bytes;
    result.stopped_on_request = outcome.stopped_on_request;
    if (outcome.qemu_pid < 0) result.pss_definition = "not measured: the QEMU pid file was not found";
    result.phases = sorted_by_time(result.phases);
    if (files.overlay) {
        result.disk_base_bytes = files.disk_base_bytes;
        result.disk_overlay_bytes = disk_usage(files.overlay->path());
    }
    return result;
}

Clock::time_point this_process_start() { return libvirt::process_created_at(getpid()).value_or(Clock::now()); }

VmRecord run_detached(image::Store& store, const VmOptions& options) {
    check_options(options);
    const Paths& paths = store.paths();
    VmRecord record;
    record.name = libvirt::make_domain_name(options.name);
    record.image = options.image;
    record.command = options.command;
    record.form = options.form == guest::RootForm::disk ? "disk" : "initramfs";
    record.memory_bytes = options.memory_bytes;
    record.cpus = options.cpus;
    record.detached = true;
    record.auto_remove = options.auto_remove;
    record.created = utc_timestamp();
    record.network = options.network;
    record.publish = options.publish;
    record.volumes = options.volumes;
    auto shared = parse_shared_folders(options.volumes);

    libvirt::Connection connection(libvirt::resolve_uri(options.connect_uri));
    record.connect_uri = connection.uri();
    make_vm_parent(paths);
    auto folder = claim_name(paths, connection, record);
    VmPaths vm = vm_paths(paths, record.name);

    AcceleratorVerdict verdict = choose_accelerator(options.accelerator, paths, current_host_key(store.paths()),
                                                    [&] { return probe_kvm(store, connection); });
    record.accelerator = verdict.used;
    record.accelerator_reason = verdict.reason;

    QemuIds qemu = read_qemu_ids(connection);
    GuestDevices devices;
    devices.folders = prepare_shared_folders(shared, qemu.uid, qemu.gid);
    // A detached VM outlives this process, so a holder process owns its network.
    std::unique_ptr<NetworkHolder> holder;
    if (network::uses_bridge(options.network)) {
        holder = std::make_unique<NetworkHolder>(paths, record.name);
        devices.interface = holder->guest();
        record.address = devices.interface.address;
        record.ports = holder->published_ports();
        fault_point("vm.network");
    }
    GuestFiles files =
        prepare_guest(store, options.image, options.command, options.env, vm.folder, options.form,
                      verdict.used == "tcg", true, qemu, devices);
    check_initramfs_fits(files, options);
    fault_point("vm.prepared");
    libvirt::DomainSpec spec =
        domain_spec(store.paths(), record.name, files, verdict.used, options.memory_bytes, options.cpus, devices);
    spec.console_log = vm.console_log();

    FileLock lock = lock_vm_records(paths);
    record.uuid = libvirt::start_detached(connection, spec);
    fault_point("vm.domain");
    if (holder) hand_over_network(connection, record, *holder);
    record.started = utc_timestamp();
    record.status = "running";
    write_record(vm, record);
    if (files.overlay) files.overlay->release();
    folder->keep();
    spdlog::debug("started detached VM {} ({})", record.name, record.uuid);
    return record;
}

AcceleratorVerdict choose_host_accelerator(image::Store& store, Accelerator requested, const std::string& connect_uri) {
    return choose_accelerator(requested, store.paths(), current_host_key(store.paths()), [&] {
        libvirt::Connection connection(libvirt::resolve_uri(connect_uri));
        return probe_kvm(store, connection);
    });
}

guest::GuestKernel guest_kernel(const Paths& paths) { return guest::ensure_kernel(paths); }

std::string embedded_driver_uri(const Paths& paths) { return libvirt::embedded_uri(paths.root / "libvirt-embedded"); }

std::vector<DomainListing> list_domains(const std::string& connect_uri) {
    libvirt::Connection connection(libvirt::resolve_uri(connect_uri));
    std::vector<DomainListing> listings;
    for (const auto& summary : libvirt::list_isolab_domains(connection)) {
        listings.push_back({summary.name, summary.state, summary.memory_bytes, summary.vcpus});
    }
    return listings;
}

namespace {

std::vector<std::string> prune_connection(libvirt::Connection& connection, const Paths& paths) {
    std::set<std::string> running;
    for (const auto& record : read_all_records(paths)) {
        // A foreground VM whose `vm run` process died has exited, even when its domain
        // still runs on an embedded driver, which has no auto-destroy.
        bool owner_dead =
            record.owner_pid > 0 && !container::process_alive(record.owner_pid, record.owner_start_ticks);
        if (record.status != "exited" && !owner_dead && record.connect_uri == connection.uri()) {
            running.insert(record.name);
        }
    }
    // A domain that another state root started belongs to that root's records. A domain
    // without an owner comes from an older isolab, so it counts as a leftover.
    return libvirt::remove_isolab_domains(connection, [&](const libvirt::DomainSummary& domain) {
        bool foreign = !domain.owner_root.empty() && domain.owner_root != paths.root.string();
        return foreign || running.contains(domain.name);
    });
}

}  // namespace

std::vector<std::string> prune_domains(const std::string& connect_uri, const Paths& paths) {
    libvirt::Connection connection(libvirt::resolve_uri(connect_uri));
    return prune_connection(connection, paths);
}

std::vector<std::string> prune_embedded_domains(const Paths& paths) {
    // Domains of the embedded driver outlive a killed isolab process like any other.
    // A driver that another process has open is in use, so its domains are not leftovers.
    std::string embedded = embedded_driver_uri(paths);
    if (!std::filesystem::exists(libvirt::embedded_root(embedded))) return {};
    std::vector<std::string> removed;
    try {
        libvirt::Connection embedded_connection(embedded);
        removed = prune_connection(embedded_connection, paths);
    } catch (const Error& error) {
        spdlog::warn("{}; its domains were left alone", error.what());
    }
    return removed;
}

}  // namespace isolab::vm
