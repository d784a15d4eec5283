#pragma once
// `isolab compose` commands over a loaded project: each replica of a service runs as a
// detached container named PROJECT-SERVICE-N, labelled with the project, the service,
// its number and a hash of its settings, so later commands find it and `up` can tell when
// to recreate it. The project's networks are isolab networks named PROJECT_KEY, labelled
// with the project, so `down` finds them without the file.
#include <map>
#include <string>
#include <vector>

#include "runtime/compose/project.hpp"
#include "runtime/container/record.hpp"
#include "runtime/image/store.hpp"

namespace isolab::compose {

// Label keys, as docker compose names them, so scripts that filter on them work alike.
inline constexpr const char* project_label = "com.docker.compose.project";
inline constexpr const char* service_label = "com.docker.compose.service";
inline constexpr const char* config_hash_label = "com.docker.compose.config-hash";
inline constexpr const char* number_label = "com.docker.compose.container-number";
inline constexpr const char* network_label = "com.docker.compose.network";

struct UpOptions {
    bool detach = false;   // -d: return once the containers run; else follow their logs
    bool build = false;    // --build: build images of services with build: first
    std::map<std::string, int> scale;  // --scale SERVICE=N: replicas, over the file's scale: or deploy.replicas
};

// Parses a --scale value, SERVICE=N, into `scale`. Throws Error naming the value.
void parse_scale(const std::string& text, std::map<std::string, int>& scale);

// Loads the project and prints each warning to stderr as "isolab: warning: ...".
Project load_with_warnings(const LoadOptions& options);

// The project name: -p (or COMPOSE_PROJECT_NAME) when given, so `down` and `ps` work
// without the file; else the name the loaded file gives.
std::string project_name_for(const LoadOptions& options);

// The `isolab run` request for replica `number` of a service, with the compose labels and
// the config hash. The service's first network is the container's --network, with the
// service's name and the network's aliases as --network-alias.
container::RunOptions run_options_for(const Project& project, const Service& service, int number = 1);

// Creates the project's named volumes and networks, then starts each replica of the
// services in dependency order, and removes replicas beyond a smaller scale.
// A running container whose settings are unchanged is left alone; one with other
// settings is replaced. Without `detach`, prints the containers' output until all exit.
// Returns the exit code for the CLI.
int up(image::Store& store, const Project& project, const UpOptions& options);

// Stops and removes the project's containers and the networks `up` created, and with
// `remove_volumes` its named volumes. External networks stay.
void down(const Paths& paths, const std::string& project_name, bool remove_volumes);

// The project's containers, oldest first; only running ones unless `all`.
std::vector<container::StoredContainer> project_containers(const Paths& paths, const std::string& project_name, bool all);

// `compose ps`: a table, or with `json` one object per line with Name, Service, State,
// Status, Project, ID, Image, Command, ExitCode, as docker compose prints them.
std::string format_ps(const std::vector<container::StoredContainer>& containers, bool json);

// Builds the images of services with build:, tagged with the service's image name.
void build(image::Store& store, const Project& project, bool no_cache);

// Builds the image of one service with build:.
void build_service(image::Store& store, const Service& service, bool no_cache);

// Stops, starts or restarts the project's containers.
void stop(const Paths& paths, const std::string& project_name, int timeout_seconds);
void start(const Paths& paths, const std::string& project_name);
void restart(const Paths& paths, const std::string& project_name, int timeout_seconds);

// Prints the output of the project's containers, each line prefixed with its service.
void logs(const Paths& paths, const std::string& project_name, bool follow);

// Finds replica `index` of `service`, the container named PROJECT-SERVICE-INDEX. Returns
// its id. Throws Error when the service has no container, or none with that index.
std::string container_of(const Paths& paths, const std::string& project_name, const std::string& service, int index = 1);

// Throws Error ("no such service: NAME", exit code 1) unless the project has that service.
void require_service(const Project& project, const std::string& service);

}  // namespace isolab::compose
