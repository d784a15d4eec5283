#pragma once
// Listing and removing container records: `isolab ps` and `isolab rm`.
#include <string>
#include <vector>

#include "runtime/container/record.hpp"

namespace isolab::container {

// True when the record says running and its first process still exists.
bool is_running(const StoredContainer& container);

// The STATUS column of `ps`: Up, Exited (CODE), Created, or Dead when the record says
// running but its process is gone.
std::string status_text(const StoredContainer& container);

// The containers for `ps`: running ones, or all with `all`.
std::vector<StoredContainer> containers_for_ps(const Paths& paths, bool all);

// The `ps` table (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, NAMES), or only the
// short ids with `quiet`.
std::string format_ps(const std::vector<StoredContainer>& containers, bool quiet);

// Removes a container's record and upper dir. A running container is rejected unless
// `force`, which kills its processes first. With `remove_volumes` (rm -v) its anonymous
// volumes go too. Throws Error when it is not found.
void remove_container(const Paths& paths, const std::string& name_or_id, bool force, bool remove_volumes = false);

}  // namespace isolab::container
