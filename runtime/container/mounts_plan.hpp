#pragma once
// The mounts of one container run: the -v and --mount requests and the image's Volumes,
// resolved into volumes and bind sources before the container's record is created, and
// performed inside the rootfs by the container's first process.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "runtime/container/mount_spec.hpp"
#include "runtime/container/run_options.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/paths.hpp"
#include "runtime/image/store.hpp"

namespace isolab::container {

// Parses every -v and --mount value of `options` and checks that no two share a target.
// Throws Error before anything is created.
std::vector<MountRequest> parse_mount_requests(const RunOptions& options);

// Owns the volumes resolved for a run. The constructor takes the volumes lock and creates
// the named volumes that do not exist yet, which stay, as Docker keeps them. It creates
// an anonymous volume for each -v /path, each --mount without a source and each path of
// the image's Volumes that no other mount covers. It creates a missing -v bind source and
// rejects a missing --mount bind source. The destructor removes the anonymous volumes
// unless keep() was called.
class VolumeSetup {
public:
    VolumeSetup(const Paths& paths, const image::RunConfig& image_config, const RunOptions& options);
    ~VolumeSetup();
    VolumeSetup(const VolumeSetup&) = delete;
    VolumeSetup& operator=(const VolumeSetup&) = delete;

    // Every mount, parents before the mounts below them.
    const std::vector<ContainerMount>& mounts() const { return mounts_; }
    // Releases the volumes lock, once the container's record names the volumes.
    void unlock() { lock_.reset(); }
    // Leaves the anonymous volumes in place: the container that uses them is kept.
    void keep() { kept_ = true; }

private:
    Paths paths_;
    std::unique_ptr<FileLock> lock_;
    std::vector<ContainerMount> mounts_;
    std::vector<std::string> anonymous_;
    bool kept_ = false;
};

// Names of the anonymous volumes among `mounts`.
std::vector<std::string> anonymous_volume_names(const std::vector<ContainerMount>& mounts);

// Performs the mounts inside `rootfs` in order, first filling an empty volume with the
// image's content where the mount requests it. Runs in the container's first process.
void mount_container_mounts(const std::filesystem::path& rootfs, const std::vector<ContainerMount>& mounts);

}  // namespace isolab::container
