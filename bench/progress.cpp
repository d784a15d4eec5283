#include "bench/progress.hpp"

namespace isolab::bench {

ProgressPrinter::~ProgressPrinter() { finish_line(); }

void ProgressPrinter::print(const ProgressUpdate& update) {
    if (!terminal_) {
        // A file or pipe gets only finished runs, one line each.
        if (update.done) std::fprintf(stream_, "%s\n", update.line.c_str());
        std::fflush(stream_);
        return;
    }
    // Carriage return, then ANSI "erase to end of line", then the new text.
    std::fprintf(stream_, "\r\033[K%s", update.line.c_str());
    line_open_ = true;
    // A failure stays on screen, so the warning logged after it starts on its own line.
    if (update.failed) finish_line();
    std::fflush(stream_);
}

void ProgressPrinter::finish_line() {
    if (!line_open_) return;
    std::fputc('\n', stream_);
    std::fflush(stream_);
    line_open_ = false;
}

}  // namespace isolab::bench
