#include "runtime/oci/container.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "runtime/container/launch.hpp"
#include "runtime/container/signal_forwarding.hpp"
#include "runtime/container/status.hpp"
#include "runtime/container/status_pipe.hpp"
#include "runtime/core/clock.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/unique_fd.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/linux/cgroup_warmup.hpp"
#include "runtime/linux/cgroups.hpp"
#include "runtime/oci/hooks.hpp"
#include "runtime/oci/process_setup.hpp"
#include "runtime/oci/spec.hpp"

namespace isolab::oci {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* state_file = "state.json";
constexpr const char* config_copy = "config.json";
constexpr const char* exec_fifo = "exec.fifo";
constexpr const char* lock_file = "state.lock";

// Ids as runc accepts them, short enough to name a cgroup.
void validate_id(const std::string& id) {
    bool valid = !id.empty() && id.size() <= 128 && id != "." && id != "..";
    for (char c : id) {
        valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '+');
    }
    if (!valid) {
        throw Error("invalid container id '" + id + "'", "use 1 to 128 letters, digits, '_', '-', '.' or '+'");
    }
}

std::string cgroup_name(const std::string& id) { return "isolab-oci-" + id; }

fs::path container_folder(const fs::path& root, const std::string& id) {
    validate_id(id);
    return root / id;
}

// The container's record as `create` stored it, and its status now.
struct Container {
    std::string id;
    fs::path folder;
    json record;          // state.json; null while the container is being created
    std::string status;   // creating, created, running or stopped

    pid_t pid() const { return record.value("pid", 0); }
};

// The folder of an existing container. Throws Error when there is none.
fs::path existing_folder(const fs::path& root, const std::string& id) {
    auto folder = container_folder(root, id);
    std::error_code error;
    if (!fs::is_directory(folder, error)) {
        throw Error("container " + id + " does not exist in " + root.string(), "check the id and the --root option");
    }
    return folder;
}

Container load_container(const fs::path& root, const std::string& id) {
    Container container{id, existing_folder(root, id), nullptr, "creating"};
    std::error_code error;
    if (!fs::exists(container.folder / state_file, error)) return container;
    auto text = read_file(container.folder / state_file);
    // `oci run` writes state.json without fsync: after a host crash it may be empty.
    if (text.empty()) return container;
    container.record = json::parse(text);
    bool alive = container::process_alive(container.pid(), container.record.value("pid_start", std::uint64_t{0}));
    if (!alive) {
        container.status = "stopped";
    } else {
        container.status = fs::exists(container.folder / exec_fifo, error) ? "created" : "running";
    }
    return container;
}

json state_json(const std::string& id, const std::string& status, pid_t pid, const fs::path& bundle,
                const std::map<std::string, std::string>& annotations) {
    json state = {{"ociVersion", runtime_spec_version}, {"id", id}, {"status", status}};
    if (status != "stopped" && pid > 0) state["pid"] = pid;
    state["bundle"] = bundle.string();
    state["annotations"] = annotations;
    return state;
}

json state_json(const Container& container) {
    if (container.record.is_null()) return state_json(container.id, container.status, 0, "", {});
    return state_json(container.id, container.status, container.pid(), container.record.value("bundle", ""),
                      container.record.value("annotations", std::map<std::string, std::string>{}));
}

OciSpec read_stored_spec(const Container& container) {
    return parse_spec(read_file(container.folder / config_copy), (container.folder / config_copy).string());
}

// The container's folder, removed with everything in it unless kept.
class FolderGuard {
public:
    explicit FolderGuard(fs::path path) : path_(std::move(path)) {}
    ~FolderGuard() {
        if (kept_) return;
        std::error_code error;
        fs::remove_all(path_, error);
    }
    FolderGuard(const FolderGuard&) = delete;
    FolderGuard& operator=(const FolderGuard&) = delete;
    void keep() { kept_ = true; }

private:
    fs::path path_;
    bool kept_ = false;
};

