#include "runtime/container/mount_spec.hpp"

#include <set>

#include <fmt/format.h>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/volume/volume.hpp"

namespace isolab::container {

namespace {

const std::set<std::string> propagation_modes{"private", "rprivate", "slave", "rslave"};

Error invalid_volume(std::string_view text, const std::string& reason) {
    return Error("invalid -v '" + std::string(text) + "': " + reason,
                 "use -v NAME:/path[:ro], -v /host/path:/path[:ro] or -v /path");
}

Error invalid_mount(std::string_view text, const std::string& reason) {
    return Error("invalid --mount '" + std::string(text) + "': " + reason,
                 "e.g. --mount type=volume,source=data,target=/data,readonly");
}

std::vector<std::string> split(std::string_view text, char separator) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        auto end = text.find(separator, start);
        parts.emplace_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos) return parts;
        start = end + 1;
    }
}

// The kernel filesystem the container mounts for itself that a mount at `target` would
// hide: /proc or a path below it, /sys, or /dev/pts and below. "" when there is none. As
// runc does (libcontainer/rootfs_linux.go, checkProcMount), the files of /proc that lxcfs
// replaces may be mounted over.
std::string hidden_kernel_filesystem(const std::filesystem::path& target) {
    static const std::set<std::string> proc_files = {"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo",
                                                     "/proc/stat",    "/proc/swaps",     "/proc/uptime",
                                                     "/proc/loadavg", "/proc/slabinfo",  "/proc/net/dev",
                                                     "/proc/sys/kernel/ns_last_pid"};
    auto text = target.string();
    auto below = [&](const std::string& folder) { return text == folder || text.rfind(folder + "/", 0) == 0; };
    if (below("/proc") && !proc_files.count(text)) return "/proc";
    if (text == "/sys") return "/sys";
    if (below("/dev/pts")) return "/dev/pts";
    return "";
}

// Checks a target: absolute, not the root itself and not over the container's own /proc,
// /sys or /dev/pts. Returns the reason, or "" when valid.
std::string target_problem(const std::string& target) {
    if (target.empty()) return "the target path is missing";
    if (target.front() != '/') return "the target " + target + " is not an absolute path";
    auto normal = std::filesystem::path(target).lexically_normal();
    if (normal == "/") return "the target cannot be /";
    if (normal.string().size() > 1 && normal.string().back() == '/') normal = normal.parent_path();
    if (auto hidden = hidden_kernel_filesystem(normal); !hidden.empty()) {
        return "the target " + normal.string() + " would hide the container's own " + hidden;
    }
    return "";
}

void apply_volume_modes(std::string_view text, const std::string& modes, MountRequest& request) {
    std::set<std::string> seen;
    for (const auto& mode : split(modes, ',')) {
        if (!seen.insert(mode).second) throw invalid_volume(text, "the option " + mode + " is given twice");
        if (mode == "ro" || mode == "rw") {
            if (seen.count(mode == "ro" ? "rw" : "ro")) throw invalid_volume(text, "ro and rw contradict each other");
            request.read_only = mode == "ro";
        } else if (mode == "nocopy") {
            request.no_copy = true;
        } else if (propagation_modes.count(mode)) {
            if (!request.propagation.empty()) throw invalid_volume(text, "more than one propagation mode");
            request.propagation = mode;
        } else if (mode == "z" || mode == "Z") {
            // SELinux relabelling: nothing to do on a host without SELinux.
        } else if (mode == "shared" || mode == "rshared") {
            throw invalid_volume(text, mode + " propagation would let the container's mounts reach the host");
        } else {
            throw invalid_volume(text, "unknown option '" + mode + "'");
        }
    }
    if (request.type == MountType::bind && request.no_copy) throw invalid_volume(text, "nocopy applies to volumes only");
    if (request.type == MountType::volume && !request.propagation.empty()) {
        throw invalid_volume(text, "a propagation mode applies to bind mounts only");
    }
}

bool parse_bool(std::string_view text, const std::string& key, const std::string& value) {
    if (value.empty() || value == "true" || value == "1") return true;
    if (value == "false" || value == "0") return false;
    throw invalid_mount(text, "the value of " + key + " must be true or false, not '" + value + "'");
}

