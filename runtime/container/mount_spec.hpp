#pragma once
// Mounts requested with `-v` and `--mount`, in Docker's syntax, and the resolved form a
// container's config.json stores. Parsing only checks the text; whether a volume or a
// bind source exists is decided later, when the mounts are planned.
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace isolab::container {

enum class MountType { volume, bind, tmpfs };

// "volume", "bind" or "tmpfs", as Docker names the types.
std::string to_string(MountType type);

// One -v or --mount value, parsed but not resolved.
struct MountRequest {
    MountType type = MountType::volume;
    std::string source;             // volume name (empty: anonymous volume) or absolute host path
    std::string target;             // absolute path inside the container
    bool read_only = false;
    std::string propagation;        // bind only: private, rprivate, slave or rslave; empty: rprivate
    bool no_copy = false;           // volume only: never fill a new volume with the image's content
    std::map<std::string, std::string> volume_labels;  // labels of a volume created for this mount
    bool create_host_path = false;  // -v creates a missing bind source; --mount rejects it
    std::string tmpfs_options;      // tmpfs only: "size=...,mode=..." as --tmpfs takes them
};

// Parses a -v value: "/path" (anonymous volume), "NAME:/path[:OPTIONS]" or
// "/host/path:/path[:OPTIONS]", with OPTIONS comma separated (ro, rw, nocopy, private,
// rprivate, slave, rslave, z, Z). Throws Error naming the value and what is wrong.
MountRequest parse_volume_option(std::string_view text);

// Parses a --mount value: comma separated KEY=VALUE fields in Docker's CSV syntax
// (type, source/src, target/destination/dst, readonly/ro, bind-propagation, volume-nocopy,
// volume-label, volume-driver, tmpfs-size, tmpfs-mode, consistency). Throws Error.
MountRequest parse_mount_option(std::string_view text);

// Splits one CSV record as Go's encoding/csv does, which Docker uses for --mount: a field
// that starts with '"' is quoted, "" inside it is one '"', and a quote inside an unquoted
// field is an error. Throws Error.
std::vector<std::string> split_csv_record(std::string_view text);

// Checks that no two requests mount on the same target. Throws Error naming the target.
void check_distinct_targets(const std::vector<MountRequest>& requests);

// A resolved mount as a container's config.json stores it (Docker's keys) and as the
// container's first process performs it.
struct ContainerMount {
    MountType type = MountType::volume;
    std::string name;                 // volume name; empty for bind and tmpfs
    std::filesystem::path source;     // host path: the volume's _data or the bind source
    std::string destination;          // absolute path inside the container
    bool read_only = false;
    std::string propagation;          // bind and volume: rprivate unless requested otherwise
    bool anonymous = false;           // an anonymous volume, removed with `rm -v` and `run --rm`
    bool copy_image_content = false;  // fill the volume with the image's content when it is empty
    std::string tmpfs_options;
};

void to_json(nlohmann::json& json, const ContainerMount& mount);
void from_json(const nlohmann::json& json, ContainerMount& mount);

}  // namespace isolab::container
