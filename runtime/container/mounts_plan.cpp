#include "runtime/container/mounts_plan.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"
#include "runtime/linux/bind_mounts.hpp"
#include "runtime/linux/mounts.hpp"
#include "runtime/volume/volume.hpp"

namespace isolab::container {

namespace fs = std::filesystem;

namespace {

std::string normal_target(const std::string& target) {
    auto normal = fs::path(target).lexically_normal().string();
    if (normal.size() > 1 && normal.back() == '/') normal.pop_back();
    return normal;
}

size_t depth(const std::string& target) {
    return static_cast<size_t>(std::count(target.begin(), target.end(), '/'));
}

fs::path bind_source(const MountRequest& request) {
    fs::path source = fs::path(request.source).lexically_normal();
    std::error_code error;
    if (fs::exists(source, error)) return source;
    if (!request.create_host_path) {
        throw Error("bind source path does not exist: " + source.string(),
                    "create it first, or use -v, which creates a missing host folder");
    }
    fs::create_directories(source, error);
    if (error) throw Error("cannot create bind source " + source.string() + ": " + error.message());
    spdlog::debug("mount: created missing bind source {}", source.string());
    return source;
}

}  // namespace

std::vector<MountRequest> parse_mount_requests(const RunOptions& options) {
    std::vector<MountRequest> requests;
    for (const auto& text : options.volumes) requests.push_back(parse_volume_option(text));
    for (const auto& text : options.mounts) requests.push_back(parse_mount_option(text));
    check_distinct_targets(requests);
    return requests;
}

VolumeSetup::VolumeSetup(const Paths& paths, const image::RunConfig& image_config, const RunOptions& options)
    : paths_(paths) {
    auto requests = parse_mount_requests(options);
    std::set<std::string> targets;
    for (const auto& request : requests) targets.insert(normal_target(request.target));
    for (const auto& path : image_config.volumes) {
        if (path.empty() || path.front() != '/' || targets.count(normal_target(path))) continue;
        MountRequest request;
        request.target = path;
        requests.push_back(request);
        targets.insert(normal_target(path));
    }

    bool needs_volumes = std::any_of(requests.begin(), requests.end(),
                                     [](const MountRequest& request) { return request.type == MountType::volume; });
    if (needs_volumes) lock_ = std::make_unique<FileLock>(volume::volumes_lock_path(paths_));

    try {
        for (const auto& request : requests) {
            ContainerMount mount;
            mount.type = request.type;
            mount.destination = normal_target(request.target);
            mount.read_only = request.read_only;
            mount.tmpfs_options = request.tmpfs_options;
            if (request.type == MountType::bind) {
                mount.source = bind_source(request);
                mount.propagation = request.propagation.empty() ? "rprivate" : request.propagation;
            } else if (request.type == MountType::volume) {
                mount.anonymous = request.source.empty();
                auto name = mount.anonymous ? random_hex_id() : request.source;
                auto volume = volume::create_volume_locked(paths_, name, request.volume_labels, mount.anonymous);
                if (mount.anonymous) anonymous_.push_back(name);
                mount.name = volume.name;
                mount.source = volume.mountpoint;
                mount.copy_image_content = !request.no_copy;
            }
            mounts_.push_back(std::move(mount));
        }
    } catch (...) {
        lock_.reset();  // flock(2) would block on a second lock of the same file
        volume::remove_volumes_if_unused(paths_, anonymous_);
        throw;
    }
    std::stable_sort(mounts_.begin(), mounts_.end(), [](const ContainerMount& a, const ContainerMount& b) {
        return depth(a.destination) < depth(b.destination);
    });
}

VolumeSetup::~VolumeSetup() {
    if (kept_ || anonymous_.empty()) return;
    lock_.reset();
    try {
        volume::remove_volumes_if_unused(paths_, anonymous_);
    } catch (const Error& error) {
        spdlog::warn("cannot remove the anonymous volumes of the container: {}", error.what());
    }
}

std::vector<std::string> anonymous_volume_names(const std::vector<ContainerMount>& mounts) {
    std::vector<std::string> names;
    for (const auto& mount : mounts) {
        if (mount.type == MountType::volume && mount.anonymous) names.push_back(mount.name);
    }
    return names;
}

void mount_container_mounts(const fs::path& rootfs, const std::vector<ContainerMount>& mounts) {
    for (const auto& mount : mounts) {
        if (mount.type == MountType::tmpfs) {
            auto options = mount.tmpfs_options;
            if (mount.read_only) options += options.empty() ? "ro" : ",ro";
            kernel::mount_tmpfs(rootfs, kernel::parse_tmpfs(mount.destination + (options.empty() ? "" : ":" + options)));
            continue;
        }
        if (mount.copy_image_content) kernel::copy_image_content(rootfs, mount.destination, mount.source);
        kernel::BindMount bind;
        bind.source = mount.source;
        bind.target = mount.destination;
        bind.read_only = mount.read_only;
        bind.slave = mount.propagation == "slave" || mount.propagation == "rslave";
        bind.recursive = mount.propagation != "private" && mount.propagation != "slave";
        kernel::bind_mount(rootfs, bind);
    }
}

}  // namespace isolab::container
