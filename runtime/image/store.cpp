#include "runtime/image/store.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <set>

#include <spdlog/spdlog.h>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/image/bootstrap.hpp"
#include "runtime/image/busybox.hpp"
#include "runtime/image/layer_pack.hpp"
#include "runtime/image/layer_unpack.hpp"
#include "runtime/image/layout.hpp"
#include "runtime/image/manifest.hpp"
#include "runtime/image/reference.hpp"

namespace isolab::image {

namespace fs = std::filesystem;

namespace {

constexpr const char* not_found_hint =
    "list images with `isolab images`; create one with `isolab import ROOTFS.tar NAME[:TAG]` or `isolab load -i FILE`";

std::string bare_id(const std::string& id) {
    return id.rfind("sha256:", 0) == 0 ? id.substr(7) : id;
}

// Points `reference` at `manifest` in index.json. The caller holds the layout lock.
void set_tag(OciLayout& layout, const std::string& reference, Descriptor manifest) {
    auto entries = layout.read_index();
    std::erase_if(entries, [&](const Descriptor& entry) { return entry.ref_name == reference; });
    manifest.ref_name = reference;
    manifest.media_type = media_type::manifest;
    entries.push_back(manifest);
    layout.write_index(entries);
    spdlog::debug("tagged {} as {}", manifest.digest, reference);
}

Descriptor manifest_descriptor(const Image& image) {
    return Descriptor{media_type::manifest, image.manifest_digest, image.manifest_size, image.reference};
}

std::optional<Image> find_by_reference(const OciLayout& layout, const std::string& reference) {
    for (const auto& entry : layout.read_index()) {
        if (entry.ref_name == reference) return read_image(layout, entry, entry.ref_name);
    }
    return std::nullopt;
}

// The image of an index entry, or nullopt with a warning when its blobs are damaged, so
// one bad image does not hide the others from listing and lookup.
std::optional<Image> read_image_or_warn(const OciLayout& layout, const Descriptor& entry) {
    try {
        return read_image(layout, entry, entry.ref_name);
    } catch (const Error& error) {
        spdlog::warn("image {} is damaged and skipped: {}; remove it with `isolab rmi -f {}`", entry.ref_name,
                     error.what(), entry.ref_name);
        return std::nullopt;
    }
}

std::optional<Image> find_by_id(const OciLayout& layout, const std::string& id) {
    std::string prefix = bare_id(id);
    std::optional<Image> match;
    for (const auto& entry : layout.read_index()) {
        auto readable = read_image_or_warn(layout, entry);
        if (!readable) continue;
        Image image = *readable;
        if (image.id().rfind(prefix, 0) != 0) continue;
        if (match && match->config_digest != image.config_digest) {
            throw Error("image id prefix '" + id + "' is ambiguous: it matches " + match->id().substr(0, 12) + " and " +
                            image.id().substr(0, 12),
                        "give more digits of the id");
        }
        if (!match) match = image;
    }
    return match;
}

// Removes staging folders and scratch files that a killed process left behind. Unpacking
// does not take the layout lock, so only entries older than an hour count as abandoned.
void remove_abandoned_staging(const OciLayout& layout, const Paths& paths) {
    auto cutoff = fs::file_time_type::clock::now() - std::chrono::hours(1);
    auto remove_old = [&](const fs::path& folder, const std::string& prefix) {
        if (!fs::exists(folder)) return;
        for (const auto& entry : fs::directory_iterator(folder)) {
            std::error_code error;
            bool matches = entry.path().filename().string().rfind(prefix, 0) == 0;
            if (!matches || fs::last_write_time(entry.path(), error) > cutoff || error) continue;
            fs::remove_all(entry.path(), error);
            spdlog::debug("removed abandoned {}", entry.path().string());
        }
    };
    remove_old(paths.layers(), ".unpack-");
    remove_old(layout.scratch(), "");
}

// Deletes blobs and unpacked layers that no tagged image refers to and no live process
// has pinned. The caller holds the layout lock. Returns the ids of the image configs it
// deleted.
std::vector<std::string> collect_garbage(OciLayout& layout, const Paths& paths) {
    remove_abandoned_staging(layout, paths);
    std::set<std::string> live;
    for (const auto& entry : layout.read_index()) {
        auto readable = read_image_or_warn(layout, entry);
        if (!readable) {
            // Which blobs a damaged image still needs is unknown, so nothing is deleted
            // until it is removed.
            spdlog::debug("garbage collection skipped: image {} is damaged", entry.ref_name);
            return {};
        }
        const Image& image = *readable;
        live.insert(image.manifest_digest);
        live.insert(image.config_digest);
        for (const auto& layer : image.layers) live.insert(layer.digest);
    }

    // Writers pin a blob before they store it, so the pins are read after the blobs and
    // layer folders are listed: every blob listed has its pin written by then.
    std::vector<std::string> candidates = layout.blob_digests();
    std::vector<fs::path> layer_folders;
    if (fs::exists(paths.layers())) {
        for (const auto& folder : fs::directory_iterator(paths.layers())) {
            if (folder.path().filename().string().size() == 64) layer_folders.push_back(folder.path());
        }
    }
    live.merge(layout.pinned_digests());

    std::vector<std::string> deleted;
    for (const auto& digest : candidates) {
        if (live.count(digest)) continue;
        layout.remove_blob(digest);
        deleted.push_back(digest);
    }
    for (const auto& folder : layer_folders) {
        if (live.count("sha256:" + folder.filename().string())) continue;
        fs::remove_all(folder);
        spdlog::debug("removed unpacked layer {}", folder.string());
    }
    return deleted;
}

}  // namespace

Store::Store(Paths paths) : paths_(std::move(paths)) {}

OciLayout Store::open_layout() const {
    return OciLayout(paths_.images());
}

std::optional<Image> Store::find(const std::string& reference) const {
    OciLayout layout = open_layout();
    std::optional<std::string> normalized;
    try {
        normalized = normalize_reference(reference);
    } catch (const Error&) {
        if (!looks_like_id(reference)) throw;
    }
    if (normalized) {
        if (auto image = find_by_reference(layout, *normalized)) return image;
    }
    if (looks_like_id(reference)) return find_by_id(layout, reference);
    return std::nullopt;
}

Image Store::resolve(const std::string& reference) const {
    if (auto image = find(reference)) return *image;
    if (normalize_reference(reference) == busybox_reference) return Store(paths_).ensure_busybox();
    throw Error("image '" + reference + "' not found", bootstrap_hint(reference).value_or(not_found_hint), target_error_exit_code);
}

std::vector<Image> Store::list() const {
    OciLayout layout = open_layout();
    std::vector<Image> images;
    for (const auto& entry : layout.read_index()) {
        if (auto image = read_image_or_warn(layout, entry)) images.push_back(std::move(*image));
    }
    return images;
}

Image Store::ensure_busybox() {
    if (auto image = find(busybox_reference)) return *image;
    OciLayout layout = open_layout();
    auto held = layout.lock();
    if (auto image = find_by_reference(layout, busybox_reference)) return *image;

    fs::path binary = busybox_binary();
    check_static_binary(binary);
    struct stat info {};
    if (stat(binary.c_str(), &info) != 0) throw_errno("cannot stat " + binary.string());
    // The binary's mtime dates the image, so the same busybox always gives the same digests.
    std::time_t mtime = info.st_mtime;
    std::string created = format_rfc3339(mtime);

    Layer layer = write_layer(layout, busybox_rootfs(binary), mtime);
    RunConfig run_config;
    run_config.env = {default_path_env};
    run_config.cmd = {"sh"};
    std::vector<HistoryEntry> history{
        {created, "isolab: rootfs from " + binary.string() + " (" + busybox_version(binary) + ")", {}, false}};
    auto config = make_image_config(run_config, created, history, {layer});
    Descriptor manifest = write_image_blobs(layout, config.dump(), {layer});
    set_tag(layout, busybox_reference, manifest);
    spdlog::info("created image {} from {}", busybox_reference, binary.string());
    return read_image(layout, manifest, busybox_reference);
}

Image Store::add_image(const std::string& reference, const nlohmann::json& config, const std::vector<Layer>& layers) {
    return add_image(reference, config.dump(), layers);
}

Image Store::add_image(const std::string& reference, const std::string& config, const std::vector<Layer>& layers) {
    std::string normalized = normalize_reference(reference);
    OciLayout layout = open_layout();
    auto held = layout.lock();
    Descriptor manifest = write_image_blobs(layout, config, layers);
    set_tag(layout, normalized, manifest);
    return read_image(layout, manifest, normalized);
}

void Store::tag(const std::string& source, const std::string& target) {
    std::string normalized = normalize_reference(target);
    Image image = resolve(source);
    OciLayout layout = open_layout();
    auto held = layout.lock();
    set_tag(layout, normalized, manifest_descriptor(image));
}

std::vector<std::string> Store::containers_using(const std::string& image_id) const {
    std::vector<std::string> users;
    if (!fs::exists(paths_.containers())) return users;
    for (const auto& folder : fs::directory_iterator(paths_.containers())) {
        auto config_file = folder.path() / "config.json";
        if (!fs::exists(config_file)) continue;
        try {
            auto config = nlohmann::json::parse(read_file(config_file));
            if (bare_id(config.value("image_id", "")) == bare_id(image_id)) users.push_back(folder.path().filename().string());
        } catch (const std::exception& error) {
            spdlog::warn("cannot read {}: {}", config_file.string(), error.what());
        }
    }
    return users;
}

std::vector<std::string> Store::remove(const std::string& reference, bool force) {
    OciLayout layout = open_layout();
    auto held = layout.lock();
    auto entries = layout.read_index();

    std::optional<Image> image;
    std::optional<std::string> normalized;
    try {
        normalized = normalize_reference(reference);
    } catch (const Error&) {
        if (!looks_like_id(reference)) throw;
    }
    if (normalized) {
        auto entry = std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.ref_name == *normalized; });
        if (entry != entries.end()) {
            try {
                image = read_image(layout, *entry, entry->ref_name);
            } catch (const Error&) {
                if (!force) throw;
                // A damaged image cannot be checked for users or other tags: -f drops its
                // tag, and garbage collection removes the blobs nothing else refers to.
                entries.erase(entry);
                layout.write_index(entries);
                collect_garbage(layout, paths_);
                return {"Untagged: " + *normalized};
            }
        }
    }
    bool by_id = false;
    if (!image && looks_like_id(reference)) {
        image = find_by_id(layout, reference);
        by_id = true;
    }
    if (!image) throw Error("image '" + reference + "' not found", not_found_hint, target_error_exit_code);

    std::vector<std::string> tags;
    for (const auto& entry : entries) {
        bool same_id = by_id && [&] {
            auto other = read_image_or_warn(layout, entry);
            return other && other->config_digest == image->config_digest;
        }();
        if (by_id ? same_id : entry.ref_name == image->reference) {
            tags.push_back(entry.ref_name);
        }
    }
    if (by_id && tags.size() > 1 && !force) {
        throw Error("image " + image->id().substr(0, 12) + " has " + std::to_string(tags.size()) + " tags",
                    "remove the tags one by one, or use `isolab rmi -f " + reference + "` to remove all of them",
                    target_error_exit_code);
    }

    size_t remaining_with_id = 0;
    for (const auto& entry : entries) {
        bool removed = std::find(tags.begin(), tags.end(), entry.ref_name) != tags.end();
        if (removed) continue;
        auto other = read_image_or_warn(layout, entry);
        if (other && other->config_digest == image->config_digest) ++remaining_with_id;
    }
    if (remaining_with_id == 0) {
        auto users = containers_using(image->config_digest);
        if (!users.empty()) {
            throw Error("image " + image->reference + " is used by container " + users.front().substr(0, 12),
                        "remove the container first with `isolab rm " + users.front().substr(0, 12) + "`",
                        target_error_exit_code);
        }
    }

    std::erase_if(entries, [&](const Descriptor& entry) {
        return std::find(tags.begin(), tags.end(), entry.ref_name) != tags.end();
    });
    layout.write_index(entries);
    std::vector<std::string> lines;
    for (const auto& tag : tags) lines.push_back("Untagged: " + tag);
    for (const auto& digest : collect_garbage(layout, paths_)) {
        if (digest == image->config_digest) lines.push_back("Deleted: " + digest);
    }
    return lines;
}

