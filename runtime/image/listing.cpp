#include "runtime/image/listing.hpp"

#include <algorithm>
#include <ctime>
#include <sstream>

#include <fmt/format.h>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/image/manifest.hpp"
#include "runtime/image/reference.hpp"

namespace isolab::image {

namespace {

using nlohmann::json;

std::time_t parse_rfc3339(const std::string& text) {
    std::tm utc{};
    const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &utc);
    if (end == nullptr) return -1;
    return timegm(&utc);
}

std::string plural(long count, const char* unit) {
    return fmt::format("{} {}{} ago", count, unit, count == 1 ? "" : "s");
}

std::string short_id(const Image& image) {
    return image.id().substr(0, 12);
}

// Images sorted newest first, each with its layers unpacked so sizes are known.
// A damaged image is left out with a warning that names the command to remove it, so
// one bad image never hides the others.
std::vector<Image> listed_images(Store& store) {
    try {
        store.ensure_busybox();
    } catch (const Error& error) {
        // A damaged busybox:latest gets its warning from list(), and a missing
        // busybox-static its error from `run`.
        spdlog::debug("cannot provide busybox:latest: {}", error.what());
    }
    std::vector<Image> images;
    for (auto& image : store.list()) {
        try {
            store.lowerdirs(image);
            images.push_back(std::move(image));
        } catch (const Error& error) {
            spdlog::warn("image {} is damaged and skipped: {}; remove it with `isolab rmi -f {}`", image.reference,
                         error.what(), image.reference);
        }
    }
    std::stable_sort(images.begin(), images.end(), [](const Image& a, const Image& b) { return a.created > b.created; });
    return images;
}

std::string pad(const std::string& text, size_t width) {
    return text.size() >= width ? text + "  " : text + std::string(width - text.size() + 2, ' ');
}

}  // namespace

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
    std::vector<size_t> widths;
    for (const auto& row : rows) {
        widths.resize(std::max(widths.size(), row.size()));
        for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }
    std::string table;
    for (const auto& row : rows) {
        std::string line;
        for (size_t i = 0; i < row.size(); ++i) line += i + 1 == row.size() ? row[i] : pad(row[i], widths[i]);
        table += line + "\n";
    }
    return table;
}

std::string age_of(const std::string& rfc3339) {
    std::time_t created = parse_rfc3339(rfc3339);
    if (created < 0) return "unknown";
    long seconds = static_cast<long>(std::difftime(std::time(nullptr), created));
    if (seconds < 60) return "Less than a minute ago";
    if (seconds < 3600) return plural(seconds / 60, "minute");
    if (seconds < 86400) return plural(seconds / 3600, "hour");
    if (seconds < 86400 * 14) return plural(seconds / 86400, "day");
    if (seconds < 86400 * 60) return plural(seconds / (86400 * 7), "week");
    if (seconds < 86400 * 730) return plural(seconds / (86400 * 30), "month");
    return plural(seconds / (86400 * 365), "year");
}

std::string images_table(Store& store, bool quiet) {
    auto images = listed_images(store);
    if (quiet) {
        std::string ids;
        for (const auto& image : images) ids += short_id(image) + "\n";
        return ids;
    }
    std::vector<std::vector<std::string>> rows{{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}};
    for (const auto& image : images) {
        Reference reference = parse_reference(image.reference);
        rows.push_back({reference.name, reference.tag, short_id(image), age_of(image.created),
                        human_size(store.unpacked_size(image))});
    }
    return format_table(rows);
}

json images_json(Store& store) {
    json list = json::array();
    for (const auto& image : listed_images(store)) {
        Reference reference = parse_reference(image.reference);
        list.push_back({{"Repository", reference.name},
                        {"Tag", reference.tag},
                        {"Id", image.config_digest},
                        {"Created", image.created},
                        {"Size", store.unpacked_size(image)},
                        {"StoredSize", store.stored_size(image)}});
    }
    return list;
}

json inspect_json(Store& store, const std::string& reference) {
    Image image = store.resolve(reference);
    store.lowerdirs(image);

    json tags = json::array();
    for (const auto& other : store.list()) {
        if (other.config_digest == image.config_digest) tags.push_back(other.reference);
    }
    json diff_ids = json::array();
    json layers = json::array();
    for (const auto& layer : image.layers) {
        diff_ids.push_back(layer.diff_id);
        layers.push_back({{"Digest", layer.digest},
                          {"DiffID", layer.diff_id},
                          {"MediaType", layer.media_type},
                          {"Size", layer.size},
                          {"Path", store.layer_folder(layer).string()}});
    }
    json history = json::array();
    for (const auto& step : image.history) {
        history.push_back({{"Created", step.created}, {"CreatedBy", step.created_by}, {"Comment", step.comment},
                           {"EmptyLayer", step.empty_layer}});
    }
    json document{{"Id", image.config_digest},
                  {"RepoTags", tags},
                  {"ManifestDigest", image.manifest_digest},
                  {"Created", image.created},
                  {"Architecture", image.architecture},
                  {"Os", image.os},
                  {"Config", {{"Env", image.config.env},
                              {"Entrypoint", image.config.entrypoint},
                              {"Cmd", image.config.cmd},
                              {"WorkingDir", image.config.working_dir},
                              {"User", image.config.user},
                              {"StopSignal", image.config.stop_signal},
                              {"Labels", image.config.labels}}},
                  {"RootFS", {{"Type", "layers"}, {"Layers", diff_ids}}},
                  {"Size", store.unpacked_size(image)},
                  {"StoredSize", store.stored_size(image)},
                  {"LayerBlobs", layers},
                  {"History", history}};
    // Docker prints these only when the image sets them.
    auto run_config = run_config_to_json(image.config);
    for (const char* key : {"ExposedPorts", "Volumes", "Healthcheck", "Shell", "OnBuild"}) {
        if (run_config.contains(key)) document["Config"][key] = run_config[key];
    }
    return json::array({document});
}

std::string history_table(Store& store, const std::string& reference) {
    Image image = store.resolve(reference);
    store.lowerdirs(image);

    // Steps that added a layer take the layers in order, base first.
    std::vector<std::vector<std::string>> rows;
    size_t layer = 0;
    for (const auto& step : image.history) {
        std::string size = "0 B";
        if (!step.empty_layer && layer < image.layers.size()) {
            size = human_size(disk_usage(store.layer_folder(image.layers[layer])));
            ++layer;
        }
        rows.push_back({"<missing>", age_of(step.created), step.created_by, size, step.comment});
    }
    if (!rows.empty()) rows.back()[0] = short_id(image);
    std::reverse(rows.begin(), rows.end());
    rows.insert(rows.begin(), {"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"});
    return format_table(rows);
}

}  // namespace isolab::image
