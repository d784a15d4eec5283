#include "runtime/build/stage.hpp"

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <set>

#include <nlohmann/json.hpp>

#include "runtime/container/health.hpp"
#include "runtime/container/lifecycle.hpp"
#include "runtime/core/error.hpp"

namespace isolab::build {

namespace {

std::string upper(std::string text) {
    for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return text;
}

// Sets NAME=value in an environment list, replacing an earlier value.
void set_env(std::vector<std::string>& env, const std::string& name, const std::string& value) {
    auto same_name = [&](const std::string& entry) { return entry.rfind(name + "=", 0) == 0; };
    auto found = std::find_if(env.begin(), env.end(), same_name);
    if (found != env.end()) *found = name + "=" + value;
    else env.push_back(name + "=" + value);
}

using Pair = std::pair<std::string, std::string>;

// Parses `NAME=value ...` (ENV, LABEL) after substitution. ENV also takes the old form
// `NAME value with spaces`.
std::vector<Pair> parse_pairs(const Instruction& instruction, const StageState& stage, char escape, bool allow_legacy) {
    const std::string& arguments = instruction.arguments;
    size_t first_space = arguments.find_first_of(" \t");
    std::string first_word = arguments.substr(0, first_space);
    if (first_word.find('=') == std::string::npos) {
        if (!allow_legacy || first_space == std::string::npos) {
            throw Error(instruction.keyword + " needs NAME=value", "e.g. " + instruction.keyword + " NAME=value");
        }
        auto rest = arguments.substr(arguments.find_first_not_of(" \t", first_space));
        return {{first_word, expand_word(rest, stage.variables(), escape)}};
    }
    std::vector<Pair> pairs;
    for (const auto& word : expand_words(arguments, stage.variables(), escape)) {
        size_t equals = word.find('=');
        if (equals == std::string::npos || equals == 0) {
            throw Error(instruction.keyword + " needs NAME=value, not '" + word + "'",
                        "quote values with spaces: NAME=\"a b\"");
        }
        pairs.emplace_back(word.substr(0, equals), word.substr(equals + 1));
    }
    return pairs;
}

std::string describe_pairs(const std::string& keyword, const std::vector<Pair>& pairs) {
    std::string text = keyword;
    for (const auto& [name, value] : pairs) text += " " + name + "=" + value;
    return text;
}

std::vector<std::string> command_form(const Instruction& instruction, const StageState& stage) {
    if (instruction.exec_form) return *instruction.exec_form;
    std::vector<std::string> argv = stage.shell;
    argv.push_back(instruction.arguments);
    return argv;
}

std::vector<std::string> expose_ports(const std::string& word) {
    std::string port = word;
    std::string protocol = "tcp";
    size_t slash = word.find('/');
    if (slash != std::string::npos) {
        port = word.substr(0, slash);
        protocol = word.substr(slash + 1);
        std::transform(protocol.begin(), protocol.end(), protocol.begin(), [](unsigned char c) { return std::tolower(c); });
    }
    auto number = [&](const std::string& text) {
        bool digits = !text.empty() && text.size() <= 5 && text.find_first_not_of("0123456789") == std::string::npos;
        int value = digits ? std::stoi(text) : -1;
        if (value < 1 || value > 65535) throw Error("invalid port '" + word + "'", "give a port from 1 to 65535, e.g. 80/tcp");
        return value;
    };
    if (protocol != "tcp" && protocol != "udp" && protocol != "sctp") {
        throw Error("invalid protocol in port '" + word + "'", "use tcp, udp or sctp");
    }
    size_t dash = port.find('-');
    int first = number(port.substr(0, dash));
    int last = dash == std::string::npos ? first : number(port.substr(dash + 1));
    if (last < first) throw Error("invalid port range '" + word + "'", "write the lower port first");
    std::vector<std::string> ports;
    for (int value = first; value <= last; ++value) ports.push_back(std::to_string(value) + "/" + protocol);
    return ports;
}

void add_sorted(std::vector<std::string>& list, const std::vector<std::string>& values) {
    std::set<std::string> all(list.begin(), list.end());
    all.insert(values.begin(), values.end());
    list.assign(all.begin(), all.end());
}

std::int64_t healthcheck_duration(const Instruction& instruction, const char* name) {
    auto value = instruction.flag(name);
    return value ? container::parse_health_duration(*value, "--" + std::string(name)) : 0;
}

std::string apply_healthcheck(StageState& stage, const Instruction& instruction) {
    const auto& arguments = instruction.arguments;
    size_t space = arguments.find_first_of(" \t");
    std::string word = arguments.substr(0, space);
    std::string type = upper(word);
    std::string rest = space == std::string::npos ? "" : arguments.substr(space);
    rest.erase(0, rest.find_first_not_of(" \t"));
    if (type == "NONE") {
        if (!rest.empty()) throw Error("HEALTHCHECK NONE takes no arguments", "write HEALTHCHECK NONE alone");
        stage.config.healthcheck = image::Healthcheck{{"NONE"}};
        return "HEALTHCHECK NONE";
    }
    if (type != "CMD") {
        throw Error("HEALTHCHECK needs NONE or CMD COMMAND, not '" + word + "'",
                    "e.g. HEALTHCHECK --interval=30s CMD wget -q -O- localhost");
    }
    if (rest.empty()) throw Error("missing command after HEALTHCHECK CMD", "e.g. HEALTHCHECK CMD wget -q -O- localhost");

    image::Healthcheck healthcheck;
    // As in Docker, a JSON array of strings is the exec form and anything else a shell command.
    auto exec_form = rest.front() == '[' ? nlohmann::json::parse(rest, nullptr, false) : nlohmann::json();
    bool all_strings = exec_form.is_array() && std::all_of(exec_form.begin(), exec_form.end(),
                                                            [](const nlohmann::json& element) { return element.is_string(); });
    if (all_strings && exec_form.empty()) throw Error("missing command after HEALTHCHECK CMD", "e.g. HEALTHCHECK CMD [\"/bin/check\"]");
    if (all_strings) {
        healthcheck.test = {"CMD"};
        for (const auto& element : exec_form) healthcheck.test.push_back(element.get<std::string>());
    } else {
        healthcheck.test = {"CMD-SHELL", rest};
    }
    healthcheck.interval = healthcheck_duration(instruction, "interval");
    healthcheck.timeout = healthcheck_duration(instruction, "timeout");
    healthcheck.start_period = healthcheck_duration(instruction, "start-period");
    healthcheck.start_interval = healthcheck_duration(instruction, "start-interval");
    if (auto value = instruction.flag("retries")) {
        // 0 means the default (3), as in Docker.
        bool digits = !value->empty() && value->size() < 9 && value->find_first_not_of("0123456789") == std::string::npos;
        if (!digits) throw Error("invalid --retries '" + *value + "'", "give a whole number, 0 or more");
        healthcheck.retries = std::stoi(*value);
    }
    stage.config.healthcheck = healthcheck;
    return "HEALTHCHECK " + nlohmann::json(healthcheck.test).dump();
}

std::string apply_onbuild(StageState& stage, const Instruction& instruction, const std::string& file) {
    std::string keyword = upper(instruction.arguments.substr(0, instruction.arguments.find_first_of(" \t")));
    if (keyword == "ONBUILD" || keyword == "FROM" || keyword == "MAINTAINER") {
        throw Error(keyword + " is not allowed in ONBUILD", "ONBUILD takes any other instruction");
    }
    // Parsing the trigger alone checks that it is a valid instruction.
    parse_dockerfile("FROM scratch\n" + instruction.arguments + "\n", file);
    stage.config.on_build.push_back(instruction.arguments);
    return "ONBUILD " + instruction.arguments;
}

std::string apply(StageState& stage, const Instruction& instruction, char escape, const std::string& file) {
    const std::string& keyword = instruction.keyword;
    if (keyword == "ENV") {
        auto pairs = parse_pairs(instruction, stage, escape, true);
        for (const auto& [name, value] : pairs) set_env(stage.config.env, name, value);
        return describe_pairs("ENV", pairs);
    }
    if (keyword == "LABEL") {
        auto pairs = parse_pairs(instruction, stage, escape, false);
        for (const auto& [name, value] : pairs) stage.config.labels[name] = value;
        return describe_pairs("LABEL", pairs);
    }
    if (keyword == "EXPOSE") {
        std::vector<std::string> ports;
        for (const auto& word : expand_words(instruction.arguments, stage.variables(), escape)) {
            auto expanded = expose_ports(word);
            ports.insert(ports.end(), expanded.begin(), expanded.end());
        }
        add_sorted(stage.config.exposed_ports, ports);
        std::string text = "EXPOSE";
        for (const auto& port : ports) text += " " + port;
        return text;
    }
    if (keyword == "VOLUME") {
        auto volumes = instruction.exec_form ? *instruction.exec_form
                                             : expand_words(instruction.arguments, stage.variables(), escape);
        for (const auto& volume : volumes) {
            if (volume.empty()) throw Error("VOLUME needs non-empty paths", "e.g. VOLUME /data");
        }
        add_sorted(stage.config.volumes, volumes);
        return "VOLUME " + nlohmann::json(volumes).dump();
    }
    if (keyword == "USER") {
        stage.config.user = expand_word(instruction.arguments, stage.variables(), escape);
        if (stage.config.user.empty()) throw Error("USER needs a user name or id", "e.g. USER 1000:1000");
        return "USER " + stage.config.user;
    }
    if (keyword == "CMD") {
        stage.config.cmd = command_form(instruction, stage);
        stage.cmd_set = true;
        return "CMD " + nlohmann::json(stage.config.cmd).dump();
    }
    if (keyword == "ENTRYPOINT") {
        stage.config.entrypoint = command_form(instruction, stage);
        // As in Docker, a new ENTRYPOINT drops a CMD inherited from the base image.
        if (!stage.cmd_set) stage.config.cmd.clear();
        return "ENTRYPOINT " + nlohmann::json(stage.config.entrypoint).dump();
    }
    if (keyword == "SHELL") {
        stage.shell = *instruction.exec_form;
        stage.config.shell = stage.shell;
        return "SHELL " + nlohmann::json(stage.shell).dump();
    }
    if (keyword == "STOPSIGNAL") {
        auto signal = expand_word(instruction.arguments, stage.variables(), escape);
        // Checked as `isolab stop` reads it, so an image never has a stop signal that stop rejects.
        try {
            container::parse_signal(signal);
        } catch (const Error&) {
            throw Error("invalid STOPSIGNAL '" + signal + "'",
                        "give a signal name such as SIGTERM or a number from 1 to " + std::to_string(NSIG - 1));
        }
        stage.config.stop_signal = signal;
        return "STOPSIGNAL " + signal;
    }
    if (keyword == "HEALTHCHECK") return apply_healthcheck(stage, instruction);
    if (keyword == "ONBUILD") return apply_onbuild(stage, instruction, file);
    if (keyword == "MAINTAINER") return "MAINTAINER " + instruction.arguments;
    throw Error("internal: " + keyword + " is not a config instruction");
}

}  // namespace

Variables StageState::variables() const {
    Variables variables = args;
    for (const auto& entry : config.env) {
        size_t equals = entry.find('=');
        variables[entry.substr(0, equals)] = equals == std::string::npos ? std::string() : entry.substr(equals + 1);
    }
    return variables;
}

std::vector<std::string> StageState::run_environment() const {
    std::vector<std::string> env = config.env;
    for (const auto& [arg_name, value] : args) {
        bool in_env = std::any_of(env.begin(), env.end(),
                                  [&](const std::string& entry) { return entry.rfind(arg_name + "=", 0) == 0; });
        if (!in_env) env.push_back(arg_name + "=" + value);
    }
    return env;
}

std::string apply_config_instruction(StageState& stage, const Instruction& instruction, char escape, const std::string& file) {
    try {
        return apply(stage, instruction, escape, file);
    } catch (const Error& error) {
        std::string message = error.what();
        if (message.rfind(file + ":", 0) == 0) throw;
        throw Error(at_line(file, instruction.line, message), error.hint());
    }
}

}  // namespace isolab::build
