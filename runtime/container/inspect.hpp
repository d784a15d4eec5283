#pragma once
// `isolab inspect`: containers as JSON in the shape of `docker inspect`, with the fields
// isolab has (Id, Name, Created, Path, Args, State, RestartCount, Image, LogPath, Config,
// HostConfig).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/container/record.hpp"
#include "runtime/image/store.hpp"

namespace isolab::container {

// One container as `docker inspect` shows it. `store` finds the image's Entrypoint to
// split the command into Config.Entrypoint and Config.Cmd; without it, or when the
// image is gone, Cmd contains the whole command.
nlohmann::json inspect_container(const StoredContainer& container, const image::Store* store);

struct InspectResult {
    nlohmann::json containers = nlohmann::json::array();  // one object per container found, in the given order
    std::vector<std::string> missing;                      // names or ids that matched no container
};

// Looks up each name or id, as `docker inspect` does: the found ones are shown even when
// others are missing. Throws Error for an ambiguous id prefix.
InspectResult inspect_containers(image::Store& store, const std::vector<std::string>& names_or_ids);

}  // namespace isolab::container
