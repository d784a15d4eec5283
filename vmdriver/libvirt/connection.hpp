#pragma once
// Connection: one open libvirt connection (virConnectPtr), closed by the destructor.
//
// The first connection starts libvirt's default event loop on a thread of its own, which
// console streams and domain lifecycle events need. libvirt's own error printing to
// stderr is switched off; failures become isolab::Error with a hint.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace isolab::vm::libvirt {

// The URI to connect to: `requested` when not empty, else ISOLAB_LIBVIRT_URI, else
// qemu:///system.
std::string resolve_uri(std::string_view requested);

// The root folder of an embedded QEMU driver URI (qemu:///embed?root=DIR), else empty.
// An embedded driver runs inside the isolab process: no libvirtd, one process at a time
// per root, and its own qemu.conf under DIR/etc.
std::filesystem::path embedded_root(std::string_view uri);

// The embedded-driver URI for `root`.
std::string embedded_uri(const std::filesystem::path& root);

// An embedded driver reads DIR/etc/qemu.conf, and without one it runs QEMU as
// libvirt-qemu, like the system driver. Where only root may open /dev/kvm, each capability
// lookup then finds its cached probe stale and probes QEMU again, for seconds each time.
// The embedded driver belongs to isolab, which runs as root, so this writes a qemu.conf
// that runs QEMU as root too. An existing qemu.conf is left as it is.
void prepare_embedded_root(const std::filesystem::path& root);

// Returns true when `uri` is an embedded driver whose qemu.conf is still the one isolab
// writes, which runs QEMU as root. Then QEMU's user is known without reading the
// capabilities (about 30 ms per start on this driver). An edited qemu.conf gives false.
bool embedded_qemu_runs_as_root(std::string_view uri);

// Starts libvirt's default event loop (virEventRegisterDefaultImpl) on a detached thread.
// Safe to call many times: only the first call starts it.
void ensure_event_loop();

// The hint for a failed libvirt call on `uri`: how to start libvirtd or virtlogd when
// they are not reachable, which URI isolab needs, or empty when there is none.
std::string connection_hint(const virError& error, const std::string& uri);

// Throws Error("<what>: <libvirt's last error message>") with a hint chosen from the
// error's domain and code (for example how to start libvirtd when it is not reachable).
[[noreturn]] void throw_last_error(const std::string& what, const std::string& uri = {});

class Connection {
public:
    // Opens `uri` read-write. Throws Error when libvirtd is not reachable.
    explicit Connection(std::string uri);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    virConnectPtr get() const { return connection_; }
    const std::string& uri() const { return uri_; }

private:
    std::string uri_;
    virConnectPtr connection_ = nullptr;
};

}  // namespace isolab::vm::libvirt
