#pragma once
// Capabilities: the set a container's root keeps (Docker's default set, changed with
// --cap-add, --cap-drop and --privileged) and dropping everything else from the bounding
// set before the workload runs.
#include <string>
#include <vector>

#include <sys/capability.h>

namespace isolab::kernel {

// Docker's default set: CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID,
// SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE.
const std::vector<cap_value_t>& default_capabilities();

// Parses a capability name as Docker accepts it ("NET_ADMIN", "CAP_NET_ADMIN", any case,
// or "ALL"). Throws Error for an unknown name.
std::vector<cap_value_t> parse_capability(const std::string& name);

// Returns the default set minus `drop`, then plus `add`, so "--cap-drop ALL --cap-add X"
// leaves only X, as in Docker. Both lists accept "ALL".
std::vector<cap_value_t> resolve_capabilities(const std::vector<std::string>& add, const std::vector<std::string>& drop);

// Every capability in this process's bounding set (for --privileged and ALL).
std::vector<cap_value_t> all_capabilities();

// Drops every capability not in `keep` from the bounding set. Needs CAP_SETPCAP.
void limit_bounding_set(const std::vector<cap_value_t>& keep);

// Sets the effective, permitted and inheritable sets of this process to `keep`.
void set_capabilities(const std::vector<cap_value_t>& keep);

// Capability names (lowercase, without "cap_") for logs.
std::string capability_names(const std::vector<cap_value_t>& capabilities);

}  // namespace isolab::kernel
