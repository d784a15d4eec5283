#pragma once
// The workload's stdout and stderr: passed through to this process's own, or read line by
// line from two pipes on a reader thread and handed to an OutputLineHandler with the time
// each line arrived.
#include <string>
#include <thread>

#include "runtime/container/run.hpp"

namespace isolab::container {

class OutputCapture {
public:
    // Creates the pipes when `handler` is set; otherwise the workload inherits stdout and
    // stderr. With `echo`, the bytes read are also written to this process's stdout and
    // stderr as they arrive, so a last line without a newline stays without one.
    explicit OutputCapture(OutputLineHandler handler, bool echo = false);
    ~OutputCapture();
    OutputCapture(const OutputCapture&) = delete;
    OutputCapture& operator=(const OutputCapture&) = delete;

    // Descriptors the workload writes to, or -1 to inherit this process's.
    int child_stdout() const { return stdout_pipe_[1]; }
    int child_stderr() const { return stderr_pipe_[1]; }

    // Closes this process's copies of the write ends (the child has its own) and starts
    // the reader thread.
    void start_reading();
    // Waits until both pipes reached end of file and every line was handed over.
    void finish();

private:
    void read_lines();

    OutputLineHandler handler_;
    bool echo_ = false;
    int stdout_pipe_[2] = {-1, -1};
    int stderr_pipe_[2] = {-1, -1};
    std::thread reader_;
};

}  // namespace isolab::container
