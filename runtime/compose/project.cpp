#include "runtime/compose/project.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "runtime/compose/network_keys.hpp"
#include "runtime/compose/reader.hpp"
#include "runtime/container/env_file.hpp"
#include "runtime/container/health.hpp"
#include "runtime/core/duration.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/network/networks.hpp"
#include "runtime/volume/volume.hpp"

namespace isolab::compose {

namespace fs = std::filesystem;

namespace {

// A parsed file with its name, so every node can be named as FILE:LINE.
struct SourceFile {
    std::string name;
    YAML::Node root;
};

// Keys whose lists replace the earlier file's list when files are merged. Other lists
// are appended, and maps are merged key by key.
const std::set<std::string> replaced_lists = {"command", "entrypoint", "profiles"};

void merge_node(YAML::Node base, const YAML::Node& override) {
    for (const auto& item : override) {
        auto name = item.first.as<std::string>();
        YAML::Node existing = base[name];
        if (existing && existing.IsMap() && item.second.IsMap()) {
            merge_node(existing, item.second);
        } else if (existing && existing.IsSequence() && item.second.IsSequence() && !replaced_lists.count(name)) {
            for (const auto& element : item.second) existing.push_back(element);
        } else {
            base[name] = item.second;
        }
    }
}

// The file that last defined each service, so errors in it name that file.
using ServiceFiles = std::map<std::string, std::string>;

bool valid_hostname(const std::string& name) {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
    }
    return name.front() != '-' && name.back() != '-' && name.front() != '.';
}

// Adds a volume entry to `service`: in -v form, or as a ColonBind when it is a bind whose
// host path contains ':' (a project folder such as /srv/a:b).
void add_volume(Service& service, const std::string& source, const std::string& target, bool read_only, bool bind) {
    if (bind && source.find(':') != std::string::npos) {
        service.colon_binds.push_back({source, target, read_only});
        return;
    }
    std::string spec = source.empty() ? target : source + ":" + target;
    if (read_only) spec += ":ro";
    service.volumes.push_back(spec);
}

void volume_from_long_syntax(Service& service, const Reader& reader, const YAML::Node& node, const fs::path& project_dir,
                             const std::string& project_name, const std::string& key) {
    std::string type = node["type"] ? reader.scalar(node["type"], key + ".type") : "volume";
    std::string source = node["source"] ? reader.scalar(node["source"], key + ".source") : "";
    if (!node["target"]) fail(reader.file(), node, key, "a long-syntax volume needs a target");
    std::string target = reader.scalar(node["target"], key + ".target");
    bool read_only = node["read_only"] && reader.boolean(node["read_only"], key + ".read_only");
    for (const auto& item : node) {
        auto field = item.first.as<std::string>();
        static const std::set<std::string> known = {"type", "source", "target", "read_only", "bind", "volume"};
        if (!known.count(field)) fail(reader.file(), item.first, key + "." + field, "is not supported");
    }
    if (type == "bind") {
        if (source.empty()) fail(reader.file(), node, key + ".source", "a bind mount needs a source");
        source = fs::weakly_canonical(project_dir / source).string();
    } else if (type != "volume") {
        fail(reader.file(), node, key + ".type", "\"" + type + "\" is not supported (use volume or bind; tmpfs: key tmpfs)");
    } else if (!source.empty()) {
        source = project_name + "_" + source;
    }
    add_volume(service, source, target, read_only, type == "bind");
}

// Adds a short-syntax entry (see add_volume): relative binds become absolute, and named
// volumes must be declared under the top-level volumes: key.
void volume_from_short_syntax(Service& service, const Reader& reader, const YAML::Node& node,
                              const fs::path& project_dir, const std::set<std::string>& declared,
                              const std::string& project_name, const std::string& key) {
    auto text = reader.scalar(node, key);
    auto colon = text.find(':');
    if (colon == std::string::npos) {  // an anonymous volume
        service.volumes.push_back(text);
        return;
    }
    std::string source = text.substr(0, colon);
    std::string rest = text.substr(colon);
    if (source.starts_with(".") || source.starts_with("~")) {
        if (source.starts_with("~")) fail(reader.file(), node, key, "\"~\" is not expanded; write the full path");
        source = fs::weakly_canonical(project_dir / source).string();
        // rest is ":TARGET" or ":TARGET:MODE", as the short syntax cannot give a target with ':'.
        auto mode_at = rest.find(':', 1);
        std::string target = rest.substr(1, mode_at == std::string::npos ? std::string::npos : mode_at - 1);
        std::string mode = mode_at == std::string::npos ? "" : rest.substr(mode_at + 1);
        if (source.find(':') != std::string::npos && (mode.empty() || mode == "ro" || mode == "rw")) {
            service.colon_binds.push_back({source, target, mode == "ro"});
            return;
        }
    } else if (!source.starts_with("/") && !declared.count(source)) {
        fail(reader.file(), node, key,
             "named volume \"" + source + "\" is not declared under the top-level volumes: key");
    } else if (!source.starts_with("/")) {
        source = project_name + "_" + source;  // named volumes belong to the project
    }
    service.volumes.push_back(source + rest);
}

// The healthcheck: key of a service, in Docker's Healthcheck form. `test` is a string (run
// by the shell, as CMD-SHELL) or a list starting with NONE, CMD or CMD-SHELL; `disable:
// true` is ["NONE"].
image::Healthcheck read_healthcheck(const Reader& reader, const YAML::Node& node, const std::string& key) {
    if (!node.IsMap()) fail(reader.file(), node, key, "expected a map of settings");
    image::Healthcheck healthcheck;
    bool disabled = false;
    auto duration = [&](const YAML::Node& value, const std::string& field_key) {
        try {
            return container::parse_health_duration(reader.scalar(value, field_key), "duration");
        } catch (const Error& error) {
            fail(reader.file(), value, field_key, error.what());
        }
    };
    for (const auto& item : node) {
        auto field = item.first.as<std::string>();
        auto field_key = key + "." + field;
        const auto& value = item.second;
        if (field == "test") {
            if (value.IsSequence()) {
                healthcheck.test = reader.list(value, field_key);
                if (healthcheck.test.empty()) fail(reader.file(), value, field_key, "the list is empty");
                const auto& type = healthcheck.test.front();
                if (type != "NONE" && type != "CMD" && type != "CMD-SHELL") {
                    fail(reader.file(), value, field_key,
                         "the list must start with \"CMD\", \"CMD-SHELL\" or \"NONE\", not \"" + type + "\"");
                }
                if (type != "NONE" && healthcheck.test.size() < 2) {
                    fail(reader.file(), value, field_key, "\"" + type + "\" needs a command after it");
                }
            } else {
                auto command = reader.scalar(value, field_key);
                if (command.empty()) fail(reader.file(), value, field_key, "the command is empty");
                healthcheck.test = {"CMD-SHELL", command};
            }
        } else if (field == "interval") {
            healthcheck.interval = duration(value, field_key);
        } else if (field == "timeout") {
            healthcheck.timeout = duration(value, field_key);
        } else if (field == "start_period") {
            healthcheck.start_period = duration(value, field_key);
        } else if (field == "start_interval") {
            healthcheck.start_interval = duration(value, field_key);
        } else if (field == "retries") {
            auto text = reader.scalar(value, field_key);
            bool digits = !text.empty() && text.size() < 9 && text.find_first_not_of("0123456789") == std::string::npos;
            if (!digits) fail(reader.file(), value, field_key, "\"" + text + "\" is not a whole number, 0 or more");
            healthcheck.retries = std::stoi(text);
        } else if (field == "disable") {
            disabled = reader.boolean(value, field_key);
        } else {
            fail(reader.file(), item.first, field_key, "is not a healthcheck setting");
        }
    }
    if (disabled) {
        if (!healthcheck.test.empty() && healthcheck.test.front() != "NONE") {
            fail(reader.file(), node, key + ".disable", "cannot be combined with a test command");
        }
        healthcheck.test = {"NONE"};
    }
    return healthcheck;
}

Service read_service(const std::string& name, const YAML::Node& node, const Reader& reader, const fs::path& project_dir,
                     const std::string& project_name,
                     const std::set<std::string>& declared_volumes, const std::set<std::string>& declared_networks,
                     const container::EnvironmentLookup& lookup, std::vector<std::string>& warnings) {
    if (!node.IsMap()) fail(reader.file(), node, "services." + name, "expected a map of settings");
    Service service;
    service.name = name;
    std::vector<std::string> env_files;
    std::vector<std::pair<std::string, std::optional<std::string>>> environment;
    for (const auto& item : node) {
        auto key = item.first.as<std::string>();
        const auto& value = item.second;
        auto full_key = "services." + name + "." + key;
        if (key == "image") {
            service.image = reader.scalar(value, full_key);
        } else if (key == "build") {
            BuildSpec build;
            if (value.IsScalar()) {
                build.context = fs::weakly_canonical(project_dir / reader.scalar(value, full_key));
            } else if (value.IsMap()) {
                build.context = project_dir;
                for (const auto& field : value) {
                    auto field_name = field.first.as<std::string>();
                    auto field_key = full_key + "." + field_name;
                    if (field_name == "context") {
                        build.context = fs::weakly_canonical(project_dir / reader.scalar(field.second, field_key));
                    } else if (field_name == "dockerfile") {
                        build.dockerfile = reader.scalar(field.second, field_key);
                    } else if (field_name == "target") {
                        build.target = reader.scalar(field.second, field_key);
                    } else if (field_name == "args") {
                        for (auto& [arg, arg_value] : reader.pairs(field.second, field_key)) {
                            auto found = arg_value ? arg_value : lookup(arg);
                            if (found) build.args[arg] = *found;
                        }
                    } else {
                        warnings.push_back(location(reader.file(), field.first) + ": " + field_key +
                                           ": is not supported and ignored");
                    }
                }
            } else {
                fail(reader.file(), value, full_key, "expected a context path or a map");
            }
            service.build = build;
        } else if (key == "command") {
            service.command = reader.words(value, full_key);
        } else if (key == "entrypoint") {
            service.entrypoint = reader.words(value, full_key);
        } else if (key == "environment") {
            environment = reader.pairs(value, full_key);
        } else if (key == "env_file") {
            env_files = value.IsSequence() ? reader.list(value, full_key)
                                           : std::vector<std::string>{reader.scalar(value, full_key)};
        } else if (key == "volumes") {
            if (!value.IsSequence()) fail(reader.file(), value, full_key, "expected a list");
            for (const auto& entry : value) {
                if (entry.IsMap()) {
                    volume_from_long_syntax(service, reader, entry, project_dir, project_name, full_key);
                } else {
                    volume_from_short_syntax(service, reader, entry, project_dir, declared_volumes, project_name,
                                             full_key);
                }
            }
        } else if (key == "depends_on") {
            if (value.IsSequence()) {
                for (const auto& dependency : reader.list(value, full_key)) service.depends_on.push_back({dependency});
            } else if (value.IsMap()) {
                for (const auto& dependency : value) {
                    Dependency parsed{dependency.first.as<std::string>()};
                    if (!dependency.second.IsMap() && !dependency.second.IsNull()) {
                        fail(reader.file(), dependency.second, full_key + "." + parsed.service,
                             "expected a map such as {condition: service_started}");
                    }
                    if (dependency.second["condition"]) {
                        parsed.condition = reader.scalar(dependency.second["condition"], full_key + ".condition");
                    }
                    if (parsed.condition != "service_started" && parsed.condition != "service_healthy" &&
                        parsed.condition != "service_completed_successfully") {
                        fail(reader.file(), dependency.second, full_key + "." + parsed.service + ".condition",
                             "unknown condition \"" + parsed.condition + "\"");
                    }
                    service.depends_on.push_back(parsed);
                }
            } else {
                fail(reader.file(), value, full_key, "expected a list or a map of services");
            }
        } else if (key == "healthcheck") {
            service.healthcheck = read_healthcheck(reader, value, full_key);
        } else if (key == "restart") {
            service.restart = reader.scalar(value, full_key);
            if (service.restart != "no" && service.restart != "always" && service.restart != "unless-stopped" &&
                !service.restart.starts_with("on-failure")) {
                fail(reader.file(), value, full_key,
                     "\"" + service.restart + "\" is not no, always, on-failure[:N] or unless-stopped");
            }
        } else if (key == "working_dir") {
            service.working_dir = reader.scalar(value, full_key);
        } else if (key == "user") {
            service.user = reader.scalar(value, full_key);
        } else if (key == "hostname") {
            service.hostname = reader.scalar(value, full_key);
            if (!valid_hostname(*service.hostname)) {
                fail(reader.file(), value, full_key,
                     "\"" + *service.hostname + "\" is not a valid hostname (letters, digits, '-' and '.', 64 at most)");
            }
        } else if (key == "init") {
            service.init = reader.boolean(value, full_key);
        } else if (key == "read_only") {
            service.read_only = reader.boolean(value, full_key);
        } else if (key == "tmpfs") {
            service.tmpfs = value.IsSequence() ? reader.list(value, full_key)
                                               : std::vector<std::string>{reader.scalar(value, full_key)};
        } else if (key == "mem_limit") {
            try {
                service.mem_limit = container::parse_memory_limit(reader.scalar(value, full_key));
            } catch (const Error& error) {
                fail(reader.file(), value, full_key, error.what());
            }
        } else if (key == "cpus") {
            auto text = reader.scalar(value, full_key);
            try {
                size_t used = 0;
                service.cpus = std::stod(text, &used);
                if (used != text.size() || !std::isfinite(*service.cpus) || *service.cpus <= 0) throw std::invalid_argument(text);
            } catch (const std::exception&) {
                fail(reader.file(), value, full_key, "\"" + text + "\" is not a positive number of CPUs");
            }
        } else if (key == "labels") {
            for (auto& [label, label_value] : reader.pairs(value, full_key)) service.labels[label] = label_value.value_or("");
        } else if (key == "profiles") {
            service.profiles = reader.list(value, full_key);
        } else if (key == "ports") {
            service.ports = read_ports(reader, value, full_key);
        } else if (key == "networks") {
            service.networks = read_service_networks(reader, value, full_key, declared_networks, warnings);
        } else if (key == "network_mode") {
            service.network_mode = read_network_mode(reader, value, full_key);
        } else if (key == "scale") {
            service.replicas = read_replicas(reader, value, full_key);
        } else if (key == "deploy") {
            int replicas = read_deploy(reader, value, full_key, warnings);
            if (replicas >= 0) service.replicas = replicas;
        } else if (key == "expose") {
            // Containers on one network reach every port of each other, so expose: changes nothing.
            reader.words(value, full_key);
        } else {
            warnings.push_back(location(reader.file(), item.first) + ": " + full_key + ": unknown key, ignored");
        }
    }
    if (service.image.empty() && !service.build) fail(reader.file(), node, "services." + name, "needs image or build");
    if (!service.network_mode.empty() && !service.networks.empty()) {
        fail(reader.file(), node["network_mode"], "services." + name + ".network_mode", "cannot be combined with networks:");
    }
    if (service.network_mode == "host" && !service.ports.empty()) {
        fail(reader.file(), node["ports"], "services." + name + ".ports",
             "cannot be combined with network_mode: host, where the service uses the host's ports directly");
    }
    if (service.network_mode.empty() && service.networks.empty()) service.networks.push_back({"default", {}});
    if (service.image.empty()) service.image = name;  // tagged by `build` as the service's name

    // env_file entries first, so values from environment: come later and win.
    for (const auto& env_file : env_files) {
        auto path = project_dir / env_file;
        if (!fs::exists(path)) fail(reader.file(), node["env_file"], "services." + name + ".env_file",
                                    "file " + path.string() + " not found");
        auto entries = container::read_env_file(path.string(), lookup);
        service.environment.insert(service.environment.end(), entries.begin(), entries.end());
    }
    for (auto& [variable, value] : environment) {
        auto found = value ? value : lookup(variable);
        if (found) service.environment.push_back(variable + "=" + *found);
    }
    return service;
}

// Orders services so each comes after its dependencies. Throws Error on a cycle or an
// unknown dependency.
std::vector<Service> sort_by_dependencies(std::vector<Service> services, const ServiceFiles& files) {
    std::map<std::string, const Service*> by_name;
    for (const auto& service : services) by_name[service.name] = &service;
    std::vector<Service> sorted;
    std::map<std::string, int> state;  // 1: being visited, 2: done
    std::function<void(const Service&)> visit = [&](const Service& service) {
        if (state[service.name] == 2) return;
        if (state[service.name] == 1) {
            throw Error(files.at(service.name) + ": services." + service.name + ".depends_on: dependency cycle",
                        "remove one of the dependencies", 1);
        }
        state[service.name] = 1;
        for (const auto& dependency : service.depends_on) {
            auto found = by_name.find(dependency.service);
            if (found == by_name.end()) {
                throw Error(files.at(service.name) + ": services." + service.name + ".depends_on: service \"" +
                                dependency.service + "\" is not defined",
                            "add it under services: or remove the dependency", 1);
            }
            visit(*found->second);
        }
        state[service.name] = 2;
        sorted.push_back(service);
    };
    for (const auto& service : services) visit(service);
    return sorted;
}

fs::path find_default_file(const fs::path& directory) {
    for (const char* name : {"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}) {
        if (fs::exists(directory / name)) return directory / name;
    }
    throw Error("no compose.yaml, compose.yml, docker-compose.yaml or docker-compose.yml in " + directory.string(),
                "run in the project folder or name the file with -f", 1);
}

}  // namespace

std::string normalize_project_name(const std::string& name) {
    std::string result;
    for (char c : name) {
        char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (std::isalnum(static_cast<unsigned char>(lower)) || lower == '_' || lower == '-') result += lower;
    }
    // A project name starts with a letter or digit.
    while (!result.empty() && !std::isalnum(static_cast<unsigned char>(result.front()))) result.erase(0, 1);
    return result;
}

void validate_project_name(const std::string& name) {
    if (name.empty() || normalize_project_name(name) != name) {
        throw Error("invalid project name \"" + printable(name) + "\"",
                    "use lowercase letters, digits, '_' and '-', starting with a letter or digit", 1);
    }
    // `up` and `down` lock the file PROJECT.lock, whose name must fit in 255 bytes.
    constexpr size_t max_length = 250;
    if (name.size() > max_length) {
        throw Error(fmt::format("invalid project name \"{}\": it has {} characters, more than {}", printable(name),
                                name.size(), max_length),
                    "choose a shorter name with -p or the name: key", 1);
    }
}

std::string interpolate(const std::string& text, const container::EnvironmentLookup& lookup, const std::string& where) {
    std::string result;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '$') {
            result += text[i];
            continue;
        }
        if (i + 1 < text.size() && text[i + 1] == '$') {
            result += '$';
            ++i;
            continue;
        }
        if (i + 1 < text.size() && text[i + 1] == '{') {
            auto close = text.find('}', i + 2);
            if (close == std::string::npos) {
                throw Error(where + ": invalid interpolation \"" + text.substr(i) + "\": missing '}'",
                            "write $$ for a literal $", 1);
            }
            std::string inner = text.substr(i + 2, close - i - 2);
            size_t name_end = 0;
            while (name_end < inner.size() && (std::isalnum(static_cast<unsigned char>(inner[name_end])) || inner[name_end] == '_')) {
                ++name_end;
            }
            std::string name = inner.substr(0, name_end);
            std::string modifier = inner.substr(name_end);
            if (name.empty()) {
                throw Error(where + ": invalid interpolation \"${" + inner + "}\"", "write $$ for a literal $", 1);
            }
            auto value = lookup(name);
            bool colon = modifier.starts_with(":");
            std::string op = colon ? modifier.substr(1, 1) : modifier.substr(0, 1);
            size_t argument_start = colon ? 2 : 1;
            std::string argument = modifier.size() > argument_start ? modifier.substr(argument_start) : "";
            bool unset = !value || (colon && value->empty());
            if (modifier.empty()) {
                result += value.value_or("");
            } else if (op == "-") {
                result += unset ? interpolate(argument, lookup, where) : *value;
            } else if (op == "?") {
                if (unset) {
                    throw Error(where + ": required variable " + name + " is missing a value" +
                                    (argument.empty() ? "" : ": " + argument),
                                "set " + name + " in the environment or in .env", 1);
                }
                result += *value;
            } else if (op == "+") {
                result += unset ? "" : interpolate(argument, lookup, where);
            } else {
                throw Error(where + ": invalid interpolation \"${" + inner + "}\"", "write $$ for a literal $", 1);
            }
            i = close;
            continue;
        }
        size_t end = i + 1;
        while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_')) ++end;
        if (end == i + 1) {
            result += '$';  // a lone '$' stays, as Compose keeps it
            continue;
        }
        result += lookup(text.substr(i + 1, end - i - 1)).value_or("");
        i = end - 1;
    }
    return result;
}

