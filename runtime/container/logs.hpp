#pragma once
// A container's output log in the format of Docker's json-file driver: one JSON object per
// line, {"log":"text\n","stream":"stdout","time":"2024-05-01T12:00:00.123456789Z"}, in
// <container folder>/<id>-json.log. The log stays after the container exits and goes
// with its record.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/container/record.hpp"
#include "runtime/container/run_options.hpp"

namespace isolab::container {

// Appends lines to a container's log. Each line is one write(2) on an O_APPEND file, so
// a reader never sees half a line.
class LogWriter {
public:
    explicit LogWriter(const std::filesystem::path& path);
    ~LogWriter();
    LogWriter(const LogWriter&) = delete;
    LogWriter& operator=(const LogWriter&) = delete;

    // Stores one line (given without its newline) with the current UTC time.
    void write(std::string_view line, bool is_stderr);

private:
    int fd_ = -1;
    std::mutex mutex_;
};

// Returns a handler that stores each line in `log` and then hands it to `next`, if set.
OutputLineHandler logging_handler(LogWriter& log, OutputLineHandler next);

// One stored line.
struct LogEntry {
    std::string text;      // without the newline
    bool is_stderr = false;
    std::string time;      // RFC 3339 with nanoseconds
};

// Formats one line of the log file, ending in a newline.
std::string format_log_entry(const LogEntry& entry);

// Parses one line of the log file; nullopt when it is not a log entry.
std::optional<LogEntry> parse_log_entry(std::string_view line);

struct LogsOptions {
    bool follow = false;               // -f: wait for new lines until the container stops
    std::optional<std::size_t> tail;   // --tail N: only the last N lines
    bool timestamps = false;           // -t: prefix each line with its time
    std::uint64_t start_offset = 0;    // bytes of the log file to skip: what earlier runs wrote
};

// The size of a container's log file in bytes, 0 when it has none yet.
std::uint64_t log_size(const ContainerPaths& paths);

// Prints a container's log, stdout lines to `out_fd` and stderr lines to `err_fd`.
// Throws Error when the container does not exist.
void print_logs(const Paths& paths, const std::string& name_or_id, const LogsOptions& options, int out_fd = 1,
                int err_fd = 2);

}  // namespace isolab::container
