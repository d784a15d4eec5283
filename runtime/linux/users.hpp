#pragma once
// Users: resolving -u USER[:GROUP] against the image's /etc/passwd and /etc/group (or as
// numbers), and switching the workload to that user.
#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace isolab::kernel {

struct ContainerUser {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> supplementary_groups;
    std::string home;      // from /etc/passwd; empty when the user has no entry
};

// Resolves "user", "uid", "user:group", "uid:gid" (names from the passwd and group file
// contents given). A numeric user without a passwd entry gets gid 0 as in Docker.
// Throws Error when a name is not found.
ContainerUser resolve_user(std::string_view spec, std::string_view passwd, std::string_view group);

// Sets the supplementary groups, gid and uid of this process, in that order.
void switch_user(const ContainerUser& user);

}  // namespace isolab::kernel
