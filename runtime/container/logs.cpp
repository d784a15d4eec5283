#include "runtime/container/logs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <deque>
#include <thread>

#include <nlohmann/json.hpp>

#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"

namespace isolab::container {

namespace {

void write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        ssize_t count = ::write(fd, text.data(), text.size());
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) return;
        text.remove_prefix(static_cast<size_t>(count));
    }
}

// Reads what was appended to a file since the last call, in whole lines.
class LineReader {
public:
    LineReader(const std::filesystem::path& path, std::uint64_t offset) : fd_(open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
        if (fd_ >= 0 && offset > 0) lseek(fd_, static_cast<off_t>(offset), SEEK_SET);
    }
    ~LineReader() {
        if (fd_ >= 0) close(fd_);
    }
    LineReader(const LineReader&) = delete;
    LineReader& operator=(const LineReader&) = delete;

    // Hands every complete new line to `consume`, without its newline.
    template <typename Consumer>
    void read_new_lines(Consumer&& consume) {
        if (fd_ < 0) return;
        char buffer[65536];
        ssize_t count;
        while ((count = read(fd_, buffer, sizeof buffer)) != 0) {
            if (count < 0 && errno == EINTR) continue;
            if (count < 0) return;
            pending_.append(buffer, static_cast<size_t>(count));
        }
        size_t start = 0;
        size_t newline;
        while ((newline = pending_.find('\n', start)) != std::string::npos) {
            consume(std::string_view(pending_).substr(start, newline - start));
            start = newline + 1;
        }
        pending_.erase(0, start);
    }

private:
    int fd_;
    std::string pending_;
};

}  // namespace

LogWriter::LogWriter(const std::filesystem::path& path)
    : fd_(open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)) {
    if (fd_ < 0) throw_errno("cannot open the container log " + path.string());
}

LogWriter::~LogWriter() {
    if (fd_ >= 0) close(fd_);
}

void LogWriter::write(std::string_view line, bool is_stderr) {
    auto entry = format_log_entry({std::string(line), is_stderr, rfc3339_now()});
    std::lock_guard guard(mutex_);
    write_all(fd_, entry);
}

OutputLineHandler logging_handler(LogWriter& log, OutputLineHandler next) {
    return [&log, next = std::move(next)](std::string_view line, bool is_stderr, Clock::time_point when) {
        log.write(line, is_stderr);
        if (next) next(line, is_stderr, when);
    };
}

std::string format_log_entry(const LogEntry& entry) {
    // NOTE: a last line without a newline is stored with one, because the output reader
    // hands over lines without saying whether a newline ended them.
    nlohmann::json object = {{"log", entry.text + "\n"}, {"stream", entry.is_stderr ? "stderr" : "stdout"}, {"time", entry.time}};
    return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::optional<LogEntry> parse_log_entry(std::string_view line) {
    auto object = nlohmann::json::parse(line, nullptr, false);
    if (object.is_discarded() || !object.is_object()) return std::nullopt;
    LogEntry entry;
    entry.text = object.value("log", "");
    if (!entry.text.empty() && entry.text.back() == '\n') entry.text.pop_back();
    entry.is_stderr = object.value("stream", "") == "stderr";
    entry.time = object.value("time", "");
    return entry;
}

std::uint64_t log_size(const ContainerPaths& paths) {
    std::error_code error;
    auto size = std::filesystem::file_size(paths.log(), error);
    return error ? 0 : size;
}

void print_logs(const Paths& paths, const std::string& name_or_id, const LogsOptions& options, int out_fd, int err_fd) {
    auto container = require_container(paths, name_or_id);
    auto print = [&](const LogEntry& entry) {
        std::string text = options.timestamps ? entry.time + " " : std::string();
        text += entry.text;
        text += '\n';
        write_all(entry.is_stderr ? err_fd : out_fd, text);
    };

    LineReader reader(container.paths.log(), options.start_offset);
    std::deque<LogEntry> existing;
    reader.read_new_lines([&](std::string_view line) {
        auto entry = parse_log_entry(line);
        if (!entry) return;
        existing.push_back(std::move(*entry));
        if (options.tail && existing.size() > *options.tail) existing.pop_front();
    });
    for (const auto& entry : existing) print(entry);
    if (!options.follow) return;

    auto print_new = [&] {
        reader.read_new_lines([&](std::string_view line) {
            if (auto entry = parse_log_entry(line)) print(*entry);
        });
    };
    // The owner writes the exit into state.json only after the last line is in the log,
    // so one more read after the container stopped finds everything.
    while (true) {
        auto current = find_container(paths, container.config.id);
        bool active = current && is_active(*current);
        print_new();
        if (!active) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace isolab::container
