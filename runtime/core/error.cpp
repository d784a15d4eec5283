#include "runtime/core/error.hpp"

#include <cerrno>
#include <cstring>

namespace isolab {

std::string Error::one_line() const {
    if (hint_.empty()) return what();
    return std::string(what()) + " (" + hint_ + ")";
}

void throw_errno(const std::string& what, std::string hint) {
    throw_errno(errno, what, std::move(hint));
}

void throw_errno(int error_number, const std::string& what, std::string hint) {
    throw Error(what + ": " + std::strerror(error_number), std::move(hint));
}

}  // namespace isolab