// Joins the pid namespace config.json names by path for the children this process
// clones, and returns to its own one in the destructor.
class PidNamespaceJoin {
public:
    explicit PidNamespaceJoin(const OciNamespace* pid) {
        if (pid == nullptr || pid->path.empty()) return;
        own_ = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (own_ < 0) throw_errno("cannot open this process's pid namespace");
        UniqueFd target(open(pid->path.c_str(), O_RDONLY | O_CLOEXEC));
        if (target.get() < 0 || setns(target.get(), CLONE_NEWPID) != 0) {
            int saved = errno;
            close(own_);
            throw_errno(saved, "cannot join the pid namespace " + pid->path);
        }
    }
    ~PidNamespaceJoin() {
        if (own_ < 0) return;
        if (setns(own_, CLONE_NEWPID) != 0) spdlog::warn("cannot return to isolab's pid namespace: {}", strerror(errno));
        close(own_);
    }
    PidNamespaceJoin(const PidNamespaceJoin&) = delete;
    PidNamespaceJoin& operator=(const PidNamespaceJoin&) = delete;

private:
    int own_ = -1;
};

std::vector<ResolvedMount> resolve_mounts(const OciSpec& spec, const fs::path& bundle) {
    std::vector<ResolvedMount> resolved;
    for (size_t i = 0; i < spec.mounts.size(); ++i) {
        const auto& mount = spec.mounts[i];
        ResolvedMount entry{mount, mount.source, false};
        bool bind = mount.type == "bind";
        for (const auto& option : mount.options) bind = bind || option == "bind" || option == "rbind";
        if (bind) {
            if (mount.source.empty()) throw Error("config.json: mounts[" + std::to_string(i) + "].source: is missing");
            entry.source = fs::path(mount.source).is_absolute() ? fs::path(mount.source) : bundle / mount.source;
            std::error_code error;
            auto status = fs::status(entry.source, error);
            if (error || !fs::exists(status)) {
                throw Error("config.json: mounts[" + std::to_string(i) + "].source: " + entry.source.string() + " does not exist");
            }
            entry.source_is_file = !fs::is_directory(status);
        }
        resolved.push_back(std::move(entry));
    }
    return resolved;
}

int clone_flags(const OciSpec& spec) {
    int flags = 0;
    const std::pair<const char*, int> types[] = {
        {"pid", CLONE_NEWPID}, {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}};
    for (const auto& [type, flag] : types) {
        const OciNamespace* entry = spec.find_namespace(type);
        if (entry != nullptr && entry->path.empty()) flags |= flag;
    }
    return flags;
}

// A container between clone and the end of `create`: every part is removed by its
// destructor unless handed over with keep(). Members are destroyed in reverse order, so
// the process dies before its cgroup and the folder goes last.
struct Creation {
    std::unique_ptr<FolderGuard> folder;
    std::unique_ptr<kernel::Cgroup> cgroup;
    std::unique_ptr<container::Launch> launch;
    UniqueFd fifo;
    OciSpec spec;
    fs::path folder_path;
    fs::path bundle;

    void keep() {
        launch->release();
        cgroup->keep();
        folder->keep();
    }
};

container::LaunchPlan launch_plan(const OciSpec& spec, const fs::path& rootfs, const std::vector<ResolvedMount>& mounts,
                                  bool cgroup2_host, std::optional<kernel::SeccompProgram> seccomp, int fifo_fd, bool detached) {
    container::LaunchPlan plan;
    plan.hostname = spec.hostname;
    plan.rootfs = rootfs;
    plan.argv = spec.process.args;
    plan.env = spec.process.env;
    plan.working_dir = spec.process.cwd;
    plan.masked_paths = spec.masked_paths;
    plan.read_only_paths = spec.readonly_paths;
    plan.read_only_rootfs = spec.root_readonly;
    plan.clone_flags = clone_flags(spec);
    const OciNamespace* network = spec.find_namespace("network");
    plan.own_network = network != nullptr && network->path.empty();
    const OciNamespace* cgroup = spec.find_namespace("cgroup");
    plan.own_cgroup_namespace = cgroup != nullptr && cgroup->path.empty();
    plan.keep_stdin = true;
    plan.inherited_fds = {fifo_fd};

    plan.build_rootfs = [namespaces = spec.namespaces, rlimits = spec.process.rlimits, mounts, cgroup2_host](
                            const container::LaunchPlan& launched) {
        join_namespaces(namespaces);
        apply_rlimits(rlimits);
        build_rootfs(launched.rootfs, mounts, cgroup2_host);
    };
    plan.enter_security = [process = spec.process, seccomp = std::move(seccomp)] { enter_security(process, seccomp); };
    plan.before_exec = [fifo_fd, detached, command = spec.process.args.front(), env = spec.process.env](int status_fd) {
        // A missing program fails `create`, as with runc, not `start`.
        container::find_executable(command, env);
        container::report_phase(status_fd, "created");
        char byte = 0;
        ssize_t count;
        while ((count = read(fifo_fd, &byte, 1)) < 0 && errno == EINTR) {
        }
        if (count != 1) throw_errno("cannot read the start signal from " + std::string(exec_fifo));
        if (detached) {
            // `create` has exited and nobody reads the status pipe any more: a write to it
            // would raise SIGPIPE.
            int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
            if (null < 0 || dup3(null, status_fd, O_CLOEXEC) < 0) throw_errno("cannot close the status pipe");
            close(null);
        }
    };
    return plan;
}

