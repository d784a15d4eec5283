#pragma once
// Listing and removing container records: `isolab ps` and `isolab rm`.
#include <string>
#include <vector>

#include "runtime/container/record.hpp"

namespace isolab::container {

// True when the container's first process runs (or its owner is still recording its exit).
bool is_running(const StoredContainer& container);

// The containers for `ps`, newest first as Docker lists them: running and restarting
// ones, or all with `all`.
std::vector<StoredContainer> containers_for_ps(const Paths& paths, bool all);

// The `ps` table (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, PORTS, NAMES), or only the
// short ids with `quiet`.
std::string format_ps(const std::vector<StoredContainer>& containers, bool quiet);

// Removes a container's record, upper dir and log. A running or restarting container is
// rejected unless `force`, which kills its processes and waits for its monitor to end
// first. With `remove_volumes` (rm -v) its anonymous volumes go too. Throws Error when it
// is not found.
void remove_container(const Paths& paths, const std::string& name_or_id, bool force, bool remove_volumes = false);

}  // namespace isolab::container
