#pragma once
// Durations written as Go's time.ParseDuration reads them ("30s", "1m30s", "1.5h",
// "200ms"), the form Docker uses for HEALTHCHECK options, `run --health-*` and compose
// files, and the text Go's Duration.String prints for them.
#include <cstdint>
#include <string>
#include <string_view>

namespace isolab {

// Parses a duration into nanoseconds: an optional sign, then one or more decimal numbers,
// each followed by a unit (ns, us, µs, ms, s, m, h). "0" needs no unit. Throws Error for
// anything else and for a value that does not fit in 64 bits of nanoseconds.
std::int64_t parse_duration(std::string_view text);

// Formats nanoseconds as Go's Duration.String does: "0s", "1.5µs", "200ms", "1m30s",
// "1h0m0s".
std::string format_duration(std::int64_t nanoseconds);

}  // namespace isolab
