#include "runtime/container/run.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>

#include "runtime/container/health_checker.hpp"
#include "runtime/container/launch.hpp"
#include "runtime/container/logs.hpp"
#include "runtime/container/mounts_plan.hpp"
#include "runtime/container/namespace_modes.hpp"
#include "runtime/container/options.hpp"
#include "runtime/container/output.hpp"
#include "runtime/container/record.hpp"
#include "runtime/container/restart_policy.hpp"
#include "runtime/container/setup.hpp"
#include "runtime/container/signal_forwarding.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/fault.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/linux/capabilities.hpp"
#include "runtime/linux/cgroup_warmup.hpp"
#include "runtime/linux/cgroups.hpp"
#include "runtime/linux/mounts.hpp"
#include "runtime/linux/namespaces.hpp"
#include "runtime/linux/pty.hpp"
#include "runtime/network/attachment.hpp"

namespace isolab::container {

namespace fs = std::filesystem;

void check_host_can_run() {
    if (geteuid() != 0) throw Error("running a container needs root", "run isolab as root (sudo isolab run ...)");
    if (!kernel::overlay_available()) {
        throw Error("overlayfs is not available in this kernel", "load it with 'modprobe overlay'");
    }
}

void check_options(const RunOptions& options) {
    if (options.hostname) kernel::validate_hostname(*options.hostname);
    if (!options.name.empty()) validate_container_name(options.name);
    if (options.memory_limit && *options.memory_limit < (6ULL << 20)) {
        throw Error("invalid memory limit " + std::to_string(*options.memory_limit) + " bytes: the minimum is 6 MiB",
                    "use a size such as 64m");
    }
    for (const auto& tmpfs : options.tmpfs) kernel::parse_tmpfs(tmpfs);
    for (const auto& device : options.devices) kernel::device_rule_for(kernel::parse_device_mapping(device));
    parse_mount_requests(options);
    for (const auto& name : options.cap_add) kernel::parse_capability(name);
    for (const auto& name : options.cap_drop) kernel::parse_capability(name);
    if (!options.working_dir.empty() && options.working_dir.front() != '/') {
        throw Error("invalid working directory '" + options.working_dir + "': it must be an absolute path", "e.g. -w /app");
    }
    if (options.memory_swap && *options.memory_swap != -1) {
        if (!options.memory_limit) throw Error("--memory-swap needs a memory limit", "add -m, e.g. -m 64m --memory-swap 128m");
        if (static_cast<std::uint64_t>(*options.memory_swap) < *options.memory_limit) {
            throw Error("invalid --memory-swap: it counts memory plus swap and must be at least the memory limit",
                        "use a value not smaller than -m, or -1 for unlimited swap");
        }
    }
    // NaN fails every comparison, so it is rejected by name, as is infinity.
    if (options.cpus && (!std::isfinite(*options.cpus) || *options.cpus <= 0 ||
                         *options.cpus > static_cast<double>(std::thread::hardware_concurrency()))) {
        throw Error("invalid --cpus " + std::to_string(*options.cpus) + ": it must be above 0 and at most " +
                        std::to_string(std::thread::hardware_concurrency()) + ", the number of CPUs",
                    "e.g. --cpus 0.5");
    }
    if (options.cpu_shares && (*options.cpu_shares < 2 || *options.cpu_shares > 262144)) {
        throw Error("invalid --cpu-shares " + std::to_string(*options.cpu_shares) + ": it must be between 2 and 262144",
                    "the default weight is 1024");
    }
    // The kernel caps pids.max at PID_MAX_LIMIT (4194304, include/linux/threads.h) and
    // rejects anything above; -1 and 0 mean unlimited, as in Docker.
    constexpr std::int64_t max_pids = 4194304;
    if (options.pids_limit && (*options.pids_limit < -1 || *options.pids_limit > max_pids)) {
        throw Error("invalid --pids-limit " + std::to_string(*options.pids_limit) + ": it must be between 1 and " +
                        std::to_string(max_pids) + ", or 0 or -1 for unlimited",
                    "e.g. --pids-limit 100");
    }
    check_namespace_modes(options);
    for (const auto& entry : options.env) {
        if (entry.empty() || entry.front() == '=') {
            throw Error("invalid environment variable '" + entry + "': the name is empty", "use -e NAME=value");
        }
    }
    auto restart = parse_restart_policy(options.restart_policy);
    if (options.remove && restart.kind != RestartPolicy::Kind::no) {
        throw Error("conflicting options: --restart and --rm", "a container removed at exit cannot be restarted: drop one");
    }
}

namespace {

std::vector<std::string> workload_argv(const ImageRootfs& image, const RunOptions& options) {
    // As in Docker, --entrypoint also drops the image's Cmd unless a command is given.
    std::vector<std::string> argv = image.config.entrypoint;
    std::vector<std::string> default_cmd = image.config.cmd;
    if (options.entrypoint) {
        argv = options.entrypoint->empty() ? std::vector<std::string>{} : std::vector<std::string>{*options.entrypoint};
        default_cmd.clear();
    }
    const auto& tail = options.command.empty() ? default_cmd : options.command;
    argv.insert(argv.end(), tail.begin(), tail.end());
    if (argv.empty()) {
        throw Error("no command given and image " + image.reference + " has no Entrypoint or Cmd",
                    "name the command after the image: isolab run " + image.reference + " sh");
    }
    return argv;
}

std::vector<std::string> workload_env(const ImageRootfs& image, const RunOptions& options, const std::string& hostname) {
    std::vector<std::string> env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                    "HOSTNAME=" + hostname};
    env = merge_env(env, image.config.env);
    env = merge_env(env, options.env);
    if (!find_env(env, "HOME")) env.push_back("HOME=/root");
    return env;
}

}  // namespace

