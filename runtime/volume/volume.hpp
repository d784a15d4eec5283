#pragma once
// Named and anonymous volumes: folders under <state root>/volumes/<name>/_data that
// containers mount and that outlive them. Each volume's metadata (volume.json) is written
// atomically, and every change takes the lock <state root>/volumes/.lock. A container run
// holds that lock from resolving its volumes until its record exists, so a volume is
// never removed between the two.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/core/paths.hpp"

namespace isolab::volume {

struct Volume {
    std::string name;
    std::filesystem::path mountpoint;   // <state root>/volumes/<name>/_data
    std::string created_at;             // RFC 3339, UTC, seconds
    std::map<std::string, std::string> labels;
    bool anonymous = false;             // created for a container; pruned by default
};

// A volume's data lives in a folder named after it, and a folder name has at most 255
// bytes (NAME_MAX on Linux).
inline constexpr size_t kMaxVolumeNameLength = 255;

// Checks a volume name against Docker's rule [a-zA-Z0-9][a-zA-Z0-9_.-]+ and the length
// limit above. Throws Error.
void validate_volume_name(std::string_view name);

// The lock file taken by every change of the volumes and by a run while it resolves them.
std::filesystem::path volumes_lock_path(const Paths& paths);

// Creates the volume `name`, or returns it when it exists, as `docker volume create`
// does. The caller holds the volumes lock.
Volume create_volume_locked(const Paths& paths, const std::string& name, const std::map<std::string, std::string>& labels,
                            bool anonymous);

// Takes the lock and creates a volume. An empty name gets a random one of 64 hex digits.
Volume create_volume(const Paths& paths, const std::string& name, const std::map<std::string, std::string>& labels);

std::optional<Volume> find_volume(const Paths& paths, const std::string& name);

// Every volume, sorted by name.
std::vector<Volume> list_volumes(const Paths& paths);

// Names of the containers, running or stopped, whose config mounts the volume.
std::vector<std::string> containers_using(const Paths& paths, const std::string& name);

// Removes a volume and its data. Throws Error while a container uses it (naming the
// container) and when it does not exist, unless `force`, as `docker volume rm -f`.
void remove_volume(const Paths& paths, const std::string& name, bool force);

// Removes each volume in `names` that no container uses any more, and keeps the others.
// `rm -v` and `run --rm` remove a container's anonymous volumes with it.
void remove_volumes_if_unused(const Paths& paths, const std::vector<std::string>& names);

struct PruneResult {
    std::vector<std::string> names;   // removed volumes
    std::uint64_t reclaimed_bytes = 0;
};

// Removes volumes no container uses: anonymous ones only unless `all`, as Docker 23 and
// later do.
PruneResult prune_volumes(const Paths& paths, bool all);

// Removes the folders under volumes/ that have no volume.json: what a `volume create`
// or `volume rm` killed halfway leaves. Returns their names. `system prune` calls it.
std::vector<std::string> prune_unfinished_volumes(const Paths& paths);

// Keeps the volumes that match every `volume ls --filter` value: dangling=true|false (no
// container uses it), name=TEXT (the name contains TEXT), label=KEY or label=KEY=VALUE.
// Throws Error for any other filter.
std::vector<Volume> filter_volumes(const Paths& paths, std::vector<Volume> volumes, const std::vector<std::string>& filters);

// The `volume ls` table (DRIVER, VOLUME NAME), or one name per line with `quiet`.
std::string volumes_table(const std::vector<Volume>& volumes, bool quiet);

// The `volume ls --format json` output: one JSON object per line, with Docker's keys
// Driver, Labels ("k=v,k2=v2"), Mountpoint, Name and Scope.
std::string volumes_json_lines(const std::vector<Volume>& volumes);

// Docker's inspect document of one volume: Name, Driver, Mountpoint, CreatedAt, Labels,
// Scope and Options.
nlohmann::json inspect_json(const Volume& volume);

}  // namespace isolab::volume
