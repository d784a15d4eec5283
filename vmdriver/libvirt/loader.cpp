// The libvirt functions isolab calls, defined here as forwarders to libvirt.so.0, which
// is loaded with dlopen() at the first call. The isolab executable therefore does not
// link libvirt: container commands start without loading libvirt and the ~50 shared
// libraries it needs (GnuTLS, GLib, libxml2, libcurl, Kerberos, ...), which cost about
// 10 ms of dynamic linking on every start.
//
// Each forwarder has the signature that <libvirt/libvirt.h> declares, so the compiler
// checks it. A function used anywhere in isolab must get a forwarder here, or linking
// fails with an undefined reference. The executable does not export these definitions
// (nothing it links to refers to them), so libvirt's own calls never reach them.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>

#include "runtime/core/lazy_library.hpp"

namespace isolab::vm::libvirt {

namespace {

// Drops libvirt's log. libvirt writes its warnings to stderr when no log output is set,
// and an embedded driver logs like a daemon (for example "tainted: high-privileges" for
// QEMU as root). Errors reach isolab through virGetLastError. libvirt reads the variable
// when it initializes at its first call, so it is set before the library is loaded. A
// LIBVIRT_LOG_OUTPUTS or LIBVIRT_DEBUG that the user set is kept.
bool drop_libvirt_log() {
    if (std::getenv("LIBVIRT_DEBUG") == nullptr) setenv("LIBVIRT_LOG_OUTPUTS", "4:file:/dev/null", 0);
    return true;
}

// The soname of the libvirt 1.x and later ABI, the one Debian's libvirt0 package ships.
LazyLibrary& library() {
    [[maybe_unused]] static const bool log_dropped = drop_libvirt_log();
    static LazyLibrary libvirt("libvirt.so.0", "libvirt0");
    return libvirt;
}

}  // namespace

}  // namespace isolab::vm::libvirt

