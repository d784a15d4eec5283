#pragma once
// Paths: where isolab keeps its state and its downloads.
//
// State (images, containers, volumes, results of probes) lives under the state root,
// /var/lib/isolab unless ISOLAB_ROOT is set. Downloaded guest kernels live under the cache,
// /var/cache/isolab unless ISOLAB_CACHE is set. Tests point both at temporary folders.
#include <filesystem>

namespace isolab {

struct Paths {
    std::filesystem::path root;   // state root
    std::filesystem::path cache;  // download cache (guest kernels, probe verdicts)

    // Reads ISOLAB_ROOT and ISOLAB_CACHE, falling back to the defaults above.
    static Paths from_environment();

    // Throws Error when the state root or the cache exists but is not a directory, naming
    // the variable that set it, before any command writes below it.
    void check() const;

    std::filesystem::path images() const { return root / "images"; }
    std::filesystem::path layers() const { return root / "layers"; }
    std::filesystem::path containers() const { return root / "containers"; }
    std::filesystem::path vms() const { return root / "vms"; }
    std::filesystem::path volumes() const { return root / "volumes"; }
    std::filesystem::path tmp() const { return root / "tmp"; }
    std::filesystem::path kernels() const { return cache / "kernels"; }
};

// Directory holding the running isolab executable; helper binaries (isolab-init) sit
// beside it in the build tree and in an installation.
std::filesystem::path executable_directory();

// Path to the static init used as a container's PID 1 (--init) and as a VM's /init.
// ISOLAB_INIT overrides it. Throws Error when the file is missing.
std::filesystem::path init_binary();

}  // namespace isolab
