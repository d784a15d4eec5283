#pragma once
// The host a compare ran on: CPU, memory, kernel, cgroup version and the versions of
// QEMU, libvirt and the reference tools, so results from different machines can be
// distinguished and compared.
#include "bench/results.hpp"

namespace isolab::bench {

// Collects the host facts. A missing tool or file leaves its field empty.
HostInfo collect_host_info();

// First line of `program --version`, or empty when the program is not installed.
std::string program_version(const std::string& program);

}  // namespace isolab::bench