// Defines `name` to call the function of the same name in libvirt.so.0, resolved once.
#define ISOLAB_LIBVIRT_FORWARD(result, name, parameters, arguments)                                         \
    extern "C" result name parameters {                                                                     \
        static const auto function =                                                                        \
            reinterpret_cast<decltype(&name)>(isolab::vm::libvirt::library().function(#name));             \
        return function arguments;                                                                          \
    }

ISOLAB_LIBVIRT_FORWARD(int, virInitialize, (void), ())
ISOLAB_LIBVIRT_FORWARD(int, virGetVersion, (unsigned long* libVer, const char* type, unsigned long* typeVer),
                       (libVer, type, typeVer))
ISOLAB_LIBVIRT_FORWARD(void, virResetLastError, (void), ())
ISOLAB_LIBVIRT_FORWARD(virErrorPtr, virGetLastError, (void), ())
ISOLAB_LIBVIRT_FORWARD(void, virSetErrorFunc, (void* userData, virErrorFunc handler), (userData, handler))
ISOLAB_LIBVIRT_FORWARD(int, virEventRegisterDefaultImpl, (void), ())
ISOLAB_LIBVIRT_FORWARD(int, virEventRunDefaultImpl, (void), ())
ISOLAB_LIBVIRT_FORWARD(int, virEventAddHandle, (int fd, int events, virEventHandleCallback cb, void* opaque,
                                                virFreeCallback ff),
                       (fd, events, cb, opaque, ff))
ISOLAB_LIBVIRT_FORWARD(int, virEventRemoveHandle, (int watch), (watch))

ISOLAB_LIBVIRT_FORWARD(virConnectPtr, virConnectOpen, (const char* name), (name))
ISOLAB_LIBVIRT_FORWARD(int, virConnectClose, (virConnectPtr conn), (conn))
ISOLAB_LIBVIRT_FORWARD(int, virConnectGetVersion, (virConnectPtr conn, unsigned long* hvVer), (conn, hvVer))
ISOLAB_LIBVIRT_FORWARD(int, virConnectGetLibVersion, (virConnectPtr conn, unsigned long* libVer), (conn, libVer))
ISOLAB_LIBVIRT_FORWARD(char*, virConnectGetCapabilities, (virConnectPtr conn), (conn))
ISOLAB_LIBVIRT_FORWARD(int, virConnectListAllDomains, (virConnectPtr conn, virDomainPtr** domains, unsigned int flags),
                       (conn, domains, flags))
ISOLAB_LIBVIRT_FORWARD(int, virConnectDomainEventRegisterAny,
                       (virConnectPtr conn, virDomainPtr dom, int eventID, virConnectDomainEventGenericCallback cb,
                        void* opaque, virFreeCallback freecb),
                       (conn, dom, eventID, cb, opaque, freecb))
ISOLAB_LIBVIRT_FORWARD(int, virConnectDomainEventDeregisterAny, (virConnectPtr conn, int callbackID),
                       (conn, callbackID))

ISOLAB_LIBVIRT_FORWARD(virDomainPtr, virDomainCreateXML, (virConnectPtr conn, const char* xmlDesc, unsigned int flags),
                       (conn, xmlDesc, flags))
ISOLAB_LIBVIRT_FORWARD(virDomainPtr, virDomainDefineXML, (virConnectPtr conn, const char* xml), (conn, xml))
ISOLAB_LIBVIRT_FORWARD(virDomainPtr, virDomainLookupByName, (virConnectPtr conn, const char* name), (conn, name))
ISOLAB_LIBVIRT_FORWARD(virDomainPtr, virDomainLookupByUUIDString, (virConnectPtr conn, const char* uuid), (conn, uuid))
ISOLAB_LIBVIRT_FORWARD(int, virDomainGetUUIDString, (virDomainPtr domain, char* buf), (domain, buf))
ISOLAB_LIBVIRT_FORWARD(int, virDomainShutdownFlags, (virDomainPtr domain, unsigned int flags), (domain, flags))
ISOLAB_LIBVIRT_FORWARD(int, virDomainFree, (virDomainPtr domain), (domain))
ISOLAB_LIBVIRT_FORWARD(int, virDomainUndefine, (virDomainPtr domain), (domain))
ISOLAB_LIBVIRT_FORWARD(int, virDomainDestroy, (virDomainPtr domain), (domain))
ISOLAB_LIBVIRT_FORWARD(int, virDomainResume, (virDomainPtr domain), (domain))
ISOLAB_LIBVIRT_FORWARD(int, virDomainIsActive, (virDomainPtr dom), (dom))
ISOLAB_LIBVIRT_FORWARD(int, virDomainIsPersistent, (virDomainPtr dom), (dom))
ISOLAB_LIBVIRT_FORWARD(const char*, virDomainGetName, (virDomainPtr domain), (domain))
ISOLAB_LIBVIRT_FORWARD(int, virDomainGetInfo, (virDomainPtr domain, virDomainInfoPtr info), (domain, info))
ISOLAB_LIBVIRT_FORWARD(char*, virDomainGetXMLDesc, (virDomainPtr domain, unsigned int flags), (domain, flags))
ISOLAB_LIBVIRT_FORWARD(int, virDomainOpenConsole,
                       (virDomainPtr dom, const char* dev_name, virStreamPtr st, unsigned int flags),
                       (dom, dev_name, st, flags))

ISOLAB_LIBVIRT_FORWARD(virStreamPtr, virStreamNew, (virConnectPtr conn, unsigned int flags), (conn, flags))
ISOLAB_LIBVIRT_FORWARD(int, virStreamSend, (virStreamPtr st, const char* data, size_t nbytes), (st, data, nbytes))
ISOLAB_LIBVIRT_FORWARD(int, virStreamRecv, (virStreamPtr st, char* data, size_t nbytes), (st, data, nbytes))
ISOLAB_LIBVIRT_FORWARD(int, virStreamAbort, (virStreamPtr st), (st))
ISOLAB_LIBVIRT_FORWARD(int, virStreamFree, (virStreamPtr st), (st))
ISOLAB_LIBVIRT_FORWARD(int, virStreamEventAddCallback,
                       (virStreamPtr stream, int events, virStreamEventCallback cb, void* opaque, virFreeCallback ff),
                       (stream, events, cb, opaque, ff))
ISOLAB_LIBVIRT_FORWARD(int, virStreamEventRemoveCallback, (virStreamPtr stream), (stream))
