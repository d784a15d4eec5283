#pragma once
// The host's readiness for containers and VMs, as `isolab doctor` prints it: one check
// per line, each with what was found and, when it fails, what to do about it.
#include <string>
#include <vector>

#include "runtime/core/paths.hpp"

namespace isolab::bench {

struct DoctorCheck {
    std::string area;    // "host", "containers" or "vms"
    std::string name;    // e.g. "cgroups"
    bool ok = false;
    std::string detail;  // what was found
    std::string hint;    // what to do when !ok
    // False for a check whose failure the host can work without (KVM, because VMs fall back
    // to TCG). Such a check prints "warn" instead of "FAIL" and keeps the exit code 0.
    bool required = true;
};

// Runs every check. `connect_uri` is the libvirt URI to try (empty: the default).
// Checks never throw: a failing check is reported in its DoctorCheck.
// NOTE: the KVM line reports the cached verdict of the boot probe; it does not boot a
// probe guest itself, so "not probed yet" is possible until the first `vm run`.
std::vector<DoctorCheck> run_doctor(const Paths& paths, const std::string& connect_uri);

// Formats the checks as aligned text lines, grouped by area.
std::string format_doctor(const std::vector<DoctorCheck>& checks);

}  // namespace isolab::bench