void set_mount_field(std::string_view text, const std::string& key, const std::string& value, bool has_value,
                     MountRequest& request, std::set<std::string>& used) {
    if (!has_value && key != "readonly" && key != "ro" && key != "volume-nocopy") {
        throw invalid_mount(text, "the field " + key + " needs a value (" + key + "=...)");
    }
    used.insert(key);
    if (key == "type") {
        if (value == "volume") request.type = MountType::volume;
        else if (value == "bind") request.type = MountType::bind;
        else if (value == "tmpfs") request.type = MountType::tmpfs;
        else throw invalid_mount(text, "unsupported type '" + value + "', use volume, bind or tmpfs");
    } else if (key == "source" || key == "src") {
        request.source = value;
    } else if (key == "target" || key == "destination" || key == "dst") {
        request.target = value;
    } else if (key == "readonly" || key == "ro") {
        request.read_only = parse_bool(text, key, value);
    } else if (key == "bind-propagation") {
        if (!propagation_modes.count(value)) {
            throw invalid_mount(text, "unsupported bind-propagation '" + value + "', use private, rprivate, slave or rslave");
        }
        request.propagation = value;
    } else if (key == "volume-nocopy") {
        request.no_copy = parse_bool(text, key, value);
    } else if (key == "volume-label") {
        auto equals = value.find('=');
        request.volume_labels[value.substr(0, equals)] = equals == std::string::npos ? "" : value.substr(equals + 1);
    } else if (key == "volume-driver") {
        if (value != "local") throw invalid_mount(text, "unsupported volume-driver '" + value + "', only local exists");
    } else if (key == "tmpfs-size") {
        request.tmpfs_options += fmt::format("{}size={}", request.tmpfs_options.empty() ? "" : ",", parse_size(value));
    } else if (key == "tmpfs-mode") {
        if (value.empty() || value.find_first_not_of("01234567") != std::string::npos) {
            throw invalid_mount(text, "tmpfs-mode must be an octal mode such as 1777, not '" + value + "'");
        }
        request.tmpfs_options += (request.tmpfs_options.empty() ? "mode=" : ",mode=") + value;
    } else if (key == "consistency") {
        // Docker Desktop's file sharing hint; a Linux host ignores it, as Docker does.
    } else {
        throw invalid_mount(text, "unknown field '" + key + "'");
    }
}

void check_mount_fields(std::string_view text, const MountRequest& request, const std::set<std::string>& used) {
    auto used_prefix = [&](const std::string& prefix) {
        for (const auto& key : used) {
            if (key.rfind(prefix, 0) == 0) return true;
        }
        return false;
    };
    auto type = to_string(request.type);
    if (request.type != MountType::volume && used_prefix("volume-")) {
        throw invalid_mount(text, "volume-* fields do not apply to type " + type);
    }
    if (request.type != MountType::bind && used.count("bind-propagation")) {
        throw invalid_mount(text, "bind-propagation does not apply to type " + type);
    }
    if (request.type != MountType::tmpfs && used_prefix("tmpfs-")) {
        throw invalid_mount(text, "tmpfs-* fields do not apply to type " + type);
    }
    if (request.type == MountType::tmpfs && !request.source.empty()) {
        throw invalid_mount(text, "a tmpfs mount takes no source");
    }
    if (request.type == MountType::bind) {
        if (request.source.empty()) throw invalid_mount(text, "a bind mount needs a source");
        if (request.source.front() != '/') {
            throw invalid_mount(text, "the bind source " + request.source + " is not an absolute path");
        }
    }
    if (request.type == MountType::volume && !request.source.empty()) volume::validate_volume_name(request.source);
    if (auto problem = target_problem(request.target); !problem.empty()) throw invalid_mount(text, problem);
}

}  // namespace

std::string to_string(MountType type) {
    switch (type) {
        case MountType::volume: return "volume";
        case MountType::bind: return "bind";
        case MountType::tmpfs: return "tmpfs";
    }
    return "volume";
}