Image Store::import_rootfs(const fs::path& tar, const std::string& reference) {
    RunConfig run_config;
    run_config.env = {default_path_env};
    return import_rootfs(tar, reference, run_config, "isolab import " + tar.filename().string());
}

Image Store::import_rootfs(const fs::path& tar, const std::string& reference, const RunConfig& run_config,
                           const std::string& created_by) {
    std::string normalized = normalize_reference(reference);
    if (!fs::is_regular_file(tar)) throw Error("rootfs archive " + tar.string() + " not found", "give the path of a tar file");

    OciLayout layout = open_layout();
    Layer layer = import_layer(layout, tar);
    try {
        unpacked_layer(layer);
    } catch (const Error& error) {
        layout.unpin_all();
        auto held = layout.lock();
        collect_garbage(layout, paths_);
        throw Error("cannot import " + tar.string() + ": " + error.what(), error.hint());
    }

    std::string created = format_rfc3339(std::time(nullptr));
    std::vector<HistoryEntry> history{{created, created_by, {}, false}};
    return add_image(normalized, make_image_config(run_config, created, history, {layer}), {layer});
}

fs::path Store::blob_path(const std::string& digest) const {
    return paths_.images() / "blobs" / "sha256" / digest_hex(digest);
}

fs::path Store::layer_folder(const Layer& layer) const {
    return paths_.layers() / digest_hex(layer.digest);
}

