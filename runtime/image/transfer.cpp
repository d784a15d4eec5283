#include "runtime/image/transfer.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <cstdio>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "runtime/core/digest.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/image/archive_io.hpp"
#include "runtime/image/layer_pack.hpp"
#include "runtime/image/layout.hpp"
#include "runtime/image/reference.hpp"

namespace isolab::image {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* archive_hint = "give a file written by `isolab save`, `docker save`, `podman save` or skopeo";

// Writes a tar into a temporary file beside `output` and renames it over `output` on
// commit(), so an interrupted save leaves no half-written archive.
class TarFileWriter {
public:
    explicit TarFileWriter(const fs::path& output) : output_(output), temporary_(output) {
        temporary_ += ".tmp-" + random_hex_id().substr(0, 12);
        handle_.reset(archive_write_new());
        archive_write_set_format_pax_restricted(handle_.get());
        if (archive_write_open_filename(handle_.get(), temporary_.c_str()) != ARCHIVE_OK) {
            throw Error("cannot create " + temporary_.string() + ": " + archive_error_text(handle_.get()));
        }
    }

    ~TarFileWriter() {
        if (committed_) return;
        handle_.reset();
        std::error_code ignored;
        fs::remove(temporary_, ignored);
    }

    void add_text(const std::string& path, const std::string& content) {
        write_header(path, content.size());
        write_data(path, content.data(), content.size());
    }

    void add_file(const std::string& path, const fs::path& source) {
        write_header(path, fs::file_size(source));
        std::ifstream stream(source, std::ios::binary);
        if (!stream) throw Error("cannot read " + source.string());
        std::vector<char> buffer(1 << 16);
        while (stream) {
            stream.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
            write_data(path, buffer.data(), static_cast<size_t>(stream.gcount()));
        }
    }

    void commit() {
        if (archive_write_close(handle_.get()) != ARCHIVE_OK) {
            throw Error("cannot finish " + temporary_.string() + ": " + archive_error_text(handle_.get()));
        }
        if (std::rename(temporary_.c_str(), output_.c_str()) != 0) {
            throw_errno("cannot rename " + temporary_.string() + " to " + output_.string());
        }
        committed_ = true;
    }

private:
    void write_header(const std::string& path, std::uint64_t size) {
        archive_entry* entry = archive_entry_new();
        archive_entry_set_pathname(entry, path.c_str());
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_perm(entry, 0644);
        archive_entry_set_size(entry, static_cast<la_int64_t>(size));
        int status = archive_write_header(handle_.get(), entry);
        archive_entry_free(entry);
        if (status != ARCHIVE_OK) throw Error("cannot add " + path + " to " + output_.string() + ": " + archive_error_text(handle_.get()));
    }

    void write_data(const std::string& path, const char* data, size_t size) {
        if (size == 0) return;
        if (archive_write_data(handle_.get(), data, size) != static_cast<la_ssize_t>(size)) {
            throw Error("cannot add " + path + " to " + output_.string() + ": " + archive_error_text(handle_.get()));
        }
    }