fs::path absolute_bundle(const fs::path& bundle) {
    std::error_code error;
    auto path = fs::canonical(bundle.empty() ? fs::current_path() : bundle, error);
    if (error || !fs::is_directory(path)) throw Error("bundle " + bundle.string() + " is not a folder");
    return path;
}

fs::path rootfs_path(const OciSpec& spec, const fs::path& bundle) {
    fs::path root = fs::path(spec.root_path).is_absolute() ? fs::path(spec.root_path) : bundle / spec.root_path;
    std::error_code error;
    auto canonical = fs::canonical(root, error);
    if (error || !fs::is_directory(canonical)) throw Error("config.json: root.path: " + root.string() + " is not a folder");
    if (canonical == "/") {
        throw Error("config.json: root.path: " + root.string() + " is the host's root folder",
                    "point root.path at the container's root filesystem, e.g. rootfs beside config.json");
    }
    return canonical;
}

void write_pid_file(const fs::path& pid_file, pid_t pid) {
    if (!pid_file.empty()) write_file_atomic(fs::absolute(pid_file), std::to_string(pid));
}

// `detached`: the container outlives this process (`oci create`). Otherwise (`oci run`)
// its folder goes when the container exits, so its files are written without fsync, as
// those of `isolab run --rm`.
std::unique_ptr<Creation> create(const fs::path& root, const std::string& id, const fs::path& bundle_argument, bool detached) {
    validate_id(id);
    auto bundle = absolute_bundle(bundle_argument);
    auto config_text = read_file(bundle / "config.json");
    auto creation = std::make_unique<Creation>();
    creation->bundle = bundle;
    creation->spec = parse_spec(config_text);
    const OciSpec& spec = creation->spec;
    auto rootfs = rootfs_path(spec, bundle);
    auto mounts = resolve_mounts(spec, bundle);
    if (geteuid() != 0) throw Error("creating a container needs root", "run isolab as root");
    auto cgroup_host = kernel::detect_cgroups();
    kernel::CgroupMoveWarmup cgroup_warmup(cgroup_host);
    auto durability = detached ? Durability::crash_safe : Durability::rename_only;

    std::optional<kernel::SeccompProgram> seccomp;
    if (spec.seccomp) {
        auto bounding = spec.process.capabilities ? spec.process.capabilities->bounding : std::vector<cap_value_t>{};
        seccomp = kernel::compile_seccomp_profile(*spec.seccomp, bounding);
    }

    fs::create_directories(root);
    creation->folder_path = root / id;
    if (mkdir(creation->folder_path.c_str(), 0700) != 0) {
        if (errno == EEXIST) throw Error("container " + id + " already exists", "delete it with 'isolab oci delete " + id + "'");
        throw_errno("cannot create " + creation->folder_path.string());
    }
    creation->folder = std::make_unique<FolderGuard>(creation->folder_path);
    write_file_atomic(creation->folder_path / config_copy, config_text, 0600, durability);
    auto fifo_path = creation->folder_path / exec_fifo;
    if (mkfifo(fifo_path.c_str(), 0600) != 0) throw_errno("cannot create " + fifo_path.string());
    // Read and write: the first process blocks reading one byte, which `start` writes.
    creation->fifo = UniqueFd(open(fifo_path.c_str(), O_RDWR | O_CLOEXEC));
    if (creation->fifo.get() < 0) throw_errno("cannot open " + fifo_path.string());

    creation->cgroup = kernel::create_cgroup(cgroup_host, cgroup_name(id));
    creation->cgroup->apply(spec.resources);

    auto plan = launch_plan(spec, rootfs, mounts, cgroup_host.version == kernel::CgroupVersion::v2, std::move(seccomp),
                            creation->fifo.get(), detached);
    cgroup_warmup.wait();
    {
        PidNamespaceJoin pid_namespace(spec.find_namespace("pid"));
        creation->launch = std::make_unique<container::Launch>(plan, -1, -1);
    }
    pid_t pid = creation->launch->pid();
    creation->cgroup->add_process(pid);

    auto creating = state_json(id, "creating", pid, bundle, spec.annotations).dump();
    run_hooks(spec.hooks.prestart, "prestart", creating);
    run_hooks(spec.hooks.create_runtime, "createRuntime", creating);

    PhaseRecorder phases;
    if (!creation->launch->start(phases, "created")) throw creation->launch->failure();

    json record = {{"ociVersion", spec.oci_version},
                   {"id", id},
                   {"bundle", bundle.string()},
                   {"pid", pid},
                   {"pid_start", container::process_start_ticks(pid)},
                   {"rootfs", rootfs.string()},
                   {"annotations", spec.annotations}};
    write_file_atomic(creation->folder_path / state_file, record.dump(2) + "\n", 0600, durability);
    spdlog::debug("oci: created {} (pid {})", id, pid);
    return creation;
}

