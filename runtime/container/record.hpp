#pragma once
// The container record: what a container was created from (config.json) and what became
// of it (state.json), kept under <state root>/containers/<id>/ beside its overlayfs upper
// and work folders. Both files are written atomically, so a reader never sees half a file.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/container/health.hpp"
#include "runtime/container/mount_spec.hpp"
#include "runtime/container/run_options.hpp"
#include "runtime/core/paths.hpp"

namespace isolab::container {

struct ContainerConfig {
    std::string id;                     // 64 hex digits
    std::string name;
    std::string image;                  // the reference as given
    std::string image_id;               // "sha256:..." of the image config
    std::vector<std::string> command;   // argv of the workload
    std::vector<std::string> env;
    std::string working_dir;
    std::string user;                   // USER[:GROUP] of the workload (-u or the image's User); empty: root
    std::string hostname;
    std::optional<std::uint64_t> memory_limit;
    std::string created;                // RFC 3339, UTC
    RunOptions request;                 // the options it was created with
    std::vector<ContainerMount> mounts; // volumes, binds and tmpfs mounts, resolved at creation
    std::string stop_signal;            // the image's StopSignal; empty: SIGTERM
    std::optional<image::Healthcheck> healthcheck;  // the image's, overridden by the request
    std::vector<std::string> shell;     // the image's Shell, which runs CMD-SHELL checks; empty: /bin/sh -c
};

struct ContainerState {
    std::string status = "created";     // created, running, restarting, exited
    pid_t pid = 0;                      // host pid of the container's first process while running
    std::optional<int> exit_code;
    std::string started_at;
    std::string finished_at;
    // Process start times (clock ticks after boot, /proc/PID/stat field 22), so that a
    // pid reused by another process after the container ended is not taken for it.
    std::uint64_t pid_start_ticks = 0;
    pid_t monitor_pid = 0;              // the owner: the monitor, or `isolab run` in the foreground
    std::uint64_t monitor_start_ticks = 0;
    int restart_count = 0;              // restarts by the restart policy since the last start
    bool oom_killed = false;            // the kernel killed a process of the last run for memory
    bool manually_stopped = false;      // stop, kill or rm -f ended it: the restart policy stops
    std::optional<Health> health;       // set while a health check is configured; kept after the exit
};

void to_json(nlohmann::json& json, const ContainerConfig& config);
void from_json(const nlohmann::json& json, ContainerConfig& config);
void to_json(nlohmann::json& json, const ContainerState& state);
void from_json(const nlohmann::json& json, ContainerState& state);

// The current UTC time in RFC 3339 with nanoseconds, as Docker prints it.
std::string rfc3339_now();

// Folder layout of one container.
struct ContainerPaths {
    std::filesystem::path directory;
    std::filesystem::path config() const { return directory / "config.json"; }
    std::filesystem::path state() const { return directory / "state.json"; }
    std::filesystem::path upperdir() const { return directory / "upper"; }
    std::filesystem::path workdir() const { return directory / "work"; }
    std::filesystem::path rootfs() const { return directory / "rootfs"; }
    // The output log, named <id>-json.log as Docker's json-file driver names it.
    std::filesystem::path log() const { return directory / (directory.filename().string() + "-json.log"); }
};

ContainerPaths container_paths(const Paths& paths, const std::string& id);

// A container's folder and record, created by the constructor. The destructor removes
// the folder with everything in it unless keep() was called (a container run without --rm).
class ContainerRecord {
public:
    // Creates <state root>/containers/<id>/ with config.json, state.json and the rootfs
    // folders. Throws Error when the name is already taken by another container.
    ContainerRecord(const Paths& paths, ContainerConfig config);
    ~ContainerRecord();
    ContainerRecord(const ContainerRecord&) = delete;
    ContainerRecord& operator=(const ContainerRecord&) = delete;

    const ContainerConfig& config() const { return config_; }
    const ContainerPaths& paths() const { return paths_; }
    ContainerState& state() { return state_; }
    // Writes state.json.
    void save_state();
    // Leaves the folder in place when this object goes away.
    void keep() { kept_ = true; }

private:
    ContainerConfig config_;
    ContainerPaths paths_;
    ContainerState state_;
    bool kept_ = false;
};

// A container as found on disk.
struct StoredContainer {
    ContainerConfig config;
    ContainerState state;
    ContainerPaths paths;
};

// Every container under the state root, oldest first.
std::vector<StoredContainer> list_containers(const Paths& paths);

// Finds a container by name, full id or unique id prefix; nullopt when there is none.
// Throws Error when a prefix matches several containers.
std::optional<StoredContainer> find_container(const Paths& paths, const std::string& name_or_id);

}  // namespace isolab::container
