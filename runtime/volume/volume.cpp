#include "runtime/volume/volume.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <functional>

#include <fmt/format.h>

#include "runtime/container/record.hpp"
#include "runtime/core/clock.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/fault.hpp"
#include "runtime/core/text.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"

namespace isolab::volume {

namespace fs = std::filesystem;

namespace {

fs::path volume_directory(const Paths& paths, const std::string& name) { return paths.volumes() / name; }
fs::path metadata_path(const Paths& paths, const std::string& name) { return volume_directory(paths, name) / "volume.json"; }

std::optional<Volume> load_volume(const Paths& paths, const std::string& name) {
    auto metadata = metadata_path(paths, name);
    std::error_code error;
    if (!fs::exists(metadata, error)) return std::nullopt;
    try {
        auto json = nlohmann::json::parse(read_file(metadata));
        Volume volume;
        volume.name = name;
        volume.mountpoint = volume_directory(paths, name) / "_data";
        volume.created_at = json.value("CreatedAt", "");
        volume.labels = json.value("Labels", std::map<std::string, std::string>{});
        volume.anonymous = json.value("Anonymous", false);
        return volume;
    } catch (const std::exception& problem) {
        // The data in _data is intact: keep the volume usable and removable, with no labels.
        spdlog::warn("volume {} has a damaged volume.json ({}): its data is kept, and `isolab volume rm {}` removes it",
                     name, problem.what(), name);
        Volume volume;
        volume.name = name;
        volume.mountpoint = volume_directory(paths, name) / "_data";
        return volume;
    }
}

// Removes a volume's folder. The caller holds the lock and checked that it is unused.
void delete_volume(const Paths& paths, const std::string& name) {
    // The metadata goes first, so a removal cut short leaves no half volume behind that
    // `volume ls` would list.
    std::error_code error;
    fs::remove(metadata_path(paths, name), error);
    fs::remove_all(volume_directory(paths, name), error);
    if (error) throw Error("cannot remove volume " + name + ": " + error.message());
    spdlog::debug("volume: removed {}", name);
}

std::string format_users(const std::vector<std::string>& users) {
    std::string text;
    for (const auto& user : users) text += (text.empty() ? "" : ", ") + user;
    return text;
}

}  // namespace

void validate_volume_name(std::string_view name) {
    if (name.size() < 2 || !is_object_name(name)) {
        throw Error("invalid volume name '" + printable(name) +
                        "': it must be at least two characters of [a-zA-Z0-9_.-] and start with a letter or digit",
                    "e.g. app-data");
    }
    if (name.size() > kMaxVolumeNameLength) {
        throw Error(fmt::format("invalid volume name '{}': it has {} characters, more than the {} a folder name may have",
                                printable(name), name.size(), kMaxVolumeNameLength),
                    "choose a shorter name");
    }
}

fs::path volumes_lock_path(const Paths& paths) {
    fs::create_directories(paths.volumes());
    return paths.volumes() / ".lock";
}

Volume create_volume_locked(const Paths& paths, const std::string& name, const std::map<std::string, std::string>& labels,
                            bool anonymous) {
    validate_volume_name(name);
    if (auto existing = load_volume(paths, name)) return *existing;

    auto directory = volume_directory(paths, name);
    std::error_code error;
    fs::remove_all(directory, error);  // a folder without volume.json is a removal cut short
    if (mkdir(directory.c_str(), 0701) != 0) throw_errno("cannot create volume folder " + directory.string());
    fault_point("volume.folder");
    try {
        Volume volume{name, directory / "_data", utc_timestamp(), labels, anonymous};
        if (mkdir(volume.mountpoint.c_str(), 0755) != 0) throw_errno("cannot create " + volume.mountpoint.string());
        nlohmann::json metadata = {{"CreatedAt", volume.created_at}, {"Labels", labels}, {"Anonymous", anonymous}};
        write_file_atomic(metadata_path(paths, name), metadata.dump(2) + "\n");
        spdlog::debug("volume: created {}{}", name, anonymous ? " (anonymous)" : "");
        return volume;
    } catch (...) {
        fs::remove_all(directory, error);
        throw;
    }
}

Volume create_volume(const Paths& paths, const std::string& name, const std::map<std::string, std::string>& labels) {
    auto chosen = name.empty() ? random_hex_id() : name;
    validate_volume_name(chosen);
    FileLock lock(volumes_lock_path(paths));
    return create_volume_locked(paths, chosen, labels, false);
}

std::optional<Volume> find_volume(const Paths& paths, const std::string& name) {
    if (name.empty() || name.front() == '.' || name.find('/') != std::string::npos) return std::nullopt;
    return load_volume(paths, name);
}

std::vector<Volume> list_volumes(const Paths& paths) {
    std::vector<Volume> volumes;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(paths.volumes(), error)) {
        if (!entry.is_directory()) continue;
        if (auto volume = load_volume(paths, entry.path().filename().string())) volumes.push_back(std::move(*volume));
    }
    std::sort(volumes.begin(), volumes.end(), [](const Volume& a, const Volume& b) { return a.name < b.name; });
    return volumes;
}

std::vector<std::string> containers_using(const Paths& paths, const std::string& name) {
    std::vector<std::string> users;
    for (const auto& container : container::list_containers(paths)) {
        for (const auto& mount : container.config.mounts) {
            if (mount.type == container::MountType::volume && mount.name == name) {
                users.push_back(container.config.name + " (" + container.config.id.substr(0, 12) + ")");
                break;
            }
        }
    }
    return users;
}

