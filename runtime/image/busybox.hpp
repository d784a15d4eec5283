#pragma once
// The built-in `busybox:latest` image, made locally from the host's statically linked
// busybox (Debian package busybox-static), so isolab needs no registry to run anything.
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/image/layer_pack.hpp"

namespace isolab::image {

inline constexpr const char* busybox_reference = "busybox:latest";
inline constexpr const char* default_path_env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The busybox binary to use: $ISOLAB_BUSYBOX, or /bin/busybox.
std::filesystem::path busybox_binary();

// Throws Error (with the hint "install busybox-static") unless `binary` is a statically
// linked ELF executable, because the image has no shared libraries for it to load.
void check_static_binary(const std::filesystem::path& binary);

// The first line busybox prints about itself, e.g. "BusyBox v1.35.0 (Debian 1:1.35.0-4+b3)".
std::string busybox_version(const std::filesystem::path& binary);

// The rootfs entries: /bin/busybox, one relative symbolic link per applet (as
// `busybox --list-full` lists them), /etc/passwd and /etc/group with root, a normal
// user `user` (1000:1000) and nobody, /tmp (1777), /root, /home/user, and empty /proc,
// /sys and /dev as mount points.
std::vector<TarEntry> busybox_rootfs(const std::filesystem::path& binary);

}  // namespace isolab::image
