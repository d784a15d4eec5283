#include "runtime/image/manifest.hpp"

#include "runtime/core/error.hpp"

namespace isolab::image {

namespace {

using nlohmann::json;

constexpr const char* corrupt_hint = "remove the image with `isolab rmi -f` and create or load it again";

json parse_document(const std::string& text, const std::string& what) {
    try {
        return json::parse(text);
    } catch (const json::exception& error) {
        throw Error(what + " is not valid JSON: " + error.what(), corrupt_hint);
    }
}

std::vector<std::string> string_list(const json& object, const char* key) {
    std::vector<std::string> values;
    if (object.contains(key) && object[key].is_array()) {
        for (const auto& value : object[key]) values.push_back(value.get<std::string>());
    }
    return values;
}

std::string string_field(const json& object, const char* key) {
    return object.contains(key) && object[key].is_string() ? object[key].get<std::string>() : std::string();
}

// Docker stores ExposedPorts and Volumes as objects whose keys are the values: {"80/tcp": {}}.
json empty_object_set(const std::vector<std::string>& keys) {
    json object = json::object();
    for (const auto& key : keys) object[key] = json::object();
    return object;
}

std::vector<std::string> object_keys(const json& object, const char* key) {
    std::vector<std::string> keys;
    if (!object.contains(key) || !object[key].is_object()) return keys;
    for (const auto& item : object[key].items()) keys.push_back(item.key());
    return keys;
}

std::vector<HistoryEntry> history_from_json(const json& config) {
    std::vector<HistoryEntry> history;
    if (!config.contains("history") || !config["history"].is_array()) return history;
    for (const auto& step : config["history"]) {
        HistoryEntry entry;
        entry.created = string_field(step, "created");
        entry.created_by = string_field(step, "created_by");
        entry.comment = string_field(step, "comment");
        entry.empty_layer = step.value("empty_layer", false);
        history.push_back(entry);
    }
    return history;
}

std::vector<Layer> layers_from_json(const json& manifest, const json& config, const std::string& manifest_digest) {
    std::vector<std::string> diff_ids;
    if (config.contains("rootfs")) diff_ids = string_list(config["rootfs"], "diff_ids");
    const json& layer_list = manifest.at("layers");
    if (layer_list.size() != diff_ids.size()) {
        throw Error("image " + manifest_digest + " lists " + std::to_string(layer_list.size()) + " layers but " +
                        std::to_string(diff_ids.size()) + " diff_ids",
                    corrupt_hint);
    }

    std::vector<Layer> layers;
    for (size_t i = 0; i < layer_list.size(); ++i) {
        Descriptor descriptor = Descriptor::from_json(layer_list[i]);
        check_digest(diff_ids[i]);
        layers.push_back(Layer{descriptor.digest, diff_ids[i], descriptor.media_type, descriptor.size});
    }
    return layers;
}

}  // namespace

void to_json(json& object, const Healthcheck& healthcheck) {
    object = json{{"Test", healthcheck.test}};
    if (healthcheck.interval) object["Interval"] = healthcheck.interval;
    if (healthcheck.timeout) object["Timeout"] = healthcheck.timeout;
    if (healthcheck.start_period) object["StartPeriod"] = healthcheck.start_period;
    if (healthcheck.start_interval) object["StartInterval"] = healthcheck.start_interval;
    if (healthcheck.retries) object["Retries"] = healthcheck.retries;
}

void from_json(const json& object, Healthcheck& healthcheck) {
    healthcheck = Healthcheck{};
    healthcheck.test = string_list(object, "Test");
    healthcheck.interval = object.value("Interval", std::int64_t{0});
    healthcheck.timeout = object.value("Timeout", std::int64_t{0});
    healthcheck.start_period = object.value("StartPeriod", std::int64_t{0});
    healthcheck.start_interval = object.value("StartInterval", std::int64_t{0});
    healthcheck.retries = object.value("Retries", 0);
}


Image read_image(const OciLayout& layout, const Descriptor& manifest_descriptor, const std::string& reference) {
    std::string manifest_text = layout.read_blob_verified(manifest_descriptor.digest);
    json manifest = parse_document(manifest_text, "manifest " + manifest_descriptor.digest);
    if (!manifest.contains("config") || !manifest.contains("layers")) {
        throw Error("manifest " + manifest_descriptor.digest + " has no config or layers", corrupt_hint);
    }
    Descriptor config_descriptor = Descriptor::from_json(manifest["config"]);
    std::string config_text = layout.read_blob_verified(config_descriptor.digest);
    json config = parse_document(config_text, "image config " + config_descriptor.digest);

    Image image;
    image.reference = reference;
    image.manifest_digest = manifest_descriptor.digest;
    image.manifest_size = manifest_text.size();
    image.config_digest = config_descriptor.digest;
    image.config_size = config_text.size();
    image.created = string_field(config, "created");
    image.architecture = string_field(config, "architecture");
    image.os = string_field(config, "os");
    if (config.contains("config") && config["config"].is_object()) image.config = run_config_from_json(config["config"]);
    image.history = history_from_json(config);
    image.layers = layers_from_json(manifest, config, manifest_descriptor.digest);
    return image;
}

json run_config_to_json(const RunConfig& config) {
    json object = json::object();
    if (!config.env.empty()) object["Env"] = config.env;
    if (!config.entrypoint.empty()) object["Entrypoint"] = config.entrypoint;
    if (!config.cmd.empty()) object["Cmd"] = config.cmd;
    if (!config.working_dir.empty()) object["WorkingDir"] = config.working_dir;
    if (!config.user.empty()) object["User"] = config.user;
    if (!config.stop_signal.empty()) object["StopSignal"] = config.stop_signal;
    if (!config.labels.empty()) object["Labels"] = config.labels;
    if (!config.exposed_ports.empty()) object["ExposedPorts"] = empty_object_set(config.exposed_ports);
    if (!config.volumes.empty()) object["Volumes"] = empty_object_set(config.volumes);
    if (config.healthcheck) object["Healthcheck"] = *config.healthcheck;
    if (!config.shell.empty()) object["Shell"] = config.shell;
    if (!config.on_build.empty()) object["OnBuild"] = config.on_build;
    return object;
}

RunConfig run_config_from_json(const json& object) {
    RunConfig config;
    config.env = string_list(object, "Env");
    config.entrypoint = string_list(object, "Entrypoint");
    config.cmd = string_list(object, "Cmd");
    config.working_dir = string_field(object, "WorkingDir");
    config.user = string_field(object, "User");
    config.stop_signal = string_field(object, "StopSignal");
    if (object.contains("Labels") && object["Labels"].is_object()) {
        for (const auto& [key, value] : object["Labels"].items()) {
            if (value.is_string()) config.labels[key] = value.get<std::string>();
        }
    }
    config.exposed_ports = object_keys(object, "ExposedPorts");
    config.volumes = object_keys(object, "Volumes");
    if (object.contains("Healthcheck") && object["Healthcheck"].is_object()) {
        config.healthcheck = object["Healthcheck"].get<Healthcheck>();
    }
    config.shell = string_list(object, "Shell");
    config.on_build = string_list(object, "OnBuild");
    return config;
}

json make_image_config(const RunConfig& run_config, const std::string& created, const std::vector<HistoryEntry>& history,
                       const std::vector<Layer>& layers) {
    json diff_ids = json::array();
    for (const auto& layer : layers) diff_ids.push_back(layer.diff_id);
    json steps = json::array();
    for (const auto& entry : history) {
        json step{{"created", entry.created}, {"created_by", entry.created_by}};
        if (!entry.comment.empty()) step["comment"] = entry.comment;
        if (entry.empty_layer) step["empty_layer"] = true;
        steps.push_back(step);
    }
    return json{{"architecture", "amd64"},
                {"os", "linux"},
                {"created", created},
                {"config", run_config_to_json(run_config)},
                {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}},
                {"history", steps}};
}

Descriptor write_image_blobs(OciLayout& layout, const std::string& config, const std::vector<Layer>& layers) {
    Descriptor config_descriptor = layout.write_blob(config, media_type::config);
    json layer_list = json::array();
    for (const auto& layer : layers) {
        if (!layout.has_blob(layer.digest)) throw Error("layer blob " + layer.digest + " is missing from the store");
        layer_list.push_back(Descriptor{layer.media_type, layer.digest, layer.size, {}}.to_json());
    }
    json manifest{{"schemaVersion", 2},
                  {"mediaType", media_type::manifest},
                  {"config", config_descriptor.to_json()},
                  {"layers", layer_list}};
    return layout.write_blob(manifest.dump(), media_type::manifest);
}

std::string format_rfc3339(std::time_t when) {
    std::tm utc{};
    gmtime_r(&when, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

bool is_supported_layer_type(const std::string& media_type) {
    return media_type == media_type::layer_tar || media_type == media_type::layer_gzip ||
           media_type == media_type::layer_zstd || media_type == media_type::docker_layer_gzip ||
           media_type == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
}

}  // namespace isolab::image