void remove_volume(const Paths& paths, const std::string& name, bool force) {
    FileLock lock(volumes_lock_path(paths));
    if (!find_volume(paths, name)) {
        if (force) return;
        throw Error("no such volume: " + name, "list them with 'isolab volume ls'");
    }
    auto users = containers_using(paths, name);
    if (!users.empty()) {
        throw Error("volume " + name + " is in use by container " + format_users(users),
                    "remove the container first (isolab rm), then the volume");
    }
    delete_volume(paths, name);
}

void remove_volumes_if_unused(const Paths& paths, const std::vector<std::string>& names) {
    if (names.empty()) return;
    FileLock lock(volumes_lock_path(paths));
    for (const auto& name : names) {
        if (!find_volume(paths, name)) continue;
        auto users = containers_using(paths, name);
        if (!users.empty()) {
            spdlog::debug("volume: keeping {}, still used by {}", name, format_users(users));
            continue;
        }
        delete_volume(paths, name);
    }
}

PruneResult prune_volumes(const Paths& paths, bool all) {
    PruneResult result;
    if (!fs::exists(paths.volumes())) return result;
    FileLock lock(volumes_lock_path(paths));
    for (const auto& volume : list_volumes(paths)) {
        if (!all && !volume.anonymous) continue;
        if (!containers_using(paths, volume.name).empty()) continue;
        auto bytes = disk_usage(volume.mountpoint);
        try {
            delete_volume(paths, volume.name);
        } catch (const Error& error) {
            spdlog::warn("prune: {}", error.what());
            continue;
        }
        result.names.push_back(volume.name);
        result.reclaimed_bytes += bytes;
    }
    return result;
}

std::vector<std::string> prune_unfinished_volumes(const Paths& paths) {
    std::vector<std::string> removed;
    if (!fs::exists(paths.volumes())) return removed;
    // create_volume_locked and delete_volume run under this lock, so a folder without
    // volume.json seen under it is not being created or removed right now.
    FileLock lock(volumes_lock_path(paths));
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(paths.volumes(), error)) {
        auto name = entry.path().filename().string();
        if (name.front() == '.' || !entry.is_directory() || fs::exists(metadata_path(paths, name))) continue;
        std::error_code removal;
        fs::remove_all(entry.path(), removal);
        if (removal) {
            spdlog::warn("prune: cannot remove unfinished volume folder {}: {}", entry.path().string(), removal.message());
        } else {
            removed.push_back(name);
        }
    }
    return removed;
}

std::vector<Volume> filter_volumes(const Paths& paths, std::vector<Volume> volumes, const std::vector<std::string>& filters) {
    for (const auto& filter : filters) {
        auto equals = filter.find('=');
        auto key = filter.substr(0, equals);
        auto value = equals == std::string::npos ? std::string() : filter.substr(equals + 1);
        std::function<bool(const Volume&)> keep;
        if (key == "dangling" && (value == "true" || value == "1" || value == "false" || value == "0")) {
            bool dangling = value == "true" || value == "1";
            keep = [&, dangling](const Volume& volume) { return containers_using(paths, volume.name).empty() == dangling; };
        } else if (key == "name" && !value.empty()) {
            keep = [value](const Volume& volume) { return volume.name.find(value) != std::string::npos; };
        } else if (key == "label" && !value.empty()) {
            auto label_equals = value.find('=');
            auto label = value.substr(0, label_equals);
            keep = [value, label, label_equals](const Volume& volume) {
                auto found = volume.labels.find(label);
                if (found == volume.labels.end()) return false;
                return label_equals == std::string::npos || found->second == value.substr(label_equals + 1);
            };
        } else {
            throw Error("invalid filter '" + filter + "'", "use dangling=true|false, name=TEXT or label=KEY[=VALUE]");
        }
        std::erase_if(volumes, [&](const Volume& volume) { return !keep(volume); });
    }
    return volumes;
}

std::string volumes_table(const std::vector<Volume>& volumes, bool quiet) {
    std::string table = quiet ? "" : fmt::format("{:<10}{}\n", "DRIVER", "VOLUME NAME");
    for (const auto& volume : volumes) {
        table += quiet ? volume.name + "\n" : fmt::format("{:<10}{}\n", "local", volume.name);
    }
    return table;
}

std::string volumes_json_lines(const std::vector<Volume>& volumes) {
    std::string lines;
    for (const auto& volume : volumes) {
        std::string labels;
        for (const auto& [key, value] : volume.labels) labels += (labels.empty() ? "" : ",") + key + "=" + value;
        nlohmann::json line = {{"Driver", "local"},
                               {"Labels", labels},
                               {"Mountpoint", volume.mountpoint.string()},
                               {"Name", volume.name},
                               {"Scope", "local"}};
        lines += line.dump() + "\n";
    }
    return lines;
}

nlohmann::json inspect_json(const Volume& volume) {
    return {{"CreatedAt", volume.created_at},
            {"Driver", "local"},
            {"Labels", volume.labels},
            {"Mountpoint", volume.mountpoint.string()},
            {"Name", volume.name},
            {"Options", nlohmann::json::object()},
            {"Scope", "local"}};
}

}  // namespace isolab::volume
