// The compare progress on stderr: appended lines for files and pipes, one rewritten line
// on a terminal.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/progress.hpp"

namespace isolab::bench {
namespace {

// Collects what a ProgressPrinter writes, through a memory stream.
class CapturedStream {
public:
    CapturedStream() : stream_(open_memstream(&buffer_, &size_)) {}
    ~CapturedStream() {
        std::fclose(stream_);
        std::free(buffer_);
    }
    std::FILE* get() { return stream_; }
    std::string text() {
        std::fflush(stream_);
        return std::string(buffer_, size_);
    }

private:
    char* buffer_ = nullptr;
    std::size_t size_ = 0;
    std::FILE* stream_;
};

TEST(BenchProgress, PipeGetsOneLinePerRun) {
    CapturedStream stream;
    {
        ProgressPrinter printer(stream.get(), false);
        printer.print({"run 1/2 vm: running", false, false});
        printer.print({"run 1/2 vm: 61.2 s (ready at 812.4 ms)", true, false});
        printer.print({"run 2/2 vm: running", false, false});
        printer.print({"run 2/2 vm: 60.9 s (ready at 799.0 ms)", true, false});
    }
    EXPECT_EQ(stream.text(), "run 1/2 vm: 61.2 s (ready at 812.4 ms)\nrun 2/2 vm: 60.9 s (ready at 799.0 ms)\n");
}

TEST(BenchProgress, PipeGetsNoControlCharacters) {
    CapturedStream stream;
    {
        ProgressPrinter printer(stream.get(), false);
        printer.print({"run 1/1 crun: 0.1 s (failed: crun broke)", true, true});
    }
    auto text = stream.text();
    EXPECT_EQ(text.find('\r'), std::string::npos);
    EXPECT_EQ(text.find('\033'), std::string::npos);
    EXPECT_EQ(text, "run 1/1 crun: 0.1 s (failed: crun broke)\n");
}

TEST(BenchProgress, TerminalRewritesOneLine) {
    CapturedStream stream;
    {
        ProgressPrinter printer(stream.get(), true);
        printer.print({"run 1/1 vm: running", false, false});
        printer.print({"run 1/1 vm: 61.2 s (ready at 812.4 ms)", true, false});
    }
    EXPECT_EQ(stream.text(), "\r\033[Krun 1/1 vm: running\r\033[Krun 1/1 vm: 61.2 s (ready at 812.4 ms)\n");
}

TEST(BenchProgress, TerminalKeepsFailureLine) {
    CapturedStream stream;
    ProgressPrinter printer(stream.get(), true);
    printer.print({"run 1/2 crun: 0.1 s (failed: crun broke)", true, true});
    EXPECT_EQ(stream.text(), "\r\033[Krun 1/2 crun: 0.1 s (failed: crun broke)\n");
}

}  // namespace
}  // namespace isolab::bench
