// The console line splitter and the isolab-init protocol parser, fed captured byte
// streams split at awkward places.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/core/error.hpp"
#include "vmdriver/libvirt/console.hpp"
#include "vmdriver/lifecycle.hpp"

namespace isolab::vm::libvirt {
namespace {

using std::chrono::milliseconds;

// A console transcript as QEMU's serial port delivers it under SeaBIOS: the firmware's
// terminal reset and clear-screen sequences precede the first line, and lines end in \r\n.
const std::string kTranscript =
    "\x1b" "c\x1b[?7l\x1b[2Jisolab-init: phase init-start uptime_ms=812\r\n"
    "isolab-init: phase workload-start uptime_ms=815\r\n"
    "isolab-ready uptime=0.83 0.51\r\n"
    "6.1.0-57-amd64\r\n"
    "hello\r\n"
    "isolab-init: exit code=3 uptime_ms=840\r\n"
    "[    0.851234] reboot: Power down";

std::vector<std::string> texts(const std::vector<ConsoleLine>& lines) {
    std::vector<std::string> result;
    for (const auto& line : lines) result.push_back(line.text);
    return result;
}

// Feeds kTranscript in chunks of `size` bytes and returns every line, the tail included.
std::vector<ConsoleLine> split_in_chunks(size_t size) {
    LineSplitter splitter;
    std::vector<ConsoleLine> lines;
    Clock::time_point when{};
    for (size_t at = 0; at < kTranscript.size(); at += size) {
        when += milliseconds(1);
        auto complete = splitter.feed(std::string_view(kTranscript).substr(at, size), when);
        lines.insert(lines.end(), complete.begin(), complete.end());
    }
    if (auto tail = splitter.finish()) lines.push_back(*tail);
    return lines;
}

TEST(LineSplitter, SameLinesForEveryChunkSize) {
    auto whole = texts(split_in_chunks(kTranscript.size()));
    ASSERT_EQ(whole.size(), 7u);
    EXPECT_EQ(whole[1], "isolab-init: phase workload-start uptime_ms=815");
    EXPECT_EQ(whole[4], "hello");
    EXPECT_EQ(whole[6], "[    0.851234] reboot: Power down");
    for (size_t size = 1; size < 64; ++size) EXPECT_EQ(texts(split_in_chunks(size)), whole) << "chunk size " << size;
}

TEST(LineSplitter, CarriageReturnSplitFromNewline) {
    LineSplitter splitter;
    Clock::time_point start{};
    EXPECT_TRUE(splitter.feed("abc\r", start).empty());
    auto lines = splitter.feed("\ndef", start + milliseconds(5));
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].text, "abc");
    auto tail = splitter.finish();
    ASSERT_TRUE(tail.has_value());
    EXPECT_EQ(tail->text, "def");
    EXPECT_FALSE(splitter.finish().has_value());
}

TEST(LineSplitter, TimeIsFirstByteArrival) {
    LineSplitter splitter;
    Clock::time_point start{};
    splitter.feed("isolab-re", start + milliseconds(10));
    auto lines = splitter.feed("ady uptime=1.0\nnext", start + milliseconds(25));
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].arrived, start + milliseconds(10));
    auto tail = splitter.finish();
    ASSERT_TRUE(tail.has_value());
    EXPECT_EQ(tail->arrived, start + milliseconds(25));
}

TEST(LineSplitter, EmptyLinesKept) {
    LineSplitter splitter;
    EXPECT_EQ(texts(splitter.feed("a\n\n\r\nb\n", Clock::time_point{})), (std::vector<std::string>{"a", "", "", "b"}));
}

TEST(Protocol, PhaseBehindFirmwareEscapes) {
    auto event = parse_protocol_line("\x1b" "c\x1b[?7l\x1b[2Jisolab-init: phase init-start uptime_ms=812");
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(event->kind, ProtocolEvent::Kind::phase);
    EXPECT_EQ(event->phase, "init-start");
    EXPECT_EQ(event->uptime_ms, 812);
}

TEST(Protocol, ExitCode) {
    auto event = parse_protocol_line("isolab-init: exit code=3 uptime_ms=840");
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(event->kind, ProtocolEvent::Kind::exit);
    EXPECT_EQ(event->exit_code, 3);
    EXPECT_EQ(event->uptime_ms, 840);
}

