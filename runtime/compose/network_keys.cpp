#include "runtime/compose/network_keys.hpp"

#include "runtime/network/ports.hpp"

namespace isolab::compose {

namespace {

// Checks a port value in `isolab run -p` form with the runtime's own parser, so compose
// accepts exactly what `run -p` accepts.
std::string checked_port(const Reader& reader, const YAML::Node& node, const std::string& key, const std::string& text) {
    if (text.find('-') != std::string::npos) {
        fail(reader.file(), node, key, "port range \"" + text + "\" is not supported; publish each port on its own line");
    }
    try {
        network::parse_port_mapping(text);
    } catch (const Error& error) {
        fail(reader.file(), node, key, error.what());
    }
    return text;
}

std::string port_from_long_syntax(const Reader& reader, const YAML::Node& node, const std::string& key) {
    std::string target;
    std::string published;
    std::string host_ip;
    std::string protocol = "tcp";
    for (const auto& item : node) {
        auto field = item.first.as<std::string>();
        auto field_key = key + "." + field;
        if (field == "target") {
            target = reader.scalar(item.second, field_key);
        } else if (field == "published") {
            published = reader.scalar(item.second, field_key);
        } else if (field == "host_ip") {
            host_ip = reader.scalar(item.second, field_key);
        } else if (field == "protocol") {
            protocol = reader.scalar(item.second, field_key);
        } else if (field == "mode") {
            // ingress and host differ only on a swarm; a single host publishes alike.
            auto mode = reader.scalar(item.second, field_key);
            if (mode != "host" && mode != "ingress") {
                fail(reader.file(), item.second, field_key, "\"" + mode + "\" is not host or ingress");
            }
        } else if (field == "name" || field == "app_protocol") {
            reader.scalar(item.second, field_key);  // descriptive only
        } else {
            fail(reader.file(), item.first, field_key, "is not a port setting");
        }
    }
    if (target.empty()) fail(reader.file(), node, key, "a long-syntax port needs a target");
    std::string text = target + "/" + protocol;
    if (!published.empty() || !host_ip.empty()) text = published + ":" + text;
    if (!host_ip.empty()) text = host_ip + ":" + text;
    return checked_port(reader, node, key, text);
}

}  // namespace

std::vector<std::string> read_ports(const Reader& reader, const YAML::Node& node, const std::string& key) {
    if (!node.IsSequence()) fail(reader.file(), node, key, "expected a list");
    std::vector<std::string> ports;
    for (const auto& entry : node) {
        if (entry.IsMap()) {
            ports.push_back(port_from_long_syntax(reader, entry, key));
            continue;
        }
        auto text = reader.scalar(entry, key);
        if (text.find('/') == std::string::npos) text += "/tcp";
        ports.push_back(checked_port(reader, entry, key, text));
    }
    return ports;
}

std::vector<ServiceNetwork> read_service_networks(const Reader& reader, const YAML::Node& node, const std::string& key,
                                                  const std::set<std::string>& declared,
                                                  std::vector<std::string>& warnings) {
    std::vector<ServiceNetwork> networks;
    auto check_declared = [&](const YAML::Node& where, const std::string& name) {
        if (name != "default" && !declared.count(name)) {
            fail(reader.file(), where, key, "network \"" + name + "\" is not declared under the top-level networks: key");
        }
    };
    if (node.IsSequence()) {
        for (const auto& entry : node) {
            ServiceNetwork network{reader.scalar(entry, key), {}};
            check_declared(entry, network.key);
            networks.push_back(std::move(network));
        }
        return networks;
    }
    if (!node.IsMap()) fail(reader.file(), node, key, "expected a list of networks or a map of networks to settings");
    for (const auto& item : node) {
        ServiceNetwork network{item.first.as<std::string>(), {}};
        check_declared(item.first, network.key);
        auto network_key = key + "." + network.key;
        if (!item.second.IsNull()) {
            if (!item.second.IsMap()) fail(reader.file(), item.second, network_key, "expected a map of settings");
            for (const auto& setting : item.second) {
                auto field = setting.first.as<std::string>();
                auto field_key = network_key + "." + field;
                if (field == "aliases") {
                    network.aliases = reader.list(setting.second, field_key);
                    for (const auto& alias : network.aliases) {
                        if (alias.empty() || alias.find_first_of(" \t\n") != std::string::npos) {
                            fail(reader.file(), setting.second, field_key, "\"" + alias + "\" is not a valid alias");
                        }
                    }
                } else {
                    warnings.push_back(location(reader.file(), setting.first) + ": " + field_key +
                                       ": is not supported and ignored");
                }
            }
        }
        networks.push_back(std::move(network));
    }
    return networks;
}

std::string read_network_mode(const Reader& reader, const YAML::Node& node, const std::string& key) {
    auto mode = reader.scalar(node, key);
    if (mode != "none" && mode != "host" && mode != "bridge") {
        fail(reader.file(), node, key, "\"" + mode + "\" is not supported (use none, host or bridge, or networks:)");
    }
    return mode;
}

int read_replicas(const Reader& reader, const YAML::Node& node, const std::string& key) {
    auto text = reader.scalar(node, key);
    bool digits = !text.empty() && text.size() < 5 && text.find_first_not_of("0123456789") == std::string::npos;
    if (!digits) fail(reader.file(), node, key, "\"" + text + "\" is not a whole number from 0 to 9999");
    return std::stoi(text);
}

int read_deploy(const Reader& reader, const YAML::Node& node, const std::string& key, std::vector<std::string>& warnings) {
    if (!node.IsMap()) fail(reader.file(), node, key, "expected a map of settings");
    int replicas = -1;
    for (const auto& item : node) {
        auto field = item.first.as<std::string>();
        if (field == "replicas") {
            replicas = read_replicas(reader, item.second, key + ".replicas");
        } else {
            warnings.push_back(location(reader.file(), item.first) + ": " + key + "." + field +
                               ": is not supported and ignored");
        }
    }
    return replicas;
}

NetworkSpec read_network(const Reader& reader, const std::string& network_key, const YAML::Node& node,
                         const std::string& project_name, std::vector<std::string>& warnings) {
    NetworkSpec network;
    network.key = network_key;
    auto key = "networks." + network_key;
    std::string given_name;
    if (!node.IsNull() && !node.IsMap()) fail(reader.file(), node, key, "expected a map of settings");
    for (const auto& item : node) {
        auto field = item.first.as<std::string>();
        auto field_key = key + "." + field;
        const auto& value = item.second;
        if (field == "driver") {
            auto driver = reader.scalar(value, field_key);
            if (driver != "bridge") {
                fail(reader.file(), value, field_key, "\"" + driver + "\" is not supported (isolab networks are bridges)");
            }
        } else if (field == "name") {
            given_name = reader.scalar(value, field_key);
        } else if (field == "external") {
            // The old form external: {name: NAME} names the network too.
            if (value.IsMap()) {
                network.external = true;
                if (value["name"]) given_name = reader.scalar(value["name"], field_key + ".name");
            } else {
                network.external = reader.boolean(value, field_key);
            }
        } else if (field == "labels") {
            for (auto& [label, label_value] : reader.pairs(value, field_key)) network.labels[label] = label_value.value_or("");
        } else if (field == "ipam") {
            if (!value.IsMap()) fail(reader.file(), value, field_key, "expected a map of settings");
            for (const auto& ipam : value) {
                auto ipam_field = ipam.first.as<std::string>();
                auto ipam_key = field_key + "." + ipam_field;
                if (ipam_field == "driver") {
                    auto driver = reader.scalar(ipam.second, ipam_key);
                    if (driver != "default") fail(reader.file(), ipam.second, ipam_key, "\"" + driver + "\" is not supported (use default)");
                } else if (ipam_field == "config") {
                    if (!ipam.second.IsSequence()) fail(reader.file(), ipam.second, ipam_key, "expected a list");
                    for (size_t i = 0; i < ipam.second.size(); ++i) {
                        const auto& entry = ipam.second[i];
                        if (!entry.IsMap()) fail(reader.file(), entry, ipam_key, "expected a map with subnet:");
                        for (const auto& setting : entry) {
                            auto setting_name = setting.first.as<std::string>();
                            auto setting_key = ipam_key + "." + setting_name;
                            if (setting_name == "subnet" && i == 0) {
                                network.subnet = reader.scalar(setting.second, setting_key);
                            } else {
                                warnings.push_back(location(reader.file(), setting.first) + ": " + setting_key +
                                                   ": is not supported and ignored (only the first subnet is applied)");
                            }
                        }
                    }
                } else {
                    warnings.push_back(location(reader.file(), ipam.first) + ": " + ipam_key + ": is not supported and ignored");
                }
            }
        } else {
            warnings.push_back(location(reader.file(), item.first) + ": " + field_key + ": is not supported and ignored");
        }
    }
    if (network.external && (!network.subnet.empty() || !network.labels.empty())) {
        fail(reader.file(), node, key, "an external network takes no ipam: or labels:, because isolab does not create it");
    }
    if (!given_name.empty()) {
        network.name = given_name;
    } else {
        network.name = network.external ? network_key : project_name + "_" + network_key;
    }
    return network;
}

}  // namespace isolab::compose
