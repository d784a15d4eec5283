#pragma once
// Hostname rules, apart from the namespace code so that parsers can check a hostname
// without linking the system calls.
#include <string_view>

namespace isolab::kernel {

// Checks a hostname as Docker does: at most 64 bytes, RFC 1123 labels (letters, digits
// and '-', separated by dots, no label starting or ending with '-'). Throws Error.
void validate_hostname(std::string_view hostname);

}  // namespace isolab::kernel
