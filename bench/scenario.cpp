#include "bench/scenario.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "runtime/core/error.hpp"

namespace isolab::bench {

namespace {

const char* const scenario_hint = "fix the scenario file (see docs/benchmarks.md, custom scenarios)";

// Reads the keys of one scenario file, naming FILE:LINE and the key in every error.
class ScenarioReader {
public:
    explicit ScenarioReader(std::string file) : file_(std::move(file)) {}

    [[noreturn]] void fail(const YAML::Node& node, const std::string& key, const std::string& what) const {
        auto line = node.IsDefined() ? ":" + std::to_string(node.Mark().line + 1) : std::string();
        throw Error(file_ + line + ": key '" + key + "': " + what, scenario_hint);
    }

    void reject_unknown_keys(const YAML::Node& map, const std::set<std::string>& known, const std::string& parent) const {
        for (const auto& item : map) {
            auto name = item.first.Scalar();
            if (!known.contains(name)) {
                std::string list;
                for (const auto& key : known) list += (list.empty() ? "" : ", ") + key;
                fail(item.first, parent + name, "unknown key; known keys here: " + list);
            }
        }
    }

    std::string text(const YAML::Node& node, const std::string& key) const {
        if (!node.IsScalar() || node.Scalar().empty()) fail(node, key, "expected a non-empty string");
        return node.Scalar();
    }

    int integer(const YAML::Node& node, const std::string& key, int minimum, int maximum) const {
        if (!node.IsScalar()) fail(node, key, "expected a number");
        const auto& value = node.Scalar();
        int number = 0;
        auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
        if (error != std::errc() || end != value.data() + value.size() || number < minimum || number > maximum) {
            fail(node, key, "expected a whole number from " + std::to_string(minimum) + " to " +
                                std::to_string(maximum) + ", got \"" + value + "\"");
        }
        return number;
    }

    bool boolean(const YAML::Node& node, const std::string& key) const {
        auto value = text(node, key);
        if (value == "true") return true;
        if (value == "false") return false;
        fail(node, key, "expected true or false, got \"" + value + "\"");
    }

    std::vector<std::string> command(const YAML::Node& node) const {
        if (node.IsScalar()) return {"/bin/sh", "-c", text(node, "command")};
        if (!node.IsSequence() || node.size() == 0) fail(node, "command", "expected a non-empty list of strings or a string");
        std::vector<std::string> argv;
        for (const auto& item : node) argv.push_back(text(item, "command"));
        return argv;
    }

    void readiness(const YAML::Node& node, Workload& workload) const {
        if (!node.IsMap() || node.size() != 1) fail(node, "readiness", "expected exactly one of log, tcp or http");
        reject_unknown_keys(node, {"http", "log", "tcp"}, "readiness.");
        if (auto log = node["log"]) {
            workload.readiness = ReadinessKind::log_line;
            workload.ready_prefix = text(log, "readiness.log");
        } else if (auto tcp = node["tcp"]) {
            workload.readiness = ReadinessKind::tcp_port;
            workload.port = integer(tcp, "readiness.tcp", 1, 65535);
        } else {
            auto http = node["http"];
            if (!http.IsMap()) fail(http, "readiness.http", "expected a map with port and optionally path");
            reject_unknown_keys(http, {"path", "port"}, "readiness.http.");
            if (!http["port"]) fail(http, "readiness.http.port", "missing; give the container port the server listens on");
            workload.readiness = ReadinessKind::http_path;
            workload.port = integer(http["port"], "readiness.http.port", 1, 65535);
            if (auto path = http["path"]) {
                workload.http_path = text(path, "readiness.http.path");
                if (!workload.http_path.starts_with("/")) {
                    fail(path, "readiness.http.path", "expected a path starting with /, got \"" + workload.http_path + "\"");
                }
            }
        }
    }

    std::vector<int> instances(const YAML::Node& node) const {
        if (!node.IsSequence() || node.size() == 0) fail(node, "instances", "expected a non-empty list of counts");
        std::vector<int> counts;
        for (const auto& item : node) {
            int count = integer(item, "instances", 1, 1024);
            if (!counts.empty() && count <= counts.back()) fail(item, "instances", "expected increasing counts");
            counts.push_back(count);
        }
        return counts;
    }

private:
    std::string file_;
};

}  // namespace

Workload parse_scenario(const std::string& content, const std::string& file) {
    ScenarioReader reader(file);
    YAML::Node root;
    try {
        root = YAML::Load(content);
    } catch (const YAML::Exception& error) {
        throw Error(file + ":" + std::to_string(error.mark.line + 1) + ": invalid YAML: " + error.msg, scenario_hint);
    }
    if (!root.IsMap()) throw Error(file + ": expected a map of scenario keys (image, command, readiness)", scenario_hint);
    reader.reject_unknown_keys(root, {"command", "image", "instances", "name", "readiness", "repetitions",
                                      "stop_after_ready"}, "");

    Workload workload;
    workload.name = root["name"] ? reader.text(root["name"], "name") : std::filesystem::path(file).stem().string();
    for (const char* key : {"image", "command", "readiness"}) {
        if (!root[key]) throw Error(file + ": key '" + std::string(key) + "': missing", scenario_hint);
    }
    workload.image = reader.text(root["image"], "image");
    workload.command = reader.command(root["command"]);
    reader.readiness(root["readiness"], workload);
    workload.stop_after_ready = workload.needs_published_port();
    if (auto stop = root["stop_after_ready"]) workload.stop_after_ready = reader.boolean(stop, "stop_after_ready");
    if (auto repetitions = root["repetitions"]) workload.repetitions = reader.integer(repetitions, "repetitions", 1, 10000);
    if (auto instances = root["instances"]) workload.instance_counts = reader.instances(instances);
    return workload;
}

Workload load_scenario(const std::string& path) {
    std::ifstream file(path);
    if (!file) throw Error("cannot read scenario file " + path, "pass the path of a YAML or JSON scenario file");
    std::ostringstream content;
    content << file.rdbuf();
    return parse_scenario(content.str(), path);
}

}  // namespace isolab::bench
