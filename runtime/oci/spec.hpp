#pragma once
// The OCI runtime spec's config.json (runtime-spec 1.x, config.md and config-linux.md):
// the fields isolab applies, parsed and checked before anything is created. Every error
// names the JSON path of the bad value, e.g. "config.json: process.args[1]: contains a
// NUL byte". Fields the spec defines but isolab does not apply are rejected when set in a
// way that matters (user namespaces, terminal: true, hooks run inside the container), and
// fields the spec does not define are ignored, as the spec requires.
#include <sys/capability.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/linux/cgroups.hpp"
#include "runtime/linux/seccomp_profile.hpp"

namespace isolab::oci {

struct OciUser {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> additional_gids;
};

// process.capabilities: each set the config names. An absent set is empty, as in runc.
struct OciCapabilities {
    std::vector<cap_value_t> bounding;
    std::vector<cap_value_t> effective;
    std::vector<cap_value_t> inheritable;
    std::vector<cap_value_t> permitted;
    std::vector<cap_value_t> ambient;
};

struct OciRlimit {
    int resource = 0;  // RLIMIT_*
    std::uint64_t soft = 0;
    std::uint64_t hard = 0;
};

struct OciProcess {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string cwd;
    OciUser user;
    std::optional<OciCapabilities> capabilities;  // nullopt: the config has no capabilities object
    bool no_new_privileges = false;
    std::vector<OciRlimit> rlimits;
};

struct OciMount {
    std::string destination;
    std::string type;
    std::string source;
    std::vector<std::string> options;
};

struct OciNamespace {
    std::string type;  // pid, network, mount, ipc, uts, cgroup
    std::string path;  // empty: a new namespace
};

struct OciHook {
    std::string path;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::optional<int> timeout;  // seconds
};

struct OciHooks {
    std::vector<OciHook> prestart;
    std::vector<OciHook> create_runtime;
    std::vector<OciHook> poststart;
    std::vector<OciHook> poststop;
};

struct OciSpec {
    std::string oci_version;
    OciProcess process;
    std::string root_path;  // as written: absolute, or relative to the bundle
    bool root_readonly = false;
    std::vector<OciMount> mounts;
    std::string hostname;
    std::vector<OciNamespace> namespaces;
    kernel::CgroupLimits resources;
    std::optional<kernel::SeccompProfile> seccomp;
    std::vector<std::string> masked_paths;
    std::vector<std::string> readonly_paths;
    OciHooks hooks;
    std::map<std::string, std::string> annotations;

    // The namespace of `type` the config lists, or nullptr: the container shares the host's.
    const OciNamespace* find_namespace(std::string_view type) const;
};

// Parses config.json text. `source` starts every error message ("config.json"). Throws
// Error (exit code 125) naming the JSON path of the first invalid value.
OciSpec parse_spec(std::string_view text, const std::string& source = "config.json");

}  // namespace isolab::oci
