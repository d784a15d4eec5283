#pragma once
// What the user requests of a container (`isolab run` and `create` options). The request
// is stored in the container's config.json, so `start`, `restart` and the monitor of a
// detached container can set the same container up again.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/core/clock.hpp"
#include "runtime/image/store.hpp"

namespace isolab::container {

// Receives each line the workload writes (without the newline) with the host time it
// arrived. Called on a reader thread owned by the run.
using OutputLineHandler = std::function<void(std::string_view line, bool is_stderr, Clock::time_point when)>;

struct RunOptions {
    std::string image;                      // reference or id prefix
    std::vector<std::string> command;       // empty: the image's Entrypoint + Cmd
    std::string name;                       // empty: generated
    bool remove = false;                    // --rm
    std::optional<std::uint64_t> memory_limit;  // bytes (-m)
    std::vector<std::string> env;           // "NAME=value" added to the image's Env
    std::optional<std::string> hostname;    // default: the first 12 hex digits of the id
    OutputLineHandler on_output_line;       // unset: output goes to this process's stdout/stderr

    bool init = false;                      // --init: isolab-init as pid 1, reaping orphans
    bool read_only = false;                 // --read-only rootfs
    std::vector<std::string> tmpfs;         // --tmpfs PATH[:OPTIONS]
    std::vector<std::string> devices;       // --device HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]]
    std::string user;                       // -u USER[:GROUP] or UID[:GID]; empty: the image's User
    std::string working_dir;                // -w; empty: the image's WorkingDir
    std::vector<std::string> cap_add;       // capability names, or ALL
    std::vector<std::string> cap_drop;
    bool privileged = false;                // all capabilities, no seccomp, no masked paths
    bool seccomp = true;                    // false: --security-opt seccomp=unconfined
    std::string seccomp_profile;            // --security-opt seccomp=FILE: the file's JSON text; empty: the default profile
    std::optional<std::int64_t> pids_limit; // --pids-limit; 0 or less: unlimited
    std::optional<double> cpus;             // --cpus
    std::optional<std::uint64_t> cpu_shares;   // --cpu-shares
    std::optional<std::int64_t> memory_swap;   // --memory-swap bytes (memory plus swap); -1: unlimited
    std::optional<std::string> entrypoint;  // --entrypoint: replaces the image's Entrypoint ("" removes it)
    std::string network;                    // --network: "bridge" or a user-defined network's name; "host" shares the host's; "none" or empty: only lo
    std::vector<std::string> network_aliases;  // --network-alias: more names the other members of a user-defined network resolve
    std::string pid_mode;                   // --pid: "host" shares the host's pid namespace; empty: own
    std::string ipc_mode;                   // --ipc: "host" shares the host's ipc namespace; empty: own
    bool interactive = false;               // -i: the workload reads this process's stdin
    bool tty = false;                       // -t: the workload gets a pseudo-terminal
    std::vector<std::string> volumes;       // -v values, as given
    std::vector<std::string> mounts;        // --mount values, as given
    std::string restart_policy = "no";         // --restart no, on-failure[:N] or always; used by the monitor
    std::map<std::string, std::string> labels;  // --label; compose stores its project and service here
    std::optional<image::Healthcheck> healthcheck;  // --health-* or --no-healthcheck; unset: the image's
    std::vector<std::string> publish;       // -p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL] values, as given
    bool publish_all = false;               // -P: each of the image's exposed ports on a free host port
    // Build steps: the workload gets SIGKILL when the isolab process that runs it dies,
    // and the container counts as exited once that process is gone, even if the workload
    // outlived it, so `system prune` ends and removes it.
    bool dies_with_owner = false;
};

// The stored form of a request; on_output_line is not stored. from_json accepts a
// request stored by an older isolab, taking defaults for missing fields.
void to_json(nlohmann::json& json, const RunOptions& options);
void from_json(const nlohmann::json& json, RunOptions& options);

}  // namespace isolab::container