namespace {

// Rejects a name that is invalid on its own or in the name isolab derives from it, with
// the file, line and key, so that `up` fails before it creates anything. Containers
// (PROJECT-SERVICE-N), volumes (PROJECT_KEY) and networks (PROJECT_KEY or name:) all take
// letters, digits, '_', '.' and '-', starting with a letter or digit, and the project
// name already starts with one. `what` is "service", "volume" or "network".
void check_name(const std::string& file, const YAML::Node& node, const std::string& key, const std::string& what,
                const std::string& name) {
    // A character test, not std::regex: libstdc++'s matcher recurses per character and
    // overflowed an 8 MiB stack on a name of 50,000 characters (GCC 12).
    auto allowed = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'; };
    if (name.empty() || !std::all_of(name.begin(), name.end(), allowed)) {
        fail(file, node, key, "invalid " + what + " name \"" + name + "\": use letters, digits, '.', '_' and '-'");
    }
}

// A network name as `isolab network create` takes it (network::validate_network_name,
// which the compose parser does not link).
void check_network_name(const std::string& file, const YAML::Node& node, const std::string& key, const std::string& name) {
    check_name(file, node, key, "network", name);
    if (!std::isalnum(static_cast<unsigned char>(name.front())) || name.size() > network::kMaxNetworkNameLength) {
        fail(file, node, key,
             fmt::format("invalid network name \"{}\": start with a letter or digit and use at most {} characters", name,
                         network::kMaxNetworkNameLength));
    }
    if (name == "bridge" || name == "default" || name == "host" || name == "none") {
        fail(file, node, key, "network name \"" + name + "\" is reserved: choose another name");
    }
}

Project load_project_files(const LoadOptions& options) {
    std::vector<fs::path> files = options.files;
    if (files.empty()) files.push_back(find_default_file(options.working_dir));
    for (auto& file : files) {
        if (file.is_relative()) file = options.working_dir / file;
        if (!fs::exists(file)) throw Error("compose file " + file.string() + " not found", "check the -f path", 1);
    }
    Project project;
    project.directory = fs::weakly_canonical(files.front()).parent_path();

    // Variables from the shell win over those in .env.
    std::map<std::string, std::string> dotenv;
    auto dotenv_path = project.directory / ".env";
    if (fs::exists(dotenv_path)) {
        auto no_lookup = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
        for (const auto& entry : container::read_env_file(dotenv_path.string(), no_lookup)) {
            auto equals = entry.find('=');
            if (equals != std::string::npos) dotenv[entry.substr(0, equals)] = entry.substr(equals + 1);
        }
    }
    container::EnvironmentLookup lookup = [&](const std::string& name) -> std::optional<std::string> {
        if (auto value = options.environment(name)) return value;
        auto found = dotenv.find(name);
        if (found != dotenv.end()) return found->second;
        return std::nullopt;
    };

    YAML::Node merged(YAML::NodeType::Map);
    ServiceFiles service_files;
    std::map<std::string, std::string> network_files;  // the file that last defined each network
    std::map<std::string, std::string> volume_files;   // the file that last defined each volume
    std::string last_file;
    for (const auto& file : files) {
        auto display = file.filename().string();
        YAML::Node root;
        try {
            root = YAML::LoadFile(file.string());
        } catch (const YAML::Exception& error) {
            throw Error(display + ":" + std::to_string(error.mark.line + 1) + ": invalid YAML: " + error.msg,
                        "fix the compose file", 1);
        }
        if (root.IsNull()) continue;
        if (!root.IsMap()) fail(display, root, "(top level)", "expected a map with services:");
        for (const auto& item : root) {
            auto key = item.first.as<std::string>();
            if (key == "services") {
                if (!item.second.IsMap()) fail(display, item.second, "services", "expected a map of services");
                for (const auto& service : item.second) service_files[service.first.as<std::string>()] = display;
            } else if (key == "volumes") {
                if (!item.second.IsMap() && !item.second.IsNull()) fail(display, item.second, "volumes", "expected a map");
                for (const auto& volume : item.second) volume_files[volume.first.as<std::string>()] = display;
            } else if (key == "name") {
                // read below
            } else if (key == "networks") {
                if (!item.second.IsMap() && !item.second.IsNull()) fail(display, item.second, "networks", "expected a map");
                for (const auto& network : item.second) network_files[network.first.as<std::string>()] = display;
            } else if (key == "version") {
                project.warnings.push_back(location(display, item.first) + ": version: obsolete, ignored");
            } else {
                project.warnings.push_back(location(display, item.first) + ": " + key + ": unknown key, ignored");
            }
        }
        merge_node(merged, root);
        last_file = display;
    }

    if (!merged["services"] || !merged["services"].IsMap() || merged["services"].size() == 0) {
        throw Error(files.back().filename().string() + ": services: no services defined", "add a services: section", 1);
    }

    // -p, COMPOSE_PROJECT_NAME and name: must be valid as given. Only the folder's name is
    // normalized, as docker compose 2.5.1 and later do (docs.docker.com/compose/project-name/).
    std::string name = options.project_name;
    if (name.empty()) name = options.environment("COMPOSE_PROJECT_NAME").value_or("");
    if (name.empty() && merged["name"]) name = Reader(last_file, lookup).scalar(merged["name"], "name");
    if (name.empty()) {
        auto folder = project.directory.filename().string();
        name = normalize_project_name(folder);
        if (name.empty()) {
            throw Error("the folder name \"" + folder + "\" gives no valid project name", "give a name with -p", 1);
        }
    }
    validate_project_name(name);
    project.name = name;

    std::set<std::string> declared_volumes;
    if (merged["volumes"] && merged["volumes"].IsMap()) {
        for (const auto& volume : merged["volumes"]) {
            auto key = volume.first.as<std::string>();
            check_name(volume_files[key], volume.first, "volumes." + key, "volume", key);
            // The volume isolab creates is PROJECT_KEY, and its folder is named after it.
            auto volume_name = project.name + "_" + key;
            if (volume_name.size() > volume::kMaxVolumeNameLength) {
                fail(volume_files[key], volume.first, "volumes." + key,
                     fmt::format("the volume name \"{}\" has {} characters, more than the {} a folder name may have",
                                 printable(volume_name), volume_name.size(), volume::kMaxVolumeNameLength) +
                         ": choose a shorter key or project name");
            }
            declared_volumes.insert(key);
            project.volumes.push_back(key);
        }
    }

    std::set<std::string> declared_networks;
    if (merged["networks"] && merged["networks"].IsMap()) {
        for (const auto& network : merged["networks"]) {
            auto key = network.first.as<std::string>();
            declared_networks.insert(key);
            auto spec = read_network(Reader(network_files[key], lookup), key, network.second, project.name, project.warnings);
            if (!spec.external) check_network_name(network_files[key], network.first, "networks." + key, spec.name);
            project.networks.push_back(std::move(spec));
        }
    }

    std::vector<Service> services;
    for (const auto& item : merged["services"]) {
        auto service_name = item.first.as<std::string>();
        check_name(service_files[service_name], item.first, "services." + service_name, "service", service_name);
        Reader reader(service_files[service_name], lookup);
        auto service = read_service(service_name, item.second, reader, project.directory, project.name, declared_volumes,
                                    declared_networks, lookup, project.warnings);
        bool active = service.profiles.empty();
        for (const auto& profile : service.profiles) {
            if (std::find(options.active_profiles.begin(), options.active_profiles.end(), profile) !=
                options.active_profiles.end()) {
                active = true;
            }
        }
        if (active) services.push_back(std::move(service));
    }
    project.services = sort_by_dependencies(std::move(services), service_files);

    // The default network exists as soon as one service uses it, as with docker compose.
    bool default_used = false;
    for (const auto& service : project.services) {
        for (const auto& network : service.networks) default_used = default_used || network.key == "default";
    }
    if (default_used && !declared_networks.count("default")) {
        std::string default_network = project.name + "_default";
        // Checked here, not by check_network_name, because no line of the file names it.
        if (default_network.size() > network::kMaxNetworkNameLength) {
            throw Error(fmt::format("the project name \"{}\" is too long for its default network {}: {} characters, "
                                    "more than {}",
                                    printable(project.name), printable(default_network), default_network.size(),
                                    network::kMaxNetworkNameLength),
                        fmt::format("choose a project name of at most {} characters with -p or the name: key",
                                    network::kMaxNetworkNameLength - std::string_view("_default").size()),
                        1);
        }
        project.networks.push_back({"default", std::move(default_network), false, "", {}});
    }
    return project;
}

}  // namespace

