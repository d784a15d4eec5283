#pragma once
// Custom scenarios: a YAML file (JSON is valid YAML too) that describes a workload for
// `isolab compare --scenario FILE`:
//
//   name: my-server                # optional; default: the file name without extension
//   image: busybox                 # required
//   command: [/bin/sh, -c, "..."]  # required: argv as a list, or a string run by /bin/sh -c
//   readiness:                     # required, exactly one of:
//     log: "listening"             #   an output line starting with this text
//     tcp: 8080                    #   a TCP connect to this container port, published on the host
//     http: {port: 80, path: /}    #   HTTP 200 for GET path (default /) through the published port
//   repetitions: 3                 # optional: counted runs per path, replaces --runs
//   instances: [1, 2, 4]           # optional: instance counts of the scale series
//   stop_after_ready: true         # optional; default: true for tcp and http, false for log
#include <string>

#include "bench/workload.hpp"

namespace isolab::bench {

// Parses scenario text; `file` names it in errors. Throws Error with one line naming the
// file and the key that is missing or invalid.
Workload parse_scenario(const std::string& text, const std::string& file);

// Reads and parses the scenario file at `path`.
Workload load_scenario(const std::string& path);

}  // namespace isolab::bench