ContainerConfig make_config(const ImageRootfs& image, const RunOptions& options) {
    ContainerConfig config;
    config.id = random_hex_id();
    config.name = options.name.empty() ? generate_container_name(config.id) : options.name;
    config.image = image.reference;
    config.image_id = image.id;
    config.command = workload_argv(image, options);
    config.hostname = options.hostname.value_or(config.id.substr(0, 12));
    config.env = workload_env(image, options, config.hostname);
    config.working_dir = !options.working_dir.empty()         ? options.working_dir
                         : !image.config.working_dir.empty() ? image.config.working_dir
                                                             : "/";
    config.user = options.user.empty() ? image.config.user : options.user;
    config.memory_limit = options.memory_limit;
    config.created = rfc3339_now();
    config.request = options;
    config.stop_signal = image.config.stop_signal;
    config.healthcheck = merge_healthcheck(image.config.healthcheck, options.healthcheck);
    config.shell = image.config.shell;
    return config;
}

// Bind-mounts the network's /etc files over files of the rootfs. Mount points created in
// the upper dir would show in `diff` as the container's own changes. So the empty
// placeholders live in a per-container "init" layer, the top lowerdir, as in Docker's
// -init layer, which `diff` does not read.
void add_network_mounts(LaunchPlan& plan, const network::ContainerNetwork& network) {
    const auto init_layer = plan.upperdir.parent_path() / "init";
    for (auto& mount : network.etc_mounts()) {
        const auto placeholder = init_layer / std::filesystem::path(mount.destination).relative_path();
        std::filesystem::create_directories(placeholder.parent_path());
        if (!std::filesystem::exists(placeholder)) write_file_atomic(placeholder, "", 0644, Durability::rename_only);
        plan.mounts.push_back(std::move(mount));
    }
    if (plan.lowerdirs.empty() || plan.lowerdirs.front() != init_layer) {
        plan.lowerdirs.insert(plan.lowerdirs.begin(), init_layer);
    }
}

