#pragma once
// Progress of a compare on stderr: one line per finished run, or, on a terminal, a single
// line that each update rewrites. stdout is never written, so piped results stay clean.
#include <cstdio>

#include "bench/compare.hpp"

namespace isolab::bench {

class ProgressPrinter {
public:
    // `terminal`: rewrite one line with carriage returns instead of appending lines.
    ProgressPrinter(std::FILE* stream, bool terminal) : stream_(stream), terminal_(terminal) {}
    // Ends an open terminal line so later output starts on a fresh line.
    ~ProgressPrinter();
    ProgressPrinter(const ProgressPrinter&) = delete;
    ProgressPrinter& operator=(const ProgressPrinter&) = delete;

    void print(const ProgressUpdate& update);
    void finish_line();

private:
    std::FILE* stream_;
    bool terminal_;
    bool line_open_ = false;  // a terminal line without its newline yet
};

}  // namespace isolab::bench
