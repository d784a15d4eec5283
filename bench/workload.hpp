#pragma once
// Workloads: what compare runs on both paths. A workload names an image, a command and a
// readiness rule. The built-in workloads print a readiness line and then the kernel
// release (`uname -r`), so the same output shows when the workload was ready and which
// kernel it ran on, inside a container or a VM alike. A workload may also print its own
// figures as "isolab-figure KEY=VALUE" lines (KEY a figure of the catalog) and facts about
// its run as "isolab-note TEXT" lines.
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/core/clock.hpp"

namespace isolab::bench {

// How the host decides that a workload is ready.
enum class ReadinessKind {
    log_line,   // an output line starts with `ready_prefix`
    tcp_port,   // a TCP connect from the host to the published `port` succeeds
    http_path,  // an HTTP GET of `http_path` through the published `port` returns 200
};

// A file put into the workload's image, which is built FROM busybox.
struct ImageFile {
    std::string path;      // absolute path in the image
    std::string content;
};

struct Workload {
    std::string name;
    std::string image;
    std::vector<std::string> command;
    std::string ready_prefix;   // log_line readiness: the first output line starting with this

    ReadinessKind readiness = ReadinessKind::log_line;
    int port = 0;               // tcp_port and http_path: the port inside, published on the host
    std::string http_path = "/";

    // Non-empty: `image` is built from the busybox image with these files added.
    std::vector<ImageFile> image_files;
    // True when the workload keeps running once ready (a server): the runner stops it
    // after the readiness rule held and the host took its samples.
    bool stop_after_ready = false;
    // Container paths: a fresh anonymous volume is mounted here for each run (empty: none).
    std::string volume_target;
    // Figures the workload prints itself ("isolab-figure KEY=VALUE" lines).
    std::vector<std::string> reported_figures;
    // Custom scenarios: counted runs per path (0: --runs) and the instance counts of the
    // scale series (empty: --scale-max decides).
    int repetitions = 0;
    std::vector<int> instance_counts;

    // One sentence describing the readiness rule, for results and reports.
    std::string readiness_rule() const;
    bool is_ready_line(std::string_view line) const;
    // True when readiness is checked from the host through a published port.
    bool needs_published_port() const { return readiness != ReadinessKind::log_line; }
};

// Returns the built-in workload named `name`; `size_mib` sets the MiB the mem and io
// workloads allocate or write. Throws Error listing the known names otherwise.
Workload find_workload(const std::string& name, int size_mib = 64);
std::vector<std::string> workload_names();

// Parses an "isolab-figure KEY=VALUE" line into its key and value; nothing for any other
// line or a value that is not a number.
std::optional<std::pair<std::string, double>> parse_figure_line(std::string_view line);

// Parses "uptime=<seconds>" from a readiness line such as "isolab-ready uptime=0.83"
// into milliseconds; nothing when the line carries no uptime.
std::optional<double> parse_ready_uptime_ms(std::string_view line);

// Watches a workload's output lines as they arrive (from any thread) and keeps the host
// time of the readiness line, the uptime it carries and the kernel release printed on
// the next line.
class ReadinessWatcher {
public:
    explicit ReadinessWatcher(Workload workload) : workload_(std::move(workload)) {}

    void on_line(std::string_view line, Clock::time_point when);

    std::optional<Clock::time_point> ready_at() const;
    std::optional<double> ready_uptime_ms() const;
    std::string kernel_release() const;
    // Figures from "isolab-figure" lines whose key the workload declares.
    std::map<std::string, double> reported_figures() const;
    // Every line received, for error messages when the workload never became ready.
    std::vector<std::string> lines() const;
    // The text of "isolab-note TEXT" lines, in order.
    std::vector<std::string> notes() const;

private:
    Workload workload_;
    mutable std::mutex mutex_;
    std::optional<Clock::time_point> ready_at_;
    std::optional<double> ready_uptime_ms_;
    std::string kernel_release_;
    bool expecting_kernel_ = false;
    std::vector<std::string> lines_;
    std::map<std::string, double> figures_;
    std::vector<std::string> notes_;
};

}  // namespace isolab::bench