int wait_for_exit(kernel::ChildProcess& child, kernel::Cgroup& cgroup) {
    if (!cgroup.needs_sampling()) return child.wait();
    while (true) {
        cgroup.sample_memory();
        int code = child.try_wait();
        if (code >= 0) return code;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

kernel::CgroupLimits cgroup_limits(const RunOptions& options) {
    kernel::CgroupLimits limits;
    limits.memory = options.memory_limit;
    if (options.memory_swap && *options.memory_swap == -1) limits.unlimited_swap = true;
    if (options.memory_swap && *options.memory_swap >= 0) limits.memory_swap = static_cast<std::uint64_t>(*options.memory_swap);
    limits.pids = options.pids_limit;
    limits.cpus = options.cpus;
    limits.cpu_shares = options.cpu_shares;
    limits.devices = options.privileged ? kernel::privileged_device_rules() : kernel::default_device_rules();
    for (const auto& device : options.devices) limits.devices->push_back(kernel::device_rule_for(kernel::parse_device_mapping(device)));
    return limits;
}

namespace {

void apply_security_options(LaunchPlan& plan, const RunOptions& options) {
    plan.security = process_security(options);
    if (options.privileged) {
        plan.masked_paths.clear();
        plan.read_only_paths.clear();
        plan.sys_read_only = false;
    }
}

}  // namespace

LaunchPlan launch_plan(const ContainerConfig& config, const ContainerPaths& paths, const ImageRootfs& image,
                       const RunOptions& options) {
    LaunchPlan plan;
    plan.hostname = config.hostname;
    plan.lowerdirs = image.lowerdirs;
    plan.upperdir = paths.upperdir();
    plan.workdir = paths.workdir();
    plan.rootfs = paths.rootfs();
    plan.argv = config.command;
    plan.env = config.env;
    plan.working_dir = config.working_dir;
    plan.read_only_rootfs = options.read_only;
    for (const auto& tmpfs : options.tmpfs) plan.tmpfs.push_back(kernel::parse_tmpfs(tmpfs));
    for (const auto& device : options.devices) plan.devices.push_back(kernel::parse_device_mapping(device));
    plan.mounts = config.mounts;
    plan.user = config.user;
    plan.keep_stdin = options.interactive && !options.tty;
    plan.dies_with_parent = options.dies_with_owner;
    plan.home_from_user = !find_env(image.config.env, "HOME") && !find_env(options.env, "HOME");
    apply_security_options(plan, options);
    apply_namespace_modes(plan, options);
    if (options.init) {
        plan.init_binary = init_binary();
        plan.argv.insert(plan.argv.begin(), {init_target, "--"});
    }
    return plan;
}

namespace {

void mark_running(ContainerRecord& record, pid_t pid) {
    record.state().status = "running";
    record.state().pid = pid;
    record.state().pid_start_ticks = process_start_ticks(pid);
    // This process owns the container, as a monitor owns a detached one.
    record.state().monitor_pid = getpid();
    record.state().monitor_start_ticks = process_start_ticks(getpid());
    record.state().started_at = rfc3339_now();
    reset_health(record.state(), record.config());
    record.save_state();
}

void mark_exited(ContainerRecord& record, int exit_code) {
    record.state().status = "exited";
    record.state().pid = 0;
    record.state().finished_at = rfc3339_now();
    record.state().exit_code = exit_code;
    record.save_state();
}

}  // namespace

RunResult run_image_rootfs(const Paths& paths, const ImageRootfs& image, const RunOptions& options) {
    RunResult result;
    check_options(options);
    check_host_can_run();
    auto cgroup_host = kernel::detect_cgroups();
    kernel::CgroupMoveWarmup cgroup_warmup(cgroup_host);
    result.cgroup_version = std::string(kernel::to_string(cgroup_host.version));

    // Declared in this order so that on any failure the process dies first, then its
    // cgroup goes, then the reader thread ends, the record's folder goes, and the
    // anonymous volumes go last.
    VolumeSetup volumes(paths, image.config, options);
    auto config = make_config(image, options);
    config.mounts = volumes.mounts();
    ContainerRecord record(paths, std::move(config));
    volumes.unlock();
    result.id = record.config().id;
    result.name = record.config().name;
    result.phases.mark("create");
    fault_point("run.created");

    LogWriter log(record.paths().log());
    // Without a handler of the caller's, the output also goes to isolab's own stdout and stderr.
    OutputCapture output(logging_handler(log, options.on_output_line), !options.on_output_line);
    std::unique_ptr<kernel::TerminalHandoff> terminal_handoff;
    std::unique_ptr<kernel::TerminalRelay> terminal;
    auto plan = launch_plan(record.config(), record.paths(), image, options);
    auto container_network = network::attach_network(paths, options, image.config.exposed_ports, result.id, result.name,
                                                     record.config().hostname, record.paths().directory);
    if (container_network) add_network_mounts(plan, *container_network);
    if (options.tty) {
        terminal_handoff = std::make_unique<kernel::TerminalHandoff>();
        plan.terminal_socket = terminal_handoff->child_socket();
        plan.terminal_size = kernel::caller_window_size();
    }
    std::unique_ptr<kernel::Cgroup> cgroup;
    cgroup_warmup.wait();
    Launch launch(plan, output.child_stdout(), output.child_stderr());
    result.phases.mark("namespaces");
    if (container_network) {
        container_network->connect(launch.pid());
        result.phases.mark("network");
    }

    cgroup = kernel::create_cgroup(cgroup_host, "isolab-" + result.id);
    cgroup->apply(cgroup_limits(options));
    cgroup->add_process(launch.pid());
    result.phases.mark("cgroup");
    fault_point("run.cgroup");

    output.start_reading();
    mark_running(record, launch.pid());
    fault_point("run.running");
    SignalForwarding forwarding(launch.pid());
    bool started = launch.start(result.phases);
    if (terminal_handoff) terminal_handoff->close_child_socket();
    // The workload was executed only after its process had sent the terminal.
    if (started && terminal_handoff) terminal = std::make_unique<kernel::TerminalRelay>(options.interactive, terminal_handoff->receive_master());
    std::optional<HealthChecker> health;
    if (started) health.emplace(record.config(), record.paths(), launch.pid());
    int exit_code = !started  ? launch.child().wait()
                    : terminal ? terminal->relay([&] {
                                     cgroup->sample_memory();
                                     return launch.child().try_wait();
                                 })
                               : wait_for_exit(launch.child(), *cgroup);
    result.phases.mark("exit");
    // Stopped before the exit is recorded, so no check result lands after it. The checks
    // wrote state.json under its lock; the record keeps their health for the exit.
    health.reset();
    record.state().health = read_state(record.paths()).health;
    output.finish();

    result.memory_peak_bytes = cgroup->memory_peak();
    cgroup->remove();
    // As the monitor does: the network is free before the exit is recorded.
    container_network.reset();
    result.upper_dir_bytes = disk_usage(record.paths().upperdir());

    // A workload that could not be executed (126, 127) still makes an exited container,
    // as in Docker. An isolab failure (125) leaves no record behind.
    if (!started && launch.failure().exit_code() == 125) throw launch.failure();
    mark_exited(record, started ? exit_code : launch.failure().exit_code());
    if (!options.remove) {
        record.keep();
        volumes.keep();
    }
    if (!started) throw launch.failure();

    result.exit_code = exit_code;
    spdlog::debug("container {} exited with {} (memory peak {} bytes, upper dir {} bytes)", result.id, exit_code,
                  result.memory_peak_bytes, result.upper_dir_bytes);
    return result;
}

RunResult run(image::Store& store, const RunOptions& options) {
    check_options(options);
    check_host_can_run();
    return run_image_rootfs(store.paths(), load_image_rootfs(store, options.image), options);
}

ImageRootfs load_image_rootfs(image::Store& store, const std::string& reference) {
    std::optional<image::Image> found;
    try {
        found = store.resolve(reference);
    } catch (const Error& error) {
        // Image commands exit 1 for a missing image, but `docker run` and `create` exit 125.
        throw Error(error.what(), error.hint());
    }
    const auto& resolved = *found;
    return ImageRootfs{resolved.reference, resolved.config_digest, resolved.config, store.lowerdirs(resolved)};
}

}  // namespace isolab::container
