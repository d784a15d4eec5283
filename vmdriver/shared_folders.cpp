#include "vmdriver/shared_folders.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "runtime/container/mount_spec.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"

namespace isolab::vm {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void throw_unreachable(const fs::path& shared, const fs::path& folder, const struct stat& status,
                                    const char* needed, uid_t uid) {
    throw Error(fmt::format("QEMU (uid {}) cannot {} {} of shared folder {}: mode {:04o}, owner {}:{}", uid, needed,
                            folder.string(), shared.string(), status.st_mode & 07777, status.st_uid, status.st_gid),
                fmt::format("let others enter it with chmod o+x '{}', or share a folder under a path others may enter",
                            folder.string()));
}

void check_reachable(const fs::path& shared, uid_t uid, gid_t gid) {
    for (fs::path folder = shared.parent_path();; folder = folder.parent_path()) {
        struct stat status {};
        if (stat(folder.c_str(), &status) != 0) throw_errno("cannot read " + folder.string());
        if (!grants(status, uid, gid, 1)) throw_unreachable(shared, folder, status, "enter", uid);
        if (folder == folder.root_path()) break;
    }
    struct stat status {};
    if (stat(shared.c_str(), &status) != 0) throw_errno("cannot read shared folder " + shared.string());
    if (!grants(status, uid, gid, 5)) throw_unreachable(shared, shared, status, "list", uid);
}

// Creates `folder` when it is missing and hands the newly created folder to the QEMU user.
void create_missing(const fs::path& folder, uid_t uid, gid_t gid) {
    std::error_code error;
    if (fs::exists(folder, error)) {
        if (!fs::is_directory(folder)) {
            throw Error(fmt::format("invalid shared folder {}: it is not a folder", folder.string()),
                        "a VM shares folders only; share the folder that contains the file");
        }
        return;
    }
    fs::create_directories(folder);
    fs::permissions(folder, fs::perms(0755));
    if (chown(folder.c_str(), uid, gid) != 0) throw_errno("cannot hand the new folder " + folder.string() + " to QEMU");
    spdlog::debug("created shared folder {} for QEMU user {}:{}", folder.string(), uid, gid);
}

}  // namespace

bool grants(const struct stat& status, uid_t uid, gid_t gid, unsigned bits) {
    unsigned mode = status.st_mode;
    unsigned granted = mode & 7;
    if (status.st_uid == uid) {
        granted = (mode >> 6) & 7;
    } else if (status.st_gid == gid) {
        granted = (mode >> 3) & 7;
    }
    return (granted & bits) == bits;
}

std::vector<SharedFolderRequest> parse_shared_folders(const std::vector<std::string>& values) {
    std::vector<container::MountRequest> parsed;
    std::vector<SharedFolderRequest> requests;
    for (const auto& value : values) {
        auto request = container::parse_volume_option(value);
        if (request.type != container::MountType::bind) {
            throw Error(fmt::format("invalid -v '{}' for a VM: a VM shares host folders only, not volumes", value),
                        "give the host folder as an absolute path: -v /host/folder:/guest/folder[:ro]");
        }
        requests.push_back({fs::path(request.source).lexically_normal(), request.target, request.read_only});
        parsed.push_back(std::move(request));
    }
    container::check_distinct_targets(parsed);
    return requests;
}

SharedFolders prepare_shared_folders(const std::vector<SharedFolderRequest>& requests, uid_t qemu_uid, gid_t qemu_gid) {
    SharedFolders folders;
    for (size_t index = 0; index < requests.size(); ++index) {
        const auto& request = requests[index];
        create_missing(request.host, qemu_uid, qemu_gid);
        check_reachable(request.host, qemu_uid, qemu_gid);
        // virtio-9p mount tags are at most 31 bytes; the host path could be longer.
        std::string tag = "isolab" + std::to_string(index);
        folders.devices.push_back({request.host, tag, request.read_only});
        folders.mounts.push_back({tag, request.guest, request.read_only});
    }
    return folders;
}

}  // namespace isolab::vm
