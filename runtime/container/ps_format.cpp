#include "runtime/container/ps_format.hpp"

#include <chrono>
#include <map>

#include <nlohmann/json.hpp>

#include "runtime/container/manage.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"
#include "runtime/network/attachment.hpp"

namespace isolab::container {

namespace {

// Field names as Docker's templates spell them, with the header `table` prints.
const std::vector<std::pair<std::string, std::string>>& fields() {
    static const std::vector<std::pair<std::string, std::string>> known = {
        {"ID", "CONTAINER ID"}, {"Names", "NAMES"},          {"Image", "IMAGE"}, {"Command", "COMMAND"},
        {"CreatedAt", "CREATED AT"}, {"Status", "STATUS"}, {"State", "STATE"},
        {"Ports", "PORTS"},
    };
    return known;
}

std::string joined_command(const std::vector<std::string>& command) {
    std::string text;
    for (const auto& argument : command) text += (text.empty() ? "" : " ") + argument;
    return "\"" + text + "\"";
}

std::map<std::string, std::string> field_values(const StoredContainer& container) {
    return {
        {"ID", container.config.id.substr(0, 12)},
        {"Names", container.config.name},
        {"Image", container.config.image},
        {"Command", joined_command(container.config.command)},
        {"CreatedAt", container.config.created},
        {"Status", status_text(container, std::chrono::system_clock::now())},
        {"State", observed_state(container).status},
        {"Ports", ports_text(container)},
    };
}

nlohmann::json as_json(const std::map<std::string, std::string>& values) {
    nlohmann::json object = nlohmann::json::object();
    for (const auto& [name, value] : values) object[name] = value;
    return object;
}

std::string unescape(std::string_view text) {
    std::string result;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == 't' || text[i + 1] == 'n')) {
            result += text[i + 1] == 't' ? '\t' : '\n';
            ++i;
        } else {
            result += text[i];
        }
    }
    return result;
}

std::string known_field_list() {
    std::string list;
    for (const auto& [name, header] : fields()) list += (list.empty() ? "." : ", .") + name;
    return list;
}

// Expands one template for one set of values; `values` maps field name to text.
std::string expand(std::string_view format, const std::map<std::string, std::string>& values, const nlohmann::json& object) {
    std::string line;
    std::size_t position = 0;
    while (position < format.size()) {
        auto open = format.find("{{", position);
        if (open == std::string_view::npos) {
            line += unescape(format.substr(position));
            break;
        }
        line += unescape(format.substr(position, open - position));
        auto close = format.find("}}", open);
        if (close == std::string_view::npos) {
            throw Error("invalid --format '" + std::string(format) + "': '{{' is not closed", "e.g. --format '{{.Names}}'");
        }
        std::string action(format.substr(open + 2, close - open - 2));
        action.erase(0, action.find_first_not_of(' '));
        action.erase(action.find_last_not_of(' ') + 1);
        if (action == "json .") {
            line += object.dump();
        } else if (action.size() > 1 && action.front() == '.' && values.count(action.substr(1)) > 0) {
            line += values.at(action.substr(1));
        } else {
            throw Error("invalid --format: unknown field '" + action + "'", "known fields: " + known_field_list() + ", json .");
        }
        position = close + 2;
    }
    return line;
}

}  // namespace

std::string ports_text(const StoredContainer& container) {
    if (observed_state(container).status != "running") return {};
    std::string text;
    try {
        Paths paths{container.paths.directory.parent_path().parent_path(), {}};
        for (const auto& published : network::published_ports(paths, container.config.id)) {
            text += (text.empty() ? "" : ", ") + published;
        }
    } catch (const Error& error) {
        spdlog::warn("ps: published ports of container {} not read: {}", container.config.id, error.one_line());
    }
    return text;
}

std::string format_ps_template(const std::vector<StoredContainer>& containers, std::string_view format) {
    std::string text;
    if (format == "json") {
        for (const auto& container : containers) text += as_json(field_values(container)).dump() + "\n";
        return text;
    }
    constexpr std::string_view table_prefix = "table ";
    bool table = format.substr(0, table_prefix.size()) == table_prefix;
    if (table) format.remove_prefix(table_prefix.size());

    // Expanding the header also checks the template when there is no container.
    std::map<std::string, std::string> headers;
    for (const auto& [name, header] : fields()) headers[name] = header;
    auto header_line = expand(format, headers, nlohmann::json::object());
    if (table) text += header_line + "\n";
    for (const auto& container : containers) {
        auto values = field_values(container);
        text += expand(format, values, as_json(values)) + "\n";
    }
    return text;
}

}  // namespace isolab::container
