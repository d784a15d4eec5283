#include "runtime/linux/subreaper.hpp"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "runtime/core/error.hpp"

namespace isolab::kernel {

namespace {

std::mutex subreaper_mutex;
int subreaper_users = 0;
bool subreaper_before = false;

void set_subreaper(bool enabled) {
    if (prctl(PR_SET_CHILD_SUBREAPER, enabled ? 1 : 0, 0, 0, 0) != 0) {
        throw_errno(std::string("cannot ") + (enabled ? "set" : "clear") + " PR_SET_CHILD_SUBREAPER");
    }
}

}  // namespace

void run_as_subreaper(const std::function<void()>& body) {
    {
        std::lock_guard lock(subreaper_mutex);
        if (subreaper_users == 0) {
            int current = 0;
            if (prctl(PR_GET_CHILD_SUBREAPER, &current, 0, 0, 0) != 0) throw_errno("cannot read PR_GET_CHILD_SUBREAPER");
            subreaper_before = current != 0;
            if (!subreaper_before) set_subreaper(true);
        }
        ++subreaper_users;
    }

    auto leave = [] {
        std::lock_guard lock(subreaper_mutex);
        if (--subreaper_users == 0 && !subreaper_before) {
            // Children adopted so far stay children; only later orphans go to PID 1 again.
            prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
        }
    };
    try {
        body();
    } catch (...) {
        leave();
        throw;
    }
    leave();
}

pid_t parent_of(pid_t pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    // The command name in brackets may contain spaces and ')', so fields are counted from
    // the last ')': state, then the parent's pid.
    auto name_end = text.rfind(')');
    if (name_end == std::string::npos) return -1;
    std::istringstream fields(text.substr(name_end + 1));
    std::string state;
    pid_t parent = -1;
    if (!(fields >> state >> parent)) return -1;
    return parent;
}

bool reap_when_exited(pid_t pid) {
    if (pid <= 0 || parent_of(pid) != getpid()) return false;
    // The thread touches nothing but `pid`, so it may still be waiting when the process
    // exits.
    std::thread([pid] {
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }).detach();
    return true;
}

}  // namespace isolab::kernel
