#pragma once
// Reading a guest's serial console: a splitter that turns the byte stream into lines with
// host arrival times, and a parser for the lines isolab-init writes:
//   isolab-init: phase <name> uptime_ms=<ms>
//   isolab-init: exit code=<n> uptime_ms=<ms>
//   isolab-init: error <text>
// plus the readiness line of the `hello` workload, `isolab-ready uptime=<seconds>`.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/clock.hpp"

namespace isolab::vm::libvirt {

struct ConsoleLine {
    std::string text;           // without the line ending ("\n" or "\r\n")
    Clock::time_point arrived;  // when the line's first byte arrived on the host
};

// Splits console bytes into lines. Chunks may end anywhere, also inside a "\r\n".
class LineSplitter {
public:
    // Adds bytes that arrived at `when` and returns the lines they complete.
    std::vector<ConsoleLine> feed(std::string_view bytes, Clock::time_point when);
    // Returns the unterminated rest of the stream, if any, and clears it.
    std::optional<ConsoleLine> finish();

private:
    std::string pending_;
    Clock::time_point pending_arrived_{};
};

// Removes terminal escape sequences (ESC [ ... final, ESC x) and control characters other
// than tab. The firmware clears the screen before the kernel runs, which leaves such bytes
// in front of the first line the guest writes.
std::string strip_terminal_controls(std::string_view line);

struct ProtocolEvent {
    enum class Kind { phase, exit, error, ready };
    Kind kind = Kind::phase;
    std::string phase;         // Kind::phase: "init-start", "workload-start", ...
    double uptime_ms = -1;     // guest CLOCK_BOOTTIME in ms; -1 when the line has none
    int exit_code = -1;        // Kind::exit
    std::string text;          // Kind::error: the init's message
};

// Parses one console line (escape sequences allowed in front). Returns nothing for a line
// that is not part of the protocol. A malformed isolab-init line is returned as
// Kind::error naming what was wrong, so a broken guest is not mistaken for a silent one.
std::optional<ProtocolEvent> parse_protocol_line(std::string_view line);

// True when the line is written by isolab-init (and so not the workload's output).
bool is_init_line(std::string_view line);

// Returns the kernel release from the kernel's banner "Linux version <release> ...", if
// the line is that banner.
std::optional<std::string> parse_kernel_banner(std::string_view line);

// A line in which the guest kernel reports why it cannot go on.
struct KernelFailure {
    // out_of_memory: a panic that names memory ("System is deadlocked on memory", "Out of
    // memory"), which a guest gets when its initramfs leaves too little RAM.
    enum class Kind { panic, out_of_memory, initramfs_unpacking };
    Kind kind = Kind::panic;
    std::string text;  // the message from "Kernel panic" or "Initramfs unpacking failed" on
};

// Returns the failure when the line is the kernel's panic line or its report that the
// initramfs could not be unpacked, without the time stamp in front.
std::optional<KernelFailure> parse_kernel_failure(std::string_view line);

// Describes `failure` for an error message: "the guest ran out of memory (<line>)", "the
// guest kernel could not unpack the initramfs (<line>)", or the panic line itself.
std::string describe_kernel_failure(const KernelFailure& failure);

// The hint for a failure of the kinds out_of_memory and initramfs_unpacking.
inline constexpr std::string_view kGuestMemoryHint =
    "the initramfs form keeps the whole image in the guest's RAM, unpacked into a RAM filesystem of at most half "
    "its free memory: give the VM more --memory, or use --form disk";

}  // namespace isolab::vm::libvirt