fs::path Store::unpacked_layer(const Layer& layer) {
    fs::path folder = layer_folder(layer);
    if (fs::exists(folder)) return folder;
    if (!is_supported_layer_type(layer.media_type)) {
        throw Error("layer " + layer.digest + " has the unsupported media type " + layer.media_type,
                    "isolab unpacks tar layers, plain, gzip or zstd compressed");
    }
    fs::path blob = blob_path(layer.digest);
    if (!fs::exists(blob)) throw Error("layer blob " + layer.digest + " is missing from the store", not_found_hint);

    // Unpack beside the final folder, then rename: a reader sees all of the layer or none,
    // and of two processes unpacking at once the first rename wins.
    TemporaryDirectory staging(paths_.layers(), ".unpack-" + digest_hex(layer.digest).substr(0, 12) + "-");
    if (chmod(staging.path().c_str(), 0755) != 0) throw_errno("cannot chmod " + staging.path().string());
    UnpackResult result;
    try {
        result = unpack_layer(blob, staging.path());
    } catch (const Error& error) {
        throw Error("cannot unpack layer " + layer.digest + ": " + error.what(), error.hint());
    }
    if (result.digest != layer.digest) {
        throw Error("layer blob " + layer.digest + " is corrupt: its content has digest " + result.digest,
                    "remove the image with `isolab rmi -f` and create or load it again");
    }
    if (result.diff_id != layer.diff_id) {
        throw Error("layer " + layer.digest + " does not match its diff_id " + layer.diff_id + ": the tar has digest " +
                        result.diff_id,
                    "remove the image with `isolab rmi -f` and create or load it again");
    }

    if (std::rename(staging.path().c_str(), folder.c_str()) == 0) {
        staging.release();
        spdlog::debug("unpacked layer {} into {}", layer.digest, folder.string());
    } else if (errno != EEXIST && errno != ENOTEMPTY) {
        throw_errno("cannot rename " + staging.path().string() + " to " + folder.string());
    }
    return folder;
}

std::vector<fs::path> Store::lowerdirs(const Image& image) {
    std::vector<fs::path> folders;
    for (auto layer = image.layers.rbegin(); layer != image.layers.rend(); ++layer) folders.push_back(unpacked_layer(*layer));
    return folders;
}

std::uint64_t Store::stored_size(const Image& image) const {
    std::uint64_t total = image.manifest_size + image.config_size;
    for (const auto& layer : image.layers) total += layer.size;
    return total;
}

std::uint64_t Store::unpacked_size(const Image& image) const {
    std::uint64_t total = 0;
    for (const auto& layer : image.layers) total += disk_usage(layer_folder(layer));
    return total;
}

}  // namespace isolab::image
