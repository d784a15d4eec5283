#include "runtime/container/status_pipe.hpp"

#include <unistd.h>

#include <cerrno>

#include "runtime/core/clock.hpp"

namespace isolab::container {

namespace {

constexpr char field_separator = '\x1f';

}  // namespace

void write_all(int fd, const std::string& text) {
    size_t written = 0;
    while (written < text.size()) {
        ssize_t count = write(fd, text.data() + written, text.size() - written);
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) return;
        written += static_cast<size_t>(count);
    }
}

void report_phase(int status_fd, const char* name) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
    write_all(status_fd, std::string("phase ") + name + " " + std::to_string(ns) + "\n");
}

void report_failure(int status_fd, const Error& error) {
    std::string message = error.what();
    std::string hint = error.hint();
    for (auto* text : {&message, &hint}) {
        for (auto& c : *text) {
            if (c == '\n' || c == field_separator) c = ' ';
        }
    }
    write_all(status_fd, "error " + std::to_string(error.exit_code()) + " " + message + field_separator + hint + "\n");
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (const auto& text : strings) pointers.push_back(const_cast<char*>(text.c_str()));
    pointers.push_back(nullptr);
    return pointers;
}

std::string read_status_messages(int status_fd) {
    std::string messages;
    char buffer[4096];
    ssize_t count;
    while ((count = read(status_fd, buffer, sizeof buffer)) != 0) {
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) throw_errno("cannot read the status pipe");
        messages.append(buffer, static_cast<size_t>(count));
    }
    return messages;
}

Error parse_failure(const std::string& line) {
    auto space = line.find(' ', 6);
    int code = std::stoi(line.substr(6, space - 6));
    auto text = line.substr(space + 1);
    auto separator = text.find(field_separator);
    return Error(text.substr(0, separator), separator == std::string::npos ? "" : text.substr(separator + 1), code);
}

}  // namespace isolab::container
