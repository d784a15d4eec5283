#include "vmdriver/libvirt/console.hpp"

#include <charconv>
#include <cstdlib>
#include <utility>

namespace isolab::vm::libvirt {

namespace {

constexpr std::string_view kInitPrefix = "isolab-init: ";
constexpr std::string_view kReadyPrefix = "isolab-ready uptime=";
constexpr std::string_view kBannerPrefix = "Linux version ";

constexpr char kEscape = '\x1b';

bool is_csi_final(char c) { return c >= '@' && c <= '~'; }

// Skips one escape sequence starting at line[i] == ESC; returns the index after it.
size_t skip_escape(std::string_view line, size_t i) {
    if (i + 1 >= line.size()) return line.size();
    if (line[i + 1] != '[') return i + 2;
    size_t j = i + 2;
    while (j < line.size() && !is_csi_final(line[j])) ++j;
    return j < line.size() ? j + 1 : j;
}

std::optional<long long> parse_integer(std::string_view text) {
    long long value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// Returns the value of "key=<value>" among space-separated fields, if present.
std::optional<std::string_view> field(std::string_view fields, std::string_view key) {
    size_t start = 0;
    while (start < fields.size()) {
        size_t end = fields.find(' ', start);
        if (end == std::string_view::npos) end = fields.size();
        std::string_view token = fields.substr(start, end - start);
        if (token.size() > key.size() && token.starts_with(key) && token[key.size()] == '=') {
            return token.substr(key.size() + 1);
        }
        start = end + 1;
    }
    return std::nullopt;
}

ProtocolEvent malformed(std::string_view line) {
    ProtocolEvent event;
    event.kind = ProtocolEvent::Kind::error;
    event.text = "malformed isolab-init line: " + std::string(line);
    return event;
}

double uptime_field(std::string_view fields) {
    auto value = field(fields, "uptime_ms");
    if (!value) return -1;
    auto number = parse_integer(*value);
    return number ? static_cast<double>(*number) : -1;
}

std::optional<ProtocolEvent> parse_init_line(std::string_view clean) {
    std::string_view body = clean.substr(kInitPrefix.size());
    ProtocolEvent event;

    if (body.starts_with("phase ")) {
        std::string_view rest = body.substr(6);
        size_t space = rest.find(' ');
        event.kind = ProtocolEvent::Kind::phase;
        event.phase = std::string(rest.substr(0, space));
        event.uptime_ms = space == std::string_view::npos ? -1 : uptime_field(rest.substr(space + 1));
        if (event.phase.empty() || event.uptime_ms < 0) return malformed(clean);
        return event;
    }
    if (body.starts_with("exit ")) {
        auto code = field(body.substr(5), "code");
        auto number = code ? parse_integer(*code) : std::nullopt;
        if (!number || *number < 0 || *number > 255) return malformed(clean);
        event.kind = ProtocolEvent::Kind::exit;
        event.exit_code = static_cast<int>(*number);
        event.uptime_ms = uptime_field(body.substr(5));
        return event;
    }
    if (body.starts_with("error ")) {
        event.kind = ProtocolEvent::Kind::error;
        event.text = std::string(body.substr(6));
        return event;
    }
    return malformed(clean);
}

std::optional<ProtocolEvent> parse_ready_line(std::string_view clean) {
    std::string_view value = clean.substr(kReadyPrefix.size());
    value = value.substr(0, value.find(' '));
    std::string copy(value);
    char* end = nullptr;
    double seconds = std::strtod(copy.c_str(), &end);
    if (copy.empty() || end != copy.c_str() + copy.size() || seconds < 0) return std::nullopt;

    ProtocolEvent event;
    event.kind = ProtocolEvent::Kind::ready;
    event.uptime_ms = seconds * 1000.0;
    return event;
}

}  // namespace

std::vector<ConsoleLine> LineSplitter::feed(std::string_view bytes, Clock::time_point when) {
    std::vector<ConsoleLine> lines;
    for (char c : bytes) {
        if (pending_.empty()) pending_arrived_ = when;
        if (c != '\n') {
            pending_ += c;
            continue;
        }
        if (!pending_.empty() && pending_.back() == '\r') pending_.pop_back();
        lines.push_back({std::move(pending_), pending_arrived_});
        pending_.clear();
    }
    return lines;
}

std::optional<ConsoleLine> LineSplitter::finish() {
    if (pending_.empty()) return std::nullopt;
    if (pending_.back() == '\r') pending_.pop_back();
    ConsoleLine line{std::move(pending_), pending_arrived_};
    pending_.clear();
    return line;
}

std::string strip_terminal_controls(std::string_view line) {
    std::string clean;
    clean.reserve(line.size());
    size_t i = 0;
    while (i < line.size()) {
        char c = line[i];
        if (c == kEscape) {
            i = skip_escape(line, i);
            continue;
        }
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t') clean += c;
        ++i;
    }
    return clean;
}

std::optional<ProtocolEvent> parse_protocol_line(std::string_view line) {
    std::string clean = strip_terminal_controls(line);
    if (clean.starts_with(kInitPrefix)) return parse_init_line(clean);
    if (clean.starts_with(kReadyPrefix)) return parse_ready_line(clean);
    return std::nullopt;
}

bool is_init_line(std::string_view line) { return strip_terminal_controls(line).starts_with(kInitPrefix); }

std::optional<KernelFailure> parse_kernel_failure(std::string_view line) {
    std::string clean = strip_terminal_controls(line);
    for (auto [kind, marker] : {std::pair{KernelFailure::Kind::panic, std::string_view("Kernel panic - ")},
                                std::pair{KernelFailure::Kind::initramfs_unpacking,
                                          std::string_view("Initramfs unpacking failed")}}) {
        size_t at = clean.find(marker);
        if (at == std::string::npos) continue;
        std::string text = clean.substr(at);
        while (!text.empty() && text.back() == ' ') text.pop_back();
        bool memory = text.find("on memory") != std::string::npos || text.find("Out of memory") != std::string::npos;
        if (kind == KernelFailure::Kind::panic && memory) kind = KernelFailure::Kind::out_of_memory;
        return KernelFailure{kind, std::move(text)};
    }
    return std::nullopt;
}

std::string describe_kernel_failure(const KernelFailure& failure) {
    switch (failure.kind) {
        case KernelFailure::Kind::out_of_memory: return "the guest ran out of memory (" + failure.text + ")";
        case KernelFailure::Kind::initramfs_unpacking:
            return "the guest kernel could not unpack the initramfs (" + failure.text + ")";
        case KernelFailure::Kind::panic: break;
    }
    return failure.text;
}

std::optional<std::string> parse_kernel_banner(std::string_view line) {
    std::string clean = strip_terminal_controls(line);
    size_t at = clean.find(kBannerPrefix);
    if (at == std::string::npos) return std::nullopt;
    std::string_view rest = std::string_view(clean).substr(at + kBannerPrefix.size());
    std::string_view release = rest.substr(0, rest.find(' '));
    if (release.empty()) return std::nullopt;
    return std::string(release);
}

}  // namespace isolab::vm::libvirt
