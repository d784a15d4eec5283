#pragma once
// Error: the one exception type isolab throws across module boundaries.
//
// Every error carries what failed (with the value involved) and, where the user can act,
// a hint saying what to do. The CLI prints both on one line and exits non-zero, so a
// library function never prints an error itself. Cleanup on failure is the job of RAII
// owners, which is why errors are exceptions and not return codes.
#include <stdexcept>
#include <string>
#include <string_view>

namespace isolab {

class Error : public std::runtime_error {
public:
    explicit Error(std::string message, std::string hint = {}, int exit_code = 125)
        : std::runtime_error(std::move(message)), hint_(std::move(hint)), exit_code_(exit_code) {}

    // What the user can do about it; empty when there is nothing to suggest.
    const std::string& hint() const noexcept { return hint_; }
    // The process exit code the CLI uses for this error (125 as Docker, unless set).
    int exit_code() const noexcept { return exit_code_; }

    // Formats "message (hint)" for one-line output.
    std::string one_line() const;

private:
    std::string hint_;
    int exit_code_;
};

// The exit code of an error about the object a command names rather than about isolab:
// the container or network does not exist, or is not in a state the command accepts.
// The docker CLI exits 1 for these; `run` and `create` keep 125 for them, as `docker run`
// does. docs/architecture.md lists the exit codes.
inline constexpr int target_error_exit_code = 1;

// Escapes control characters and DEL in `text` as \n, \t or \xNN for a one-line message,
// and cuts it after `max_length` bytes with a count of the bytes left out. A value read
// from a file may contain a NUL, which would end the message at what().
std::string printable(std::string_view text, size_t max_length = 120);

// The maximum number of bytes of an error message that isolab prints. A value from the command line
// or a file, such as a name of 100,000 characters, can make a message of any size.
inline constexpr size_t kMaxErrorMessageBytes = 1000;

// Returns the lines of `text` without trailing spaces, the empty ones left out, joined with "; ".
std::string joined_lines(std::string_view text);

// Returns the line isolab prints for `error` after "isolab: ": one_line() with the lines of
// a multi-line message (from libvirt or QEMU, for example) joined, the message cut at
// kMaxErrorMessageBytes and the hint at 500, other control characters escaped.
std::string error_line(const Error& error);

// Throws Error("<what>: <strerror(errno)>"), reading errno at the call.
[[noreturn]] void throw_errno(const std::string& what, std::string hint = {});

// Throws Error("<what>: <strerror(error_number)>").
[[noreturn]] void throw_errno(int error_number, const std::string& what, std::string hint = {});

}  // namespace isolab
