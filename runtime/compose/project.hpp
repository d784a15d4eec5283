#pragma once
// A compose project: compose.yaml (or docker-compose.yml) files that are read,
// interpolated, merged and checked, giving the services that isolab runs as containers.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/container/options.hpp"
#include "runtime/image/store.hpp"

namespace isolab::compose {

struct BuildSpec {
    std::filesystem::path context;              // absolute
    std::string dockerfile;                     // relative to the context; empty: Dockerfile
    std::map<std::string, std::string> args;
    std::string target;
};

struct Dependency {
    std::string service;
    std::string condition = "service_started";  // or service_healthy, service_completed_successfully
};

// One network a service joins, by its key under the top-level networks: key.
struct ServiceNetwork {
    std::string key;                            // "default": the project's default network
    std::vector<std::string> aliases;           // names the other members resolve besides the service's
};

// A network under the top-level networks: key, or the project's default network.
struct NetworkSpec {
    std::string key;                            // the key in the file; "default" for the default network
    std::string name;                           // the isolab network: PROJECT_KEY unless name: gives one
    bool external = false;                      // external: true: must exist; up and down leave it alone
    std::string subnet;                         // ipam.config[0].subnet; empty: a free /24
    std::map<std::string, std::string> labels;
};

// A bind mount whose absolute host path contains ':', which the `-v` form cannot carry.
struct ColonBind {
    std::string source;  // absolute
    std::string target;
    bool read_only = false;
};

struct Service {
    std::string name;
    std::string image;                          // empty when only build is given
    std::optional<BuildSpec> build;
    std::optional<std::vector<std::string>> command;
    std::optional<std::vector<std::string>> entrypoint;
    std::vector<std::string> environment;       // "NAME=value", env_file entries first
    std::vector<std::string> volumes;           // in `isolab run -v` form, binds absolute
    std::vector<ColonBind> colon_binds;         // binds with ':' in the host path, passed as --mount
    std::vector<Dependency> depends_on;
    std::string restart = "no";
    std::string working_dir;
    std::string user;
    std::optional<std::string> hostname;
    bool init = false;
    bool read_only = false;
    std::vector<std::string> tmpfs;
    std::optional<std::uint64_t> mem_limit;     // bytes
    std::optional<double> cpus;
    std::map<std::string, std::string> labels;
    std::vector<std::string> profiles;
    std::optional<image::Healthcheck> healthcheck;  // healthcheck:; unset: the image's
    std::vector<std::string> ports;             // in `isolab run -p` form: [IP:][HOST_PORT:]CONTAINER_PORT/PROTOCOL
    std::string network_mode;                   // none, host or bridge (isolab's default network); empty: networks
    std::vector<ServiceNetwork> networks;       // empty without network_mode: the default network
    int replicas = 1;                           // scale: or deploy.replicas
};

struct Project {
    std::string name;
    std::filesystem::path directory;            // the folder of the first file
    std::vector<Service> services;              // sorted so each follows its dependencies
    std::vector<std::string> volumes;           // names under the top-level volumes: key
    std::vector<NetworkSpec> networks;          // those under the top-level networks: key, and "default" when a service uses it
    std::vector<std::string> warnings;          // one per unknown or unsupported key
};

struct LoadOptions {
    std::vector<std::filesystem::path> files;   // empty: compose.yaml ... in working_dir
    std::filesystem::path working_dir;
    std::string project_name;                   // -p; empty: COMPOSE_PROJECT_NAME, else name:, else the folder
    container::EnvironmentLookup environment;   // the shell's environment
    std::vector<std::string> active_profiles;   // services with other profiles are left out
};

// Reads, interpolates, merges and checks the files. Throws Error naming the file, line and
// key of the first problem.
Project load_project(const LoadOptions& options);

// Lowercases `name`, drops every character but a-z, 0-9, '_' and '-', and drops leading
// '_' and '-', so the result is a valid project name or empty.
std::string normalize_project_name(const std::string& name);

// Throws Error unless `name` is a valid project name: lowercase letters, digits, '_' and
// '-', starting with a letter or digit.
void validate_project_name(const std::string& name);

// Replaces ${VAR}, $VAR, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error},
// ${VAR:+replacement} and $$ in `text`. `where` ("compose.yaml:3") goes into errors.
std::string interpolate(const std::string& text, const container::EnvironmentLookup& lookup, const std::string& where);

// The project as YAML in the shape of `docker compose config`: merged and interpolated.
std::string project_to_yaml(const Project& project);

}  // namespace isolab::compose
