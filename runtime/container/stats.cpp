#include "runtime/container/stats.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "runtime/container/running.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/process.hpp"

namespace isolab::container {

namespace {

std::string cgroup_name(const StoredContainer& container) { return "isolab-" + container.config.id; }

std::vector<StoredContainer> selected_containers(const Paths& paths, const std::vector<std::string>& names) {
    if (names.empty()) return running_containers(paths);
    std::vector<StoredContainer> containers;
    for (const auto& name : names) containers.push_back(find_running_container(paths, name));
    return containers;
}

std::vector<std::string> split_words(const std::string& line) {
    std::istringstream stream(line);
    std::vector<std::string> words;
    std::string word;
    while (stream >> word) words.push_back(word);
    return words;
}

}  // namespace

double cpu_percent(std::uint64_t container_before, std::uint64_t container_after, std::uint64_t host_before,
                   std::uint64_t host_after, unsigned cpus) {
    if (host_after <= host_before || container_after < container_before) return 0;
    double container_delta = static_cast<double>(container_after - container_before);
    double host_delta = static_cast<double>(host_after - host_before);
    return container_delta / host_delta * cpus * 100.0;
}

std::string format_bytes(double bytes) {
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    size_t unit = 0;
    while (bytes >= 1024 && unit + 1 < std::size(units)) {
        bytes /= 1024;
        ++unit;
    }
    return fmt::format("{:.4g}{}", bytes, units[unit]);
}

std::string format_stats(const std::vector<ContainerStats>& rows) {
    std::string table = fmt::format("{:<14}{:<26}{:<9}{:<23}{:<9}{}\n", "CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT",
                                    "MEM %", "PIDS");
    for (const auto& row : rows) {
        auto memory = format_bytes(static_cast<double>(row.memory_bytes)) + " / " + format_bytes(static_cast<double>(row.memory_limit));
        table += fmt::format("{:<14}{:<26}{:<9}{:<23}{:<9}{}\n", row.id.substr(0, 12), row.name,
                             fmt::format("{:.2f}%", row.cpu_percent), memory, fmt::format("{:.2f}%", row.memory_percent),
                             row.pids);
    }
    return table;
}

std::vector<ContainerStats> sample_stats(const Paths& paths, const std::vector<std::string>& names, unsigned interval_ms) {
    auto host = kernel::detect_cgroups();
    auto containers = selected_containers(paths, names);
    unsigned cpus = static_cast<unsigned>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
    auto host_memory = kernel::host_memory_bytes();

    std::vector<std::uint64_t> cpu_before;
    for (const auto& container : containers) cpu_before.push_back(kernel::read_cgroup_usage(host, cgroup_name(container)).cpu_nanoseconds);
    auto host_before = kernel::host_cpu_nanoseconds();
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    auto host_after = kernel::host_cpu_nanoseconds();

    std::vector<ContainerStats> rows;
    for (size_t i = 0; i < containers.size(); ++i) {
        auto usage = kernel::read_cgroup_usage(host, cgroup_name(containers[i]));
        ContainerStats row;
        row.id = containers[i].config.id;
        row.name = containers[i].config.name;
        row.cpu_percent = cpu_percent(cpu_before[i], usage.cpu_nanoseconds, host_before, host_after, cpus);
        row.memory_bytes = usage.memory_bytes;
        row.memory_limit = std::min(usage.memory_limit.value_or(host_memory), host_memory);
        row.memory_percent = row.memory_limit > 0 ? 100.0 * static_cast<double>(row.memory_bytes) / static_cast<double>(row.memory_limit) : 0;
        row.pids = usage.pids;
        rows.push_back(row);
    }
    return rows;
}

void print_stats(const Paths& paths, const std::vector<std::string>& names, bool no_stream) {
    if (no_stream) {
        std::fputs(format_stats(sample_stats(paths, names)).c_str(), stdout);
        return;
    }
    // Runs until the user interrupts it, as docker stats does. It owns nothing that needs cleanup.
    while (true) {
        auto table = format_stats(sample_stats(paths, names));
        std::fputs(("\033[2J\033[H" + table).c_str(), stdout);
        std::fflush(stdout);
    }
}

std::string filter_ps_output(const std::string& ps_output, const std::vector<pid_t>& pids) {
    std::istringstream lines(ps_output);
    std::string header;
    std::getline(lines, header);
    auto columns = split_words(header);
    auto pid_column = std::find(columns.begin(), columns.end(), "PID");
    if (pid_column == columns.end()) {
        throw Error("the ps output has no PID column", "keep the pid among the ps options, e.g. isolab top C -o pid,comm");
    }
    auto index = static_cast<size_t>(pid_column - columns.begin());

    std::set<pid_t> wanted(pids.begin(), pids.end());
    std::string result = header + "\n";
    std::string line;
    while (std::getline(lines, line)) {
        auto fields = split_words(line);
        if (fields.size() <= index) continue;
        try {
            if (wanted.contains(static_cast<pid_t>(std::stol(fields[index])))) result += line + "\n";
        } catch (const std::exception&) {
            // A line without a number in the PID column is not a process row.
        }
    }
    return result;
}

std::string top(const Paths& paths, const std::string& name, const std::vector<std::string>& ps_options) {
    auto container = find_running_container(paths, name);
    std::vector<std::string> argv{"ps"};
    if (ps_options.empty()) argv.push_back("-ef");
    argv.insert(argv.end(), ps_options.begin(), ps_options.end());
    auto output = run_command(argv);
    if (output.exit_code != 0) {
        auto first_line = output.output.substr(0, output.output.find('\n'));
        throw Error(fmt::format("{} failed: {}", fmt::join(argv, " "), first_line), "pass options that ps accepts, e.g. aux");
    }
    auto pids = kernel::cgroup_processes(kernel::detect_cgroups(), cgroup_name(container));
    return filter_ps_output(output.output, pids);
}

}  // namespace isolab::container
