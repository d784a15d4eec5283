#include "runtime/linux/hostname.hpp"

#include <string>

#include "runtime/core/error.hpp"

namespace isolab::kernel {

void validate_hostname(std::string_view hostname) {
    auto invalid = [&](const std::string& why) {
        return Error("invalid hostname '" + std::string(hostname) + "': " + why,
                     "use letters, digits, '-' and '.', at most 64 characters in all and 63 between two dots");
    };
    if (hostname.empty()) throw invalid("it is empty");
    if (hostname.size() > 64) {
        throw invalid("it has " + std::to_string(hostname.size()) + " characters, the limit is 64 characters");
    }
    size_t label_start = 0;
    for (size_t i = 0; i <= hostname.size(); ++i) {
        if (i == hostname.size() || hostname[i] == '.') {
            auto label = hostname.substr(label_start, i - label_start);
            if (label.empty()) throw invalid("it has an empty label");
            if (label.size() > 63) throw invalid("a label has " + std::to_string(label.size()) + " characters, the limit is 63");
            if (label.front() == '-' || label.back() == '-') throw invalid("a label starts or ends with '-'");
            label_start = i + 1;
            continue;
        }
        char c = hostname[i];
        bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (!allowed) throw invalid(std::string("character '") + c + "' is not allowed");
    }
}

}  // namespace isolab::kernel
