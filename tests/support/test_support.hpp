#pragma once
// Helpers shared by the tests: temporary state roots and running the isolab binary.
#include <filesystem>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/core/paths.hpp"

namespace isolab::testing {

// A fresh state root and cache under /tmp, removed by the destructor. The cache of guest
// kernels is shared between tests (ISOLAB_TEST_CACHE, default /var/cache/isolab) so each
// test does not download the kernel again.
class TestRoot {
public:
    TestRoot();
    ~TestRoot();
    TestRoot(const TestRoot&) = delete;
    TestRoot& operator=(const TestRoot&) = delete;

    const Paths& paths() const { return paths_; }
    const std::filesystem::path& root() const { return paths_.root; }

private:
    Paths paths_;
};

struct CliResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Runs build/isolab with `arguments` and the environment ISOLAB_ROOT/ISOLAB_CACHE set to
// `paths`, capturing stdout and stderr separately.
CliResult run_isolab(const Paths& paths, const std::vector<std::string>& arguments);

// True when the tests run as root (integration tests skip otherwise).
bool running_as_root();

// True when a process with user and group `id` (and no supplementary groups) can open
// `file` for reading. Runs the check in a child process; needs root to change ids.
bool readable_by(const std::filesystem::path& file, unsigned id);

// A TCP port of 127.0.0.1 that nothing listens on right now.
std::uint16_t free_port();

// Removes every container under `paths` as `rm -f` does. Returns one message per
// container that could not be removed.
std::vector<std::string> remove_all_containers(const Paths& paths);

}  // namespace isolab::testing
