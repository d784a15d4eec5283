#pragma once
// Host folders shared with a guest (`vm run -v HOST:GUEST[:ro]`): virtio-9p devices in
// the domain XML and the mounts isolab-init performs. QEMU runs as an unprivileged user
// (libvirt-qemu on Debian) and opens the host folder itself, so the folder must be
// reachable by that user. isolab checks that and does not change the permissions of a
// folder it did not create.
// NOTE: virtiofs is not used, although Debian 12's qemu-system-common 7.2 ships
// /usr/lib/qemu/virtiofsd. Debian 12's libvirt 9.0 rejects <readonly/> on a virtiofs
// filesystem ("virtiofs does not yet support read-only mode"), and virtiofs requires
// shared guest memory (memfd backing), which no isolab domain has yet.
#include <sys/stat.h>
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "vmdriver/guest/initramfs.hpp"
#include "vmdriver/libvirt/domain_xml.hpp"

namespace isolab::vm {

// True when the permission bits of `status` grant `bits` (a combination of 4, 2, 1) to
// the user `uid` in the group `gid`, as the kernel picks the owner, group or other class.
// NOTE: supplementary groups and ACLs are not considered, nor the capabilities of a QEMU
// that runs as root (the embedded driver's keeps CAP_DAC_OVERRIDE), so root is checked
// more strictly than the kernel would.
bool grants(const struct stat& status, uid_t uid, gid_t gid, unsigned bits);

struct SharedFolderRequest {
    std::filesystem::path host;  // absolute
    std::string guest;           // absolute path in the guest
    bool read_only = false;
};

// Parses -v values in Docker's syntax, HOST:GUEST[:ro|rw]. Throws Error for a named or
// anonymous volume (a VM shares host folders only), a relative path or a guest path used
// twice.
std::vector<SharedFolderRequest> parse_shared_folders(const std::vector<std::string>& values);

// The domain's and the guest's side of the shared folders.
struct SharedFolders {
    std::vector<libvirt::SharedFolder> devices;
    std::vector<guest::Workload::SharedMount> mounts;
};

// Creates a missing host folder (and its parents, mode 0755) and hands the new folder to
// the QEMU user `qemu_uid`:`qemu_gid`, so the guest can write to it, as Docker creates a
// missing bind source. Then checks that the QEMU user can enter every folder on the path
// and read the shared folder. Throws Error naming the first folder it cannot pass.
SharedFolders prepare_shared_folders(const std::vector<SharedFolderRequest>& requests, uid_t qemu_uid, gid_t qemu_gid);

}  // namespace isolab::vm