MountRequest parse_volume_option(std::string_view text) {
    auto parts = split(text, ':');
    if (parts.size() > 3) throw invalid_volume(text, "too many ':' separated parts");

    MountRequest request;
    if (parts.size() == 1) {
        request.target = parts[0];
    } else {
        request.source = parts[0];
        request.target = parts[1];
        if (request.source.empty()) throw invalid_volume(text, "the source before ':' is empty");
    }
    if (auto problem = target_problem(request.target); !problem.empty()) throw invalid_volume(text, problem);

    if (!request.source.empty() && request.source.front() == '/') {
        request.type = MountType::bind;
        request.create_host_path = true;
    } else if (!request.source.empty()) {
        try {
            volume::validate_volume_name(request.source);
        } catch (const Error& error) {
            throw Error(error.what(), "give a host folder as an absolute path, e.g. -v \"$PWD/" + request.source + ":" +
                                          request.target + "\"");
        }
    }
    if (parts.size() == 3) apply_volume_modes(text, parts[2], request);
    return request;
}

std::vector<std::string> split_csv_record(std::string_view text) {
    std::vector<std::string> fields;
    size_t position = 0;
    while (true) {
        std::string field;
        if (position < text.size() && text[position] == '"') {
            ++position;
            while (true) {
                if (position >= text.size()) throw Error("invalid --mount '" + std::string(text) + "': a quote is not closed");
                if (text[position] == '"') {
                    if (position + 1 < text.size() && text[position + 1] == '"') {
                        field += '"';
                        position += 2;
                        continue;
                    }
                    ++position;
                    break;
                }
                field += text[position++];
            }
            if (position < text.size() && text[position] != ',') {
                throw Error("invalid --mount '" + std::string(text) + "': text after a closing quote",
                            "quote the whole field, e.g. \"source=/a,b\"");
            }
        } else {
            auto end = text.find(',', position);
            field = std::string(text.substr(position, end == std::string_view::npos ? std::string_view::npos : end - position));
            if (field.find('"') != std::string::npos) {
                throw Error("invalid --mount '" + std::string(text) + "': a quote inside an unquoted field",
                            "quote the whole field, e.g. \"source=/a,b\"");
            }
            position = end == std::string_view::npos ? text.size() : end;
        }
        fields.push_back(std::move(field));
        if (position >= text.size()) return fields;
        ++position;  // the comma
    }
}

MountRequest parse_mount_option(std::string_view text) {
    MountRequest request;
    std::set<std::string> used;
    for (const auto& field : split_csv_record(text)) {
        if (field.empty()) continue;
        auto equals = field.find('=');
        auto key = field.substr(0, equals);
        auto value = equals == std::string::npos ? std::string() : field.substr(equals + 1);
        if (used.count(key) && key != "volume-label") throw invalid_mount(text, "the field " + key + " is given twice");
        set_mount_field(text, key, value, equals != std::string::npos, request, used);
    }
    check_mount_fields(text, request, used);
    return request;
}

void check_distinct_targets(const std::vector<MountRequest>& requests) {
    std::set<std::string> targets;
    for (const auto& request : requests) {
        auto target = std::filesystem::path(request.target).lexically_normal().string();
        if (target.size() > 1 && target.back() == '/') target.pop_back();
        if (!targets.insert(target).second) {
            throw Error("duplicate mount point " + target, "mount one volume, bind or tmpfs per target");
        }
    }
}

void to_json(nlohmann::json& json, const ContainerMount& mount) {
    json = {{"Type", to_string(mount.type)},
            {"Name", mount.name},
            {"Source", mount.source.string()},
            {"Destination", mount.destination},
            {"RW", !mount.read_only},
            {"Propagation", mount.propagation},
            {"Anonymous", mount.anonymous},
            {"CopyImageContent", mount.copy_image_content},
            {"TmpfsOptions", mount.tmpfs_options}};
    if (mount.type == MountType::volume) json["Driver"] = "local";
}

void from_json(const nlohmann::json& json, ContainerMount& mount) {
    auto type = json.value("Type", "volume");
    mount.type = MountType::volume;
    if (type == "bind") mount.type = MountType::bind;
    if (type == "tmpfs") mount.type = MountType::tmpfs;
    mount.name = json.value("Name", "");
    mount.source = json.value("Source", "");
    mount.destination = json.value("Destination", "");
    mount.read_only = !json.value("RW", true);
    mount.propagation = json.value("Propagation", "");
    mount.anonymous = json.value("Anonymous", false);
    mount.copy_image_content = json.value("CopyImageContent", false);
    mount.tmpfs_options = json.value("TmpfsOptions", "");
}

}  // namespace isolab::container
