#pragma once
// The status pipe from a process being set up inside a container to the isolab process
// that started it: one line per phase ("phase NAME NANOSECONDS") and at most one
// failure ("error CODE MESSAGE<US>HINT"). The pipe is close-on-exec, so end of file
// without a failure means the workload was executed.
#include <string>
#include <vector>

#include "runtime/core/error.hpp"

namespace isolab::container {

// Writes `text` completely, retrying after EINTR; gives up silently when the reader is gone.
void write_all(int fd, const std::string& text);

// Sends "phase NAME TIME" with the current time of the monotonic clock.
void report_phase(int status_fd, const char* name);

// Sends the failure on one line; newlines in the message or hint become spaces.
void report_failure(int status_fd, const Error& error);

// Reads the status pipe until every writer closed it (end of file) and returns its text.
std::string read_status_messages(int status_fd);

// Parses a line written by report_failure (starting with "error ") back into an Error.
Error parse_failure(const std::string& line);

// Pointers to the strings, ending with nullptr, for execve; valid while `strings` lives.
std::vector<char*> c_strings(const std::vector<std::string>& strings);

}  // namespace isolab::container
