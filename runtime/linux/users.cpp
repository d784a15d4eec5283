#include "runtime/linux/users.hpp"

#include <grp.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <sstream>

#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"

namespace isolab::kernel {

namespace {

std::vector<std::string> split_fields(const std::string& line) {
    std::vector<std::string> fields;
    std::stringstream stream(line);
    std::string field;
    while (std::getline(stream, field, ':')) fields.push_back(field);
    if (!line.empty() && line.back() == ':') fields.emplace_back();
    return fields;
}

std::optional<unsigned> parse_id(std::string_view text) {
    unsigned value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// Parses a uid or gid given as a number; nullopt for a name. `kind` is "uid" or "gid". As
// runc does, ids above 2147483647 (INT32_MAX) are rejected.
std::optional<unsigned> parse_requested_id(std::string_view text, const char* kind) {
    constexpr unsigned max_id = 2147483647;
    bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) return std::nullopt;
    auto value = parse_id(text);
    if (!value || *value > max_id) {
        throw Error(std::string(kind) + " " + std::string(text) + " is out of range: it must be between 0 and " +
                        std::to_string(max_id),
                    "use a smaller number, or a name from the image");
    }
    return value;
}

// Calls `visit` with the fields of each line of a passwd or group file.
template <typename Visit>
void for_each_entry(std::string_view content, Visit visit) {
    std::istringstream lines{std::string(content)};
    std::string line;
    while (std::getline(lines, line)) {
        if (line.empty() || line.front() == '#') continue;
        auto fields = split_fields(line);
        if (fields.size() >= 4) visit(fields);
    }
}

}  // namespace

ContainerUser resolve_user(std::string_view spec, std::string_view passwd, std::string_view group) {
    auto colon = spec.find(':');
    std::string user_part(spec.substr(0, colon));
    std::optional<std::string> group_part;
    if (colon != std::string_view::npos) group_part = std::string(spec.substr(colon + 1));
    if (user_part.empty()) throw Error("invalid user '" + std::string(spec) + "'", "use -u USER[:GROUP] or -u UID[:GID]");

    ContainerUser user;
    std::string user_name;
    bool found = false;
    auto numeric_user = parse_requested_id(user_part, "uid");
    for_each_entry(passwd, [&](const std::vector<std::string>& fields) {
        if (found || fields.size() < 6) return;
        auto uid = parse_id(fields[2]);
        auto gid = parse_id(fields[3]);
        if (!uid || !gid) return;
        if (fields[0] == user_part || (numeric_user && *numeric_user == *uid)) {
            user.uid = *uid;
            user.gid = *gid;
            user.home = fields[5];
            user_name = fields[0];
            found = true;
        }
    });
    if (!found && !numeric_user) {
        throw Error("user '" + user_part + "' not found in the image's /etc/passwd", "use a numeric uid or a user the image has");
    }
    if (!found) user.uid = *numeric_user;

    if (group_part) {
        auto numeric_group = parse_requested_id(*group_part, "gid");
        bool group_found = false;
        for_each_entry(group, [&](const std::vector<std::string>& fields) {
            auto gid = parse_id(fields[2]);
            if (!group_found && gid && (fields[0] == *group_part || (numeric_group && *numeric_group == *gid))) {
                user.gid = *gid;
                group_found = true;
            }
        });
        if (!group_found && !numeric_group) {
            throw Error("group '" + *group_part + "' not found in the image's /etc/group", "use a numeric gid or a group the image has");
        }
        if (!group_found) user.gid = *numeric_group;
    }

    // Supplementary groups: every group listing the user name as a member.
    if (!user_name.empty()) {
        for_each_entry(group, [&](const std::vector<std::string>& fields) {
            auto gid = parse_id(fields[2]);
            std::stringstream members(fields[3]);
            std::string member;
            while (gid && std::getline(members, member, ',')) {
                if (member == user_name && *gid != user.gid &&
                    std::find(user.supplementary_groups.begin(), user.supplementary_groups.end(), *gid) ==
                        user.supplementary_groups.end()) {
                    user.supplementary_groups.push_back(*gid);
                }
            }
        });
    }
    return user;
}

void switch_user(const ContainerUser& user) {
    if (setgroups(user.supplementary_groups.size(), user.supplementary_groups.data()) != 0) throw_errno("setgroups");
    if (setgid(user.gid) != 0) throw_errno("setgid " + std::to_string(user.gid));
    if (setuid(user.uid) != 0) throw_errno("setuid " + std::to_string(user.uid));
    spdlog::debug("user: switched to uid {} gid {} ({} supplementary groups)", user.uid, user.gid,
                  user.supplementary_groups.size());
}

}  // namespace isolab::kernel