int signal_number(const std::string& name) {
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
        int number = std::stoi(name.substr(0, 3));
        if (number > 0 && number < NSIG && name.size() <= 3) return number;
    }
    std::string bare = name.rfind("SIG", 0) == 0 ? name.substr(3) : name;
    for (int number = 1; number < NSIG; ++number) {
        const char* abbreviation = sigabbrev_np(number);
        if (abbreviation != nullptr && bare == abbreviation) return number;
    }
    throw Error("invalid signal '" + name + "'", "use a name such as TERM, SIGKILL or HUP, or a number");
}

// Lets the first process of a created container exec its program: writes the byte it
// waits for into exec.fifo, then removes the fifo, so the container reads as running.
// The caller holds the container's lock.
void signal_start(const fs::path& folder, const std::string& id) {
    auto fifo_path = folder / exec_fifo;
    UniqueFd fifo(open(fifo_path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (fifo.get() < 0) throw_errno("cannot signal container " + id + " to start through " + fifo_path.string());
    if (write(fifo.get(), "1", 1) != 1) throw_errno("cannot signal container " + id + " to start");
    std::error_code error;
    fs::remove(fifo_path, error);
}

void wait_until_stopped(const Container& container) {
    auto start_ticks = container.record.value("pid_start", std::uint64_t{0});
    for (int attempt = 0; attempt < 1000; ++attempt) {
        if (!container::process_alive(container.pid(), start_ticks)) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw Error("container " + container.id + " did not stop within 10 s of SIGKILL");
}

// What delete_container() does for a container `oci run` created and reaped, with the
// cgroup and spec this process holds. Another `isolab oci delete` may have removed the
// container meanwhile; then nothing is left to do.
void remove_exited(Creation& creation, const std::string& id) {
    std::error_code error;
    if (!fs::is_directory(creation.folder_path, error)) return;
    FileLock lock(creation.folder_path / lock_file);
    creation.cgroup->remove();
    auto stopped = state_json(id, "stopped", 0, creation.bundle, creation.spec.annotations).dump();
    fs::remove_all(creation.folder_path, error);
    if (error) throw Error("cannot remove " + creation.folder_path.string() + ": " + error.message());
    creation.folder->keep();
    run_hooks_warning(creation.spec.hooks.poststop, "poststop", stopped);
    spdlog::debug("oci: deleted {}", id);
}

}  // namespace

fs::path default_root(const Paths& paths) { return paths.root / "oci"; }

void create_container(const fs::path& root, const std::string& id, const fs::path& bundle, const fs::path& pid_file) {
    auto creation = create(root, id, bundle, true);
    write_pid_file(pid_file, creation->launch->pid());
    creation->keep();
}

void start_container(const fs::path& root, const std::string& id) {
    auto folder = existing_folder(root, id);
    FileLock lock(folder / lock_file);
    auto container = load_container(root, id);
    if (container.status != "created") {
        throw Error("container " + id + " is " + container.status + ", not created", "only a created container can be started");
    }
    signal_start(container.folder, id);

    container.status = "running";
    run_hooks_warning(read_stored_spec(container).hooks.poststart, "poststart", state_json(container).dump());
}

std::string container_state(const fs::path& root, const std::string& id) {
    return state_json(load_container(root, id)).dump(2) + "\n";
}

void kill_container(const fs::path& root, const std::string& id, const std::string& signal) {
    int number = signal_number(signal);
    auto container = load_container(root, id);
    if (container.status != "created" && container.status != "running") {
        throw Error("container " + id + " is " + container.status + ", not created or running");
    }
    if (kill(container.pid(), number) != 0) throw_errno("cannot send " + signal + " to container " + id);
    spdlog::debug("oci: sent signal {} to {} (pid {})", number, id, container.pid());
}

void delete_container(const fs::path& root, const std::string& id, bool force) {
    auto folder = existing_folder(root, id);
    FileLock lock(folder / lock_file);
    auto container = load_container(root, id);
    if (container.status == "creating" && !force) {
        throw Error("container " + id + " is being created", "remove what a failed create left with 'isolab oci delete --force " + id + "'");
    }
    if (container.status == "running" && !force) {
        throw Error("container " + id + " is running", "kill it first, or use 'isolab oci delete --force " + id + "'");
    }
    // A created container is deleted without --force, as runc deletes one.
    if (container.status == "created" || container.status == "running") {
        kill(container.pid(), SIGKILL);
        wait_until_stopped(container);
    }

    kernel::remove_cgroup_directories(kernel::cgroup_directories(kernel::detect_cgroups(), cgroup_name(id)));
    std::optional<OciSpec> spec;
    std::error_code size_error;
    auto config_size = fs::file_size(container.folder / config_copy, size_error);
    if (!container.record.is_null() && !size_error && config_size > 0) {
        spec = read_stored_spec(container);
    } else if (!container.record.is_null()) {
        // Only `oci run` writes config.json without fsync; a host crash can empty it.
        spdlog::warn("container {}: {} is empty, its poststop hooks do not run", id, config_copy);
    }
    container.status = "stopped";
    auto stopped = state_json(container).dump();
    std::error_code error;
    fs::remove_all(container.folder, error);
    if (error) throw Error("cannot remove " + container.folder.string() + ": " + error.message());
    if (spec) run_hooks_warning(spec->hooks.poststop, "poststop", stopped);
    spdlog::debug("oci: deleted {}", id);
}

int run_container(const fs::path& root, const std::string& id, const fs::path& bundle, const fs::path& pid_file) {
    auto creation = create(root, id, bundle, false);
    pid_t pid = creation->launch->pid();
    write_pid_file(pid_file, pid);
    // As start_container() does, with the record and spec this process already holds.
    {
        FileLock lock(creation->folder_path / lock_file);
        signal_start(creation->folder_path, id);
    }
    run_hooks_warning(creation->spec.hooks.poststart, "poststart",
                      state_json(id, "running", pid, creation->bundle, creation->spec.annotations).dump());

    PhaseRecorder phases;
    if (!creation->launch->resume(phases)) {
        auto failure = creation->launch->failure();
        creation->launch.reset();
        delete_container(root, id, true);
        throw failure;
    }
    int exit_code;
    {
        container::SignalForwarding forwarding(creation->launch->pid());
        exit_code = creation->launch->child().wait();
    }
    remove_exited(*creation, id);
    return exit_code;
}

}  // namespace isolab::oci
