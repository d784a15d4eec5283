#include "runtime/core/fault.hpp"

#include <csignal>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace isolab {

void fault_point(const char* name) {
    const char* requested = std::getenv("ISOLAB_FAULT");
    if (requested == nullptr) return;
    std::string_view point(requested);
    long occurrence = 1;
    if (auto at = point.find('@'); at != std::string_view::npos) {
        occurrence = std::strtol(requested + at + 1, nullptr, 10);
        point = point.substr(0, at);
    }
    if (point != name) return;

    static std::mutex mutex;
    static std::map<std::string, long> reached;
    std::lock_guard held(mutex);
    if (++reached[name] == occurrence) std::raise(SIGKILL);
}

}  // namespace isolab