Project load_project(const LoadOptions& options) {
    try {
        return load_project_files(options);
    } catch (const YAML::Exception& error) {
        // The checks above report the file, line and key of what they know. A node of a
        // shape no check expected (a list where a name belongs, say) ends up here.
        throw Error("invalid compose file: " + std::string(error.what()), "fix the compose file", 1);
    }
}

namespace {

// The healthcheck: key as `docker compose config` prints it: test as a list, durations
// as Go prints them.
void emit_healthcheck(YAML::Emitter& out, const image::Healthcheck& healthcheck) {
    out << YAML::Key << "healthcheck" << YAML::Value << YAML::BeginMap;
    if (!healthcheck.test.empty() && healthcheck.test.front() == "NONE") {
        out << YAML::Key << "disable" << YAML::Value << true << YAML::EndMap;
        return;
    }
    auto duration = [&](const char* key, std::int64_t nanoseconds) {
        if (nanoseconds != 0) out << YAML::Key << key << YAML::Value << format_duration(nanoseconds);
    };
    duration("interval", healthcheck.interval);
    if (healthcheck.retries != 0) out << YAML::Key << "retries" << YAML::Value << healthcheck.retries;
    duration("start_interval", healthcheck.start_interval);
    duration("start_period", healthcheck.start_period);
    if (!healthcheck.test.empty()) {
        // Quoted, so a word such as true stays a string for every YAML reader.
        out << YAML::Key << "test" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const auto& word : healthcheck.test) out << YAML::DoubleQuoted << word;
        out << YAML::EndSeq;
    }
    duration("timeout", healthcheck.timeout);
    out << YAML::EndMap;
}

}  // namespace

