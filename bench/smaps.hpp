#pragma once
// Reading a process's memory from /proc/PID/smaps_rollup (Linux 4.14 and later): the
// sums over all its mappings of Rss, Pss and the other per-mapping counters.
//
// PSS (proportional set size) charges each shared page to the processes mapping it in
// equal parts. So the PSS of a QEMU process is the memory it costs the host, whereas RSS
// counts shared libraries in full for every process mapping them.
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace isolab::bench {

struct SmapsRollup {
    std::uint64_t rss_bytes = 0;
    std::uint64_t pss_bytes = 0;
    std::uint64_t pss_anon_bytes = 0;
    std::uint64_t pss_file_bytes = 0;
    std::uint64_t swap_bytes = 0;
    std::map<std::string, std::uint64_t> fields;  // every "Name: N kB" line, in bytes
};

// Parses the text of an smaps_rollup file. Throws Error when it has no Pss line.
SmapsRollup parse_smaps_rollup(std::string_view text);

// Reads /proc/<pid>/smaps_rollup. Returns nothing when the process is gone or the file
// cannot be read (a process that exited has no smaps_rollup).
std::optional<SmapsRollup> read_smaps_rollup(pid_t pid);

// Splits "Name:   123 kB" into name and bytes; false for any other line.
bool parse_kilobyte_line(std::string_view line, std::string& name, std::uint64_t& bytes);

}  // namespace isolab::bench
