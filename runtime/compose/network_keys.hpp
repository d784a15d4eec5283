#pragma once
// The keys of a compose file that place services on networks: a service's ports:,
// networks:, network_mode:, scale: and deploy:, and the top-level networks: key.
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "runtime/compose/project.hpp"
#include "runtime/compose/reader.hpp"

namespace isolab::compose {

// Reads a service's ports: (short or long syntax) into `isolab run -p` values.
std::vector<std::string> read_ports(const Reader& reader, const YAML::Node& node, const std::string& key);

// Reads a service's networks: (a list of names, or a map of names to settings with
// aliases). Each name must be "default" or one of `declared`.
std::vector<ServiceNetwork> read_service_networks(const Reader& reader, const YAML::Node& node, const std::string& key,
                                                  const std::set<std::string>& declared,
                                                  std::vector<std::string>& warnings);

// Reads network_mode: none, host or bridge.
std::string read_network_mode(const Reader& reader, const YAML::Node& node, const std::string& key);

// Reads a replica count (scale: or deploy.replicas): a whole number, 0 or more.
int read_replicas(const Reader& reader, const YAML::Node& node, const std::string& key);

// Reads deploy:, of which only replicas is applied. Returns the replica count, or -1 when
// deploy: gives none.
int read_deploy(const Reader& reader, const YAML::Node& node, const std::string& key, std::vector<std::string>& warnings);

// Reads one network under the top-level networks: key.
NetworkSpec read_network(const Reader& reader, const std::string& network_key, const YAML::Node& node,
                         const std::string& project_name, std::vector<std::string>& warnings);

}  // namespace isolab::compose
