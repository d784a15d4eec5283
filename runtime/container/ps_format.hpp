#pragma once
// `isolab ps --format`: the subset of Docker's Go templates that scripts use, so a lesson
// or a shell script can read `isolab ps` output as it reads `docker ps`.
#include <string>
#include <string_view>
#include <vector>

#include "runtime/container/record.hpp"

namespace isolab::container {

// Formats one line per container from `format`:
//   - "json": one JSON object per line with the fields below;
//   - a template where {{.Field}} is replaced by a field (ID, Names, Image, Command,
//     CreatedAt, Status, State, Ports), {{json .}} by the JSON object, and \t and \n by a tab and
//     a newline; a leading "table " adds a header line, as Docker does.
// Throws Error for an unknown field or an unclosed {{.
std::string format_ps_template(const std::vector<StoredContainer>& containers, std::string_view format);

// The PORTS column of `ps`: the published ports of a running container joined by ", "
// ("0.0.0.0:8080->80/tcp, 127.0.0.1:9000->90/udp"); empty for any other.
std::string ports_text(const StoredContainer& container);

}  // namespace isolab::container
