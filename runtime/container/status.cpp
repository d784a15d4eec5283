#include "runtime/container/status.hpp"

#include <signal.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <sstream>

#include <fmt/format.h>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"

namespace isolab::container {

namespace fs = std::filesystem;

std::uint64_t process_start_ticks(pid_t pid) {
    if (pid <= 0) return 0;
    std::string stat;
    try {
        stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    } catch (const Error&) {
        return 0;
    }
    // The command name (field 2) may contain spaces and parentheses: fields after it are
    // counted from the last ')'. Field 3 is the state, field 22 the start time.
    auto close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(stat.substr(close + 1));
    std::string state;
    fields >> state;
    if (state == "Z" || state == "X") return 0;
    std::string skipped;
    for (int field = 4; field < 22; ++field) fields >> skipped;
    std::uint64_t start_ticks = 0;
    fields >> start_ticks;
    return start_ticks;
}

bool process_alive(pid_t pid, std::uint64_t start_ticks) {
    auto actual = process_start_ticks(pid);
    if (actual == 0) return false;
    return start_ticks == 0 || actual == start_ticks;
}

ContainerState observed_state(const StoredContainer& container) {
    ContainerState state = container.state;
    bool owner_alive = process_alive(state.monitor_pid, state.monitor_start_ticks);
    if (state.status == "running") {
        if (owner_alive) return state;
        // A workload that outlived the owner it should have died with is a leftover.
        if (!container.config.request.dies_with_owner && process_alive(state.pid, state.pid_start_ticks)) return state;
    } else if (state.status == "restarting") {
        if (owner_alive) return state;
    } else {
        return state;
    }
    state.status = "exited";
    state.pid = 0;
    if (!state.exit_code) state.exit_code = 255;
    return state;
}

bool is_active(const StoredContainer& container) {
    auto status = observed_state(container).status;
    return status == "running" || status == "restarting";
}

ContainerState read_state(const ContainerPaths& paths) {
    std::error_code error;
    if (!fs::exists(paths.state(), error)) return {};
    return nlohmann::json::parse(read_file(paths.state())).get<ContainerState>();
}

ContainerState update_state(const ContainerPaths& paths, const std::function<void(ContainerState&)>& change) {
    ContainerState result;
    update_state_if(paths, [&](ContainerState& state) {
        change(state);
        result = state;
        return true;
    });
    return result;
}

bool update_state_if(const ContainerPaths& paths, const std::function<bool(ContainerState&)>& change) {
    FileLock lock(paths.directory / "state.lock");
    auto state = read_state(paths);
    if (!change(state)) return false;
    write_file_atomic(paths.state(), nlohmann::json(state).dump(2) + "\n");
    return true;
}

StoredContainer require_container(const Paths& paths, const std::string& name_or_id) {
    auto container = find_container(paths, name_or_id);
    if (!container) throw no_such_container(name_or_id);
    return std::move(*container);
}

Error no_such_container(const std::string& names) {
    return Error("no such container: " + names, "list them with 'isolab ps -a'", target_error_exit_code);
}

Error container_not_running(const std::string& name) {
    return Error("container " + name + " is not running", "start it with 'isolab start'; list running ones with 'isolab ps'",
                 target_error_exit_code);
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& text) {
    std::tm utc{};
    int nanoseconds_digits = 0;
    long nanoseconds = 0;
    int consumed = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &utc.tm_year, &utc.tm_mon, &utc.tm_mday, &utc.tm_hour,
                    &utc.tm_min, &utc.tm_sec, &consumed) != 6) {
        return std::nullopt;
    }
    size_t position = static_cast<size_t>(consumed);
    if (position < text.size() && text[position] == '.') {
        for (++position; position < text.size() && std::isdigit(static_cast<unsigned char>(text[position])); ++position) {
            if (nanoseconds_digits++ < 9) nanoseconds = nanoseconds * 10 + (text[position] - '0');
        }
        for (; nanoseconds_digits < 9; ++nanoseconds_digits) nanoseconds *= 10;
    }
    if (position >= text.size() || text[position] != 'Z') return std::nullopt;
    utc.tm_year -= 1900;
    utc.tm_mon -= 1;
    auto seconds = timegm(&utc);
    return std::chrono::system_clock::from_time_t(seconds) +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(nanoseconds));
}

std::string human_duration(std::chrono::system_clock::duration duration) {
    using namespace std::chrono;
    auto seconds = duration_cast<std::chrono::seconds>(duration).count();
    if (seconds < 1) return "Less than a second";
    if (seconds == 1) return "1 second";
    if (seconds < 60) return fmt::format("{} seconds", seconds);
    auto minutes = seconds / 60;
    if (minutes == 1) return "About a minute";
    if (minutes < 60) return fmt::format("{} minutes", minutes);
    // Hours are rounded, as Docker rounds them.
    auto hours = (seconds + 1800) / 3600;
    if (hours == 1) return "About an hour";
    if (hours < 48) return fmt::format("{} hours", hours);
    if (hours < 24 * 7 * 2) return fmt::format("{} days", hours / 24);
    if (hours < 24 * 30 * 2) return fmt::format("{} weeks", hours / 24 / 7);
    if (hours < 24 * 365 * 2) return fmt::format("{} months", hours / 24 / 30);
    return fmt::format("{} years", seconds / 3600 / 24 / 365);
}

std::string status_text(const StoredContainer& container, std::chrono::system_clock::time_point now) {
    auto state = observed_state(container);
    auto since = [&](const std::string& rfc3339) -> std::string {
        auto when = parse_rfc3339(rfc3339);
        return when ? " " + human_duration(now - *when) : std::string();
    };
    if (state.status == "running") {
        auto up = "Up" + since(state.started_at);
        return state.health && healthcheck_enabled(container.config.healthcheck)
                   ? up + " (" + health_status_text(*state.health) + ")"
                   : up;
    }
    if (state.status == "restarting") {
        auto ago = since(state.finished_at);
        return fmt::format("Restarting ({}){}", state.exit_code.value_or(0), ago.empty() ? "" : ago + " ago");
    }
    if (state.status == "exited") {
        auto ago = since(state.finished_at);
        return fmt::format("Exited ({}){}", state.exit_code.value_or(0), ago.empty() ? "" : ago + " ago");
    }
    return "Created";
}

}  // namespace isolab::container