    fs::path output_;
    fs::path temporary_;
    WriteArchive handle_;
    bool committed_ = false;
};

std::string blob_name(const std::string& digest) {
    return "blobs/sha256/" + digest_hex(digest);
}

// Decompresses a layer blob into `output`, checking the blob's digest and diff_id.
void write_uncompressed_layer(const fs::path& blob, const Layer& layer, const fs::path& output) {
    DecompressingReader reader(blob);
    std::ofstream stream(output, std::ios::binary);
    if (!stream) throw Error("cannot create " + output.string());
    std::vector<char> buffer(1 << 16);
    size_t count;
    while ((count = reader.read(buffer.data(), buffer.size())) > 0) stream.write(buffer.data(), static_cast<std::streamsize>(count));
    stream.close();
    if (!stream) throw Error("cannot write " + output.string());
    reader.finish();
    if (reader.compressed_digest() != layer.digest || reader.uncompressed_digest() != layer.diff_id) {
        throw Error("layer blob " + layer.digest + " is corrupt: its content has digest " + reader.compressed_digest(),
                    "remove the image with `isolab rmi -f` and create or load it again");
    }
}

void save_oci_archive(Store& store, const Image& image, TarFileWriter& tar) {
    OciLayout layout(store.paths().images());
    json index{{"schemaVersion", 2},
               {"mediaType", media_type::index},
               {"manifests", json::array({Descriptor{media_type::manifest, image.manifest_digest, image.manifest_size,
                                                     image.reference}
                                              .to_json()})}};
    tar.add_text("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    tar.add_text("index.json", index.dump());
    tar.add_text(blob_name(image.manifest_digest), layout.read_blob_verified(image.manifest_digest));
    tar.add_text(blob_name(image.config_digest), layout.read_blob_verified(image.config_digest));
    for (const auto& layer : image.layers) {
        layout.verify_blob_file(layer.digest);
        tar.add_file(blob_name(layer.digest), layout.blob_path(layer.digest));
    }
}

void save_docker_archive(Store& store, const Image& image, TarFileWriter& tar) {
    OciLayout layout(store.paths().images());
    std::string config_name = image.id() + ".json";
    tar.add_text(config_name, layout.read_blob_verified(image.config_digest));

    json layer_names = json::array();
    for (const auto& layer : image.layers) {
        TemporaryDirectory scratch(layout.scratch(), "save-");
        fs::path uncompressed = scratch.path() / "layer.tar";
        write_uncompressed_layer(layout.blob_path(layer.digest), layer, uncompressed);
        std::string name = digest_hex(layer.diff_id) + "/layer.tar";
        tar.add_file(name, uncompressed);
        layer_names.push_back(name);
    }

    Reference reference = parse_reference(image.reference);
    json manifest = json::array({{{"Config", config_name}, {"RepoTags", {image.reference}}, {"Layers", layer_names}}});
    tar.add_text("manifest.json", manifest.dump());
    std::string top_layer = image.layers.empty() ? "" : digest_hex(image.layers.back().diff_id);
    tar.add_text("repositories", json{{reference.name, {{reference.tag, top_layer}}}}.dump());
}

// The regular files of an archive, copied into a staging folder and found by their path
// in the archive. Archive paths are only used as map keys, never as file system paths.
class ArchiveContent {
public:
    ArchiveContent(const fs::path& input, const fs::path& scratch) : staging_(scratch, "load-") {
        ReadArchive handle(archive_read_new());
        archive_read_support_filter_all(handle.get());
        archive_read_support_format_tar(handle.get());
        archive_read_support_format_gnutar(handle.get());
        if (archive_read_open_filename(handle.get(), input.c_str(), 1 << 16) != ARCHIVE_OK) {
            throw Error("cannot read " + input.string() + ": " + archive_error_text(handle.get()), archive_hint);
        }
        std::map<std::string, std::string> links;
        archive_entry* entry = nullptr;
        int status;
        while ((status = archive_read_next_header(handle.get(), &entry)) == ARCHIVE_OK || status == ARCHIVE_WARN) {
            std::string path = normalise(archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "");
            if (const char* target = archive_entry_hardlink(entry)) {
                links[path] = normalise(target);
            } else if (archive_entry_filetype(entry) == AE_IFLNK) {
                links[path] = normalise((fs::path(path).parent_path() / archive_entry_symlink(entry)).string());
            } else if (archive_entry_filetype(entry) == AE_IFREG) {
                files_[path] = copy_entry(handle.get(), path);
            }
        }
        if (status != ARCHIVE_EOF) {
            throw Error("cannot read " + input.string() + ": " + archive_error_text(handle.get()), archive_hint);
        }
        for (const auto& [path, target] : links) {
            if (files_.count(target)) files_[path] = files_[target];
        }
    }

    bool has(const std::string& path) const { return files_.count(normalise(path)) > 0; }

    const fs::path& file(const std::string& path) const {
        auto found = files_.find(normalise(path));
        if (found == files_.end()) throw Error("the archive has no file " + path, archive_hint);
        return found->second;
    }

    std::string text(const std::string& path) const { return read_file(file(path)); }

    json document(const std::string& path) const {
        try {
            return json::parse(text(path));
        } catch (const json::exception& error) {
            throw Error(path + " in the archive is not valid JSON: " + error.what(), archive_hint);
        }
    }

    // The content of blob `digest`, checked against the digest.
    std::string verified_blob(const std::string& digest) const {
        std::string content = text(blob_name(digest));
        if (sha256_digest(content) != digest) throw Error("blob " + digest + " in the archive is corrupt", archive_hint);
        return content;
    }

private:
    static std::string normalise(const std::string& path) {
        std::string normal = fs::path(path).lexically_normal().string();
        while (normal.rfind("./", 0) == 0) normal.erase(0, 2);
        while (!normal.empty() && normal.front() == '/') normal.erase(0, 1);
        return normal;
    }

    fs::path copy_entry(archive* handle, const std::string& path) {
        fs::path copy = staging_.path() / std::to_string(files_.size());
        std::ofstream stream(copy, std::ios::binary);
        const void* block = nullptr;
        size_t size = 0;
        la_int64_t offset = 0;
        int status;
        while ((status = archive_read_data_block(handle, &block, &size, &offset)) == ARCHIVE_OK) {
            stream.seekp(offset);
            stream.write(static_cast<const char*>(block), static_cast<std::streamsize>(size));
        }
        if (status != ARCHIVE_EOF) throw Error("cannot read " + path + " from the archive: " + archive_error_text(handle), archive_hint);
        stream.close();
        if (!stream) throw Error("cannot write " + copy.string());
        return copy;
    }

    TemporaryDirectory staging_;
    std::map<std::string, fs::path> files_;
};

// Adds an image and unpacks its layers once; an image whose layers cannot be unpacked
// safely is removed again, with the blobs `layout` pinned for it.
void add_checked(Store& store, OciLayout& layout, const std::string& reference, const std::string& config,
                 const std::vector<Layer>& layers, std::vector<std::string>& loaded) {
    Image image = store.add_image(reference, config, layers);
    try {
        store.lowerdirs(image);
    } catch (const Error&) {
        layout.unpin_all();
        store.remove(image.reference, false);
        throw;
    }
    loaded.push_back(image.reference);
    spdlog::debug("loaded {} ({})", image.reference, image.config_digest);
}

std::vector<std::string> diff_ids_of(const json& config) {
    std::vector<std::string> diff_ids;
    if (config.contains("rootfs") && config["rootfs"].contains("diff_ids")) {
        for (const auto& diff_id : config["rootfs"]["diff_ids"]) diff_ids.push_back(diff_id.get<std::string>());
    }
    return diff_ids;
}

json parse_config(const std::string& text, const std::string& where) {
    try {
        return json::parse(text);
    } catch (const json::exception& error) {
        throw Error("image config " + where + " is not valid JSON: " + error.what(), archive_hint);
    }
}

std::vector<std::string> load_docker_archive(Store& store, const ArchiveContent& content) {
    OciLayout layout(store.paths().images());
    std::vector<std::string> loaded;
    for (const auto& item : content.document("manifest.json")) {
        std::string config_path = item.at("Config").get<std::string>();
        std::string config_text = content.text(config_path);
        std::string stem = fs::path(config_path).stem().string();
        if (stem.size() == 64 && looks_like_id(stem) && "sha256:" + stem != sha256_digest(config_text)) {
            throw Error("image config " + config_path + " in the archive is corrupt", archive_hint);
        }
        auto diff_ids = diff_ids_of(parse_config(config_text, config_path));
        const json& layer_paths = item.at("Layers");
        if (layer_paths.size() != diff_ids.size()) {
            throw Error("image config " + config_path + " lists " + std::to_string(diff_ids.size()) + " diff_ids for " +
                            std::to_string(layer_paths.size()) + " layers",
                        archive_hint);
        }

        std::vector<Layer> layers;
        for (size_t i = 0; i < layer_paths.size(); ++i) {
            Layer layer = import_layer(layout, content.file(layer_paths[i].get<std::string>()));
            if (layer.diff_id != diff_ids[i]) {
                throw Error("layer " + layer_paths[i].get<std::string>() + " has digest " + layer.diff_id +
                                " but the config expects " + diff_ids[i],
                            archive_hint);
            }
            layers.push_back(layer);
        }

        std::vector<std::string> tags;
        if (item.contains("RepoTags") && item["RepoTags"].is_array()) tags = item["RepoTags"].get<std::vector<std::string>>();
        if (tags.empty()) tags.push_back("loaded:" + sha256_digest(config_text).substr(7, 12));
        for (const auto& tag : tags) add_checked(store, layout, tag, config_text, layers, loaded);
    }
    return loaded;
}

// The name of an index.json entry: its ref.name annotation when that is a full
// reference; skopeo writes only the tag there and the name in io.containerd.image.name.
std::string oci_reference(const json& descriptor) {
    json annotations = descriptor.value("annotations", json::object());
    std::string ref_name = annotations.value(ref_name_annotation, "");
    std::string containerd_name = annotations.value("io.containerd.image.name", "");
    if (!containerd_name.empty()) return containerd_name;
    if (ref_name.find_first_of(":/") != std::string::npos) return ref_name;
    return "loaded:" + (ref_name.empty() ? std::string("latest") : ref_name);
}

// Follows an image index entry to the linux/amd64 manifest.
json platform_manifest(const ArchiveContent& content, json descriptor) {
    while (descriptor.value("mediaType", "") == media_type::index ||
           descriptor.value("mediaType", "") == "application/vnd.docker.distribution.manifest.list.v2+json") {
        json nested = json::parse(content.verified_blob(descriptor.at("digest").get<std::string>()));
        json chosen;
        for (const auto& candidate : nested.at("manifests")) {
            json platform = candidate.value("platform", json::object());
            if (platform.value("os", "linux") == "linux" && platform.value("architecture", "amd64") == "amd64") {
                chosen = candidate;
                break;
            }
        }
        if (chosen.is_null()) throw Error("the archive's image index has no linux/amd64 image", archive_hint);
        chosen["annotations"] = descriptor.value("annotations", json::object());
        descriptor = chosen;
    }
    return descriptor;
}

Layer adopt_oci_layer(OciLayout& layout, const ArchiveContent& content, const json& descriptor, const std::string& diff_id) {
    Descriptor layer_descriptor = Descriptor::from_json(descriptor);
    layout.pin(layer_descriptor.digest);
    if (!layout.has_blob(layer_descriptor.digest)) {
        const fs::path& file = content.file(blob_name(layer_descriptor.digest));
        if (sha256_file_digest(file) != layer_descriptor.digest) {
            throw Error("layer blob " + layer_descriptor.digest + " in the archive is corrupt", archive_hint);
        }
        fs::path copy = layout.scratch() / ("load-" + random_hex_id().substr(0, 16));
        fs::copy_file(file, copy);
        layout.adopt_blob_file(copy, layer_descriptor.digest);
    }
    return Layer{layer_descriptor.digest, diff_id, layer_descriptor.media_type, layer_descriptor.size};
}

std::vector<std::string> load_oci_archive(Store& store, const ArchiveContent& content) {
    OciLayout layout(store.paths().images());
    std::vector<std::string> loaded;
    json index = content.document("index.json");
    if (!index.contains("manifests") || !index["manifests"].is_array()) throw Error("index.json in the archive lists no manifests", archive_hint);
    for (const auto& entry : index["manifests"]) {
        json descriptor = platform_manifest(content, entry);
        json manifest = json::parse(content.verified_blob(descriptor.at("digest").get<std::string>()));
        std::string config_digest = manifest.at("config").at("digest").get<std::string>();
        std::string config_text = content.verified_blob(config_digest);
        auto diff_ids = diff_ids_of(parse_config(config_text, config_digest));
        const json& layer_list = manifest.at("layers");
        if (layer_list.size() != diff_ids.size()) {
            throw Error("image config " + config_digest + " lists " + std::to_string(diff_ids.size()) + " diff_ids for " +
                            std::to_string(layer_list.size()) + " layers",
                        archive_hint);
        }

        std::vector<Layer> layers;
        for (size_t i = 0; i < layer_list.size(); ++i) layers.push_back(adopt_oci_layer(layout, content, layer_list[i], diff_ids[i]));
        add_checked(store, layout, oci_reference(descriptor), config_text, layers, loaded);
    }
    return loaded;
}

}  // namespace

ArchiveFormat parse_archive_format(std::string_view text) {
    if (text == "docker-archive") return ArchiveFormat::docker_archive;
    if (text == "oci-archive") return ArchiveFormat::oci_archive;
    throw Error("invalid archive format '" + std::string(text) + "'", "use docker-archive or oci-archive");
}

void save_image(Store& store, const std::string& reference, const fs::path& output, ArchiveFormat format) {
    Image image = store.resolve(reference);
    if (output.has_parent_path() && !fs::is_directory(output.parent_path())) {
        throw Error("folder " + output.parent_path().string() + " not found", "save into an existing folder");
    }
    TarFileWriter tar(output);
    if (format == ArchiveFormat::oci_archive) {
        save_oci_archive(store, image, tar);
    } else {
        save_docker_archive(store, image, tar);
    }
    tar.commit();
    spdlog::debug("saved {} to {}", image.reference, output.string());
}

std::vector<std::string> load_images(Store& store, const fs::path& input) {
    if (!fs::is_regular_file(input)) throw Error("archive " + input.string() + " not found", archive_hint);
    OciLayout layout(store.paths().images());
    ArchiveContent content(input, layout.scratch());
    if (content.has("manifest.json")) return load_docker_archive(store, content);
    if (content.has("index.json") && content.has("oci-layout")) return load_oci_archive(store, content);
    throw Error(input.string() + " is neither a docker-archive nor an oci-archive (no manifest.json or index.json)", archive_hint);
}

}  // namespace isolab::image
