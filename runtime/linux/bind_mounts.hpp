#pragma once
// Bind mounts of host folders and files into a container's rootfs, and the copy that
// fills a new volume with the image's content at its target. Like mounts.hpp, these run
// in the container's first process, inside its private mount namespace, before
// pivot_root: targets are resolved inside the rootfs, so a symbolic link in the image can
// never lead a mount or the copy to a host path.
#include <filesystem>

namespace isolab::kernel {

struct BindMount {
    std::filesystem::path source;   // host path, trusted (a volume's _data or a bind source)
    std::filesystem::path target;   // absolute, inside the container
    bool read_only = false;
    bool slave = false;             // propagation slave/rslave; otherwise private/rprivate
    bool recursive = true;          // rbind (rprivate, rslave) or a plain bind (private, slave)
};

// Binds `mount.source` on its target inside `rootfs` (a file or a folder, as the source
// is), sets its propagation, and with `read_only` remounts it MS_RDONLY, keeping its
// nosuid, nodev and noexec flags. Mounts below a recursive read-only bind are made
// read-only too (mount_setattr, Linux 5.12 and later).
void bind_mount(const std::filesystem::path& rootfs, const BindMount& mount);

// Copies the content of `path` inside `rootfs` into the host folder `destination` when
// `destination` is empty and `path` is a folder in the image, keeping owners, modes,
// times and symbolic links (never following them). The folder's own owner and mode go
// to `destination`, as Docker fills a new volume. Returns true when it copied.
bool copy_image_content(const std::filesystem::path& rootfs, const std::filesystem::path& path,
                        const std::filesystem::path& destination);

}  // namespace isolab::kernel