std::string project_to_yaml(const Project& project) {
    YAML::Emitter out;
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << project.name;
    out << YAML::Key << "services" << YAML::Value << YAML::BeginMap;
    for (const auto& service : project.services) {
        out << YAML::Key << service.name << YAML::Value << YAML::BeginMap;
        if (service.build) {
            out << YAML::Key << "build" << YAML::Value << YAML::BeginMap;
            out << YAML::Key << "context" << YAML::Value << service.build->context.string();
            if (!service.build->dockerfile.empty()) out << YAML::Key << "dockerfile" << YAML::Value << service.build->dockerfile;
            if (!service.build->target.empty()) out << YAML::Key << "target" << YAML::Value << service.build->target;
            if (!service.build->args.empty()) out << YAML::Key << "args" << YAML::Value << service.build->args;
            out << YAML::EndMap;
        }
        if (service.command) out << YAML::Key << "command" << YAML::Value << YAML::Flow << *service.command;
        if (service.replicas != 1) {
            out << YAML::Key << "deploy" << YAML::Value << YAML::BeginMap << YAML::Key << "replicas" << YAML::Value
                << service.replicas << YAML::EndMap;
        }
        if (!service.depends_on.empty()) {
            out << YAML::Key << "depends_on" << YAML::Value << YAML::BeginMap;
            for (const auto& dependency : service.depends_on) {
                out << YAML::Key << dependency.service << YAML::Value << YAML::BeginMap << YAML::Key << "condition"
                    << YAML::Value << dependency.condition << YAML::EndMap;
            }
            out << YAML::EndMap;
        }
        if (service.entrypoint) out << YAML::Key << "entrypoint" << YAML::Value << YAML::Flow << *service.entrypoint;
        if (!service.environment.empty()) {
            out << YAML::Key << "environment" << YAML::Value << YAML::BeginMap;
            for (const auto& entry : service.environment) {
                auto equals = entry.find('=');
                out << YAML::Key << entry.substr(0, equals) << YAML::Value << entry.substr(equals + 1);
            }
            out << YAML::EndMap;
        }
        if (service.healthcheck) emit_healthcheck(out, *service.healthcheck);
        if (service.hostname) out << YAML::Key << "hostname" << YAML::Value << *service.hostname;
        out << YAML::Key << "image" << YAML::Value << service.image;
        if (service.init) out << YAML::Key << "init" << YAML::Value << true;
        if (!service.labels.empty()) out << YAML::Key << "labels" << YAML::Value << service.labels;
        if (service.mem_limit) out << YAML::Key << "mem_limit" << YAML::Value << std::to_string(*service.mem_limit);
        if (service.cpus) out << YAML::Key << "cpus" << YAML::Value << *service.cpus;
        if (!service.network_mode.empty()) out << YAML::Key << "network_mode" << YAML::Value << service.network_mode;
        if (!service.networks.empty()) {
            out << YAML::Key << "networks" << YAML::Value << YAML::BeginMap;
            for (const auto& network : service.networks) {
                out << YAML::Key << network.key << YAML::Value;
                if (network.aliases.empty()) {
                    out << YAML::Null;
                } else {
                    out << YAML::BeginMap << YAML::Key << "aliases" << YAML::Value << network.aliases << YAML::EndMap;
                }
            }
            out << YAML::EndMap;
        }
        if (!service.ports.empty()) out << YAML::Key << "ports" << YAML::Value << service.ports;
        if (!service.profiles.empty()) out << YAML::Key << "profiles" << YAML::Value << service.profiles;
        if (service.read_only) out << YAML::Key << "read_only" << YAML::Value << true;
        if (service.restart != "no") out << YAML::Key << "restart" << YAML::Value << service.restart;
        if (!service.tmpfs.empty()) out << YAML::Key << "tmpfs" << YAML::Value << service.tmpfs;
        if (!service.user.empty()) out << YAML::Key << "user" << YAML::Value << service.user;
        if (!service.volumes.empty() || !service.colon_binds.empty()) {
            out << YAML::Key << "volumes" << YAML::Value << YAML::BeginSeq;
            for (const auto& volume : service.volumes) out << volume;
            for (const auto& bind : service.colon_binds) {
                out << YAML::BeginMap << YAML::Key << "type" << YAML::Value << "bind" << YAML::Key << "source"
                    << YAML::Value << bind.source << YAML::Key << "target" << YAML::Value << bind.target;
                if (bind.read_only) out << YAML::Key << "read_only" << YAML::Value << true;
                out << YAML::EndMap;
            }
            out << YAML::EndSeq;
        }
        if (!service.working_dir.empty()) out << YAML::Key << "working_dir" << YAML::Value << service.working_dir;
        out << YAML::EndMap;
    }
    out << YAML::EndMap;
    if (!project.networks.empty()) {
        out << YAML::Key << "networks" << YAML::Value << YAML::BeginMap;
        for (const auto& network : project.networks) {
            out << YAML::Key << network.key << YAML::Value << YAML::BeginMap;
            out << YAML::Key << "name" << YAML::Value << network.name;
            if (network.external) out << YAML::Key << "external" << YAML::Value << true;
            if (!network.subnet.empty()) {
                out << YAML::Key << "ipam" << YAML::Value << YAML::BeginMap << YAML::Key << "config" << YAML::Value
                    << YAML::BeginSeq << YAML::BeginMap << YAML::Key << "subnet" << YAML::Value << network.subnet
                    << YAML::EndMap << YAML::EndSeq << YAML::EndMap;
            }
            if (!network.labels.empty()) out << YAML::Key << "labels" << YAML::Value << network.labels;
            out << YAML::EndMap;
        }
        out << YAML::EndMap;
    }
    if (!project.volumes.empty()) {
        out << YAML::Key << "volumes" << YAML::Value << YAML::BeginMap;
        for (const auto& volume : project.volumes) {
            out << YAML::Key << volume << YAML::Value << YAML::BeginMap << YAML::Key << "name" << YAML::Value
                << project.name + "_" + volume << YAML::EndMap;
        }
        out << YAML::EndMap;
    }
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

}  // namespace isolab::compose