TEST(Protocol, ErrorText) {
    auto event = parse_protocol_line("isolab-init: error cannot execute nosuch: No such file or directory");
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(event->kind, ProtocolEvent::Kind::error);
    EXPECT_EQ(event->text, "cannot execute nosuch: No such file or directory");
}

TEST(Protocol, ReadyUptimeInMilliseconds) {
    auto event = parse_protocol_line("isolab-ready uptime=0.83 0.51");
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(event->kind, ProtocolEvent::Kind::ready);
    EXPECT_DOUBLE_EQ(event->uptime_ms, 830);
}

TEST(Protocol, MalformedInitLinesAreErrors) {
    for (const char* line : {"isolab-init: exit code=abc uptime_ms=1", "isolab-init: exit code=300",
                             "isolab-init: phase init-start", "isolab-init: phase  uptime_ms=3",
                             "isolab-init: something else"}) {
        auto event = parse_protocol_line(line);
        ASSERT_TRUE(event.has_value()) << line;
        EXPECT_EQ(event->kind, ProtocolEvent::Kind::error) << line;
        EXPECT_NE(event->text.find("malformed"), std::string::npos) << line;
    }
}

TEST(Protocol, WorkloadLinesAreNotProtocol) {
    for (const char* line : {"hello", "  isolab-init: phase x uptime_ms=1", "echo isolab-init: exit code=0",
                             "isolab-ready uptime=abc", "isolab-ready", ""}) {
        EXPECT_FALSE(parse_protocol_line(line).has_value()) << line;
    }
    EXPECT_TRUE(is_init_line("\x1b[2Jisolab-init: phase init-start uptime_ms=1"));
    EXPECT_FALSE(is_init_line("isolab-ready uptime=1.0"));
}

TEST(Protocol, KernelBanner) {
    auto release = parse_kernel_banner(
        "[    0.000000] Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14))");
    ASSERT_TRUE(release.has_value());
    EXPECT_EQ(*release, "6.1.0-57-amd64");
    EXPECT_FALSE(parse_kernel_banner("hello").has_value());
}

TEST(Protocol, KernelFailureLines) {
    auto unpacking = parse_kernel_failure("[    0.854819] Initramfs unpacking failed: write error");
    ASSERT_TRUE(unpacking.has_value());
    EXPECT_EQ(unpacking->kind, KernelFailure::Kind::initramfs_unpacking);
    EXPECT_EQ(unpacking->text, "Initramfs unpacking failed: write error");

    auto panic = parse_kernel_failure(
        "\x1b[2J[    1.016609] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0) ");
    ASSERT_TRUE(panic.has_value());
    EXPECT_EQ(panic->kind, KernelFailure::Kind::panic);
    EXPECT_EQ(panic->text, "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)");

    auto memory = parse_kernel_failure("[    2.1] Kernel panic - not syncing: System is deadlocked on memory");
    ASSERT_TRUE(memory.has_value());
    EXPECT_EQ(memory->kind, KernelFailure::Kind::out_of_memory);

    EXPECT_FALSE(parse_kernel_failure("[    1.019304]  panic+0x118/0x2f4").has_value());
}

}  // namespace
}  // namespace isolab::vm::libvirt

namespace isolab::vm {
namespace {

VmRecord foreground_record() {
    VmRecord record;
    record.name = "isolab-web";
    record.owner_pid = 4242;
    return record;
}

TEST(ConsoleSession, ForegroundRunHoldsConsole) {
    try {
        require_console_free(foreground_record(), true);
        FAIL() << "expected an Error while the foreground vm run lives";
    } catch (const Error& error) {
        std::string message = error.one_line();
        EXPECT_EQ(error.exit_code(), 1);
        EXPECT_NE(message.find("isolab-web"), std::string::npos) << message;
        EXPECT_NE(message.find("belongs to the terminal running `isolab vm run` (pid 4242)"), std::string::npos) << message;
        EXPECT_NE(message.find("isolab vm run -d"), std::string::npos) << message;
    }
}

TEST(ConsoleSession, ConsoleFreeWithoutForegroundRun) {
    auto detached = foreground_record();
    detached.detached = true;
    detached.owner_pid = 0;

    EXPECT_NO_THROW(require_console_free(detached, true));
    EXPECT_NO_THROW(require_console_free(foreground_record(), false)) << "the vm run process has exited";
}

}  // namespace
}  // namespace isolab::vm
