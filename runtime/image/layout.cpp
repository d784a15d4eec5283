#include "runtime/image/layout.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <sstream>

#include <spdlog/spdlog.h>

#include "runtime/core/digest.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/unique_fd.hpp"

namespace isolab::image {

namespace fs = std::filesystem;

namespace {

constexpr const char* corrupt_hint = "remove the image with `isolab rmi -f` and create or load it again";

nlohmann::json parse_json_file(const fs::path& path) {
    std::string text = read_file(path);
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& error) {
        throw Error("invalid JSON in " + path.string() + ": " + error.what(), corrupt_hint);
    }
}

}  // namespace

// One pin file, <layout>/.pins/<random name>: the pinned digests, one a line, in a file
// its owner keeps locked (flock LOCK_EX) while it is open. The kernel drops the lock
// when the owner exits, even by SIGKILL, so a collector that can lock the file knows
// that the pins are stale. The descriptor is close-on-exec, so a container started by
// the owner does not inherit the lock.
class BlobPins {
public:
    explicit BlobPins(const fs::path& folder) {
        fs::create_directories(folder);
        std::string name = random_hex_id().substr(0, 16);
        // The file is locked under a dot name and then renamed, so a collector never
        // sees it unlocked under its final name.
        fs::path staging = folder / ("." + name);
        fd_.reset(open(staging.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644));
        if (!fd_) throw_errno("cannot create the pin file " + staging.string());
        if (flock(fd_.get(), LOCK_EX) != 0) throw_errno("cannot lock the pin file " + staging.string());
        path_ = folder / name;
        if (std::rename(staging.c_str(), path_.c_str()) != 0) throw_errno("cannot rename " + staging.string());
    }
    ~BlobPins() {
        std::error_code ignored;
        fs::remove(path_, ignored);
    }
    BlobPins(const BlobPins&) = delete;
    BlobPins& operator=(const BlobPins&) = delete;

    // Appends `digest` before the caller stores or reuses the blob. A collector lists
    // the blobs before it reads the pins, so a blob it sees has its pin line written.
    void add(const std::string& digest) {
        if (!digests_.insert(digest).second) return;
        std::string line = digest + "\n";
        if (write(fd_.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
            throw_errno("cannot write the pin file " + path_.string());
        }
    }

private:
    fs::path path_;
    UniqueFd fd_;
    std::set<std::string> digests_;
};

nlohmann::json Descriptor::to_json() const {
    nlohmann::json json{{"mediaType", media_type}, {"digest", digest}, {"size", size}};
    if (!ref_name.empty()) json["annotations"] = {{ref_name_annotation, ref_name}};
    return json;
}

Descriptor Descriptor::from_json(const nlohmann::json& json) {
    Descriptor descriptor;
    try {
        descriptor.media_type = json.value("mediaType", "");
        descriptor.digest = json.at("digest").get<std::string>();
        descriptor.size = json.at("size").get<std::uint64_t>();
        if (json.contains("annotations")) {
            descriptor.ref_name = json["annotations"].value(ref_name_annotation, "");
        }
    } catch (const nlohmann::json::exception& error) {
        throw Error(std::string("invalid OCI descriptor: ") + error.what(), corrupt_hint);
    }
    check_digest(descriptor.digest);
    return descriptor;
}

void check_digest(const std::string& digest) {
    bool valid = digest.size() == 71 && digest.rfind("sha256:", 0) == 0;
    for (size_t i = 7; valid && i < digest.size(); ++i) {
        char c = digest[i];
        valid = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    }
    if (!valid) throw Error("invalid digest '" + digest + "'", "a digest is sha256: followed by 64 lowercase hex digits");
}

std::string digest_hex(const std::string& digest) {
    check_digest(digest);
    return digest.substr(7);
}

OciLayout::OciLayout(fs::path root) : root_(std::move(root)) {
    fs::create_directories(root_ / "blobs" / "sha256");
    fs::create_directories(scratch());
    if (!fs::exists(root_ / "oci-layout")) {
        write_file_atomic(root_ / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    }
    if (!fs::exists(root_ / "index.json")) {
        auto held = lock();
        if (!fs::exists(root_ / "index.json")) write_index({});
    }
}

fs::path OciLayout::blob_path(const std::string& digest) const {
    return root_ / "blobs" / "sha256" / digest_hex(digest);
}

bool OciLayout::has_blob(const std::string& digest) const {
    return fs::exists(blob_path(digest));
}

void OciLayout::pin(const std::string& digest) {
    check_digest(digest);
    if (!pins_) pins_ = std::make_shared<BlobPins>(root_ / ".pins");
    pins_->add(digest);
}

void OciLayout::unpin_all() {
    pins_.reset();
}

std::set<std::string> OciLayout::pinned_digests() const {
    std::set<std::string> digests;
    fs::path folder = root_ / ".pins";
    if (!fs::exists(folder)) return digests;
    auto stale_staging_cutoff = fs::file_time_type::clock::now() - std::chrono::minutes(1);
    for (const auto& entry : fs::directory_iterator(folder)) {
        UniqueFd fd(open(entry.path().c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) continue;  // its owner removed it meanwhile
        if (flock(fd.get(), LOCK_SH | LOCK_NB) == 0) {
            // No owner holds the lock: the process that pinned these blobs has exited. A
            // dot file may still be on its way to being locked, so only old ones go.
            std::error_code error;
            bool staging = entry.path().filename().string().front() == '.';
            if (staging && (fs::last_write_time(entry.path(), error) > stale_staging_cutoff || error)) continue;
            fs::remove(entry.path(), error);
            spdlog::debug("removed the pin file {} of an exited process", entry.path().string());
            continue;
        }
        if (errno != EWOULDBLOCK) throw_errno("cannot check the lock of " + entry.path().string());
        std::istringstream lines(read_file(entry.path()));
        for (std::string line; std::getline(lines, line);) {
            // A line being appended right now may be cut short; its blob is not stored yet.
            if (line.size() == 71 && line.rfind("sha256:", 0) == 0) digests.insert(line);
        }
    }
    return digests;
}

Descriptor OciLayout::write_blob(const std::string& content, const std::string& media_type) {
    Descriptor descriptor{media_type, sha256_digest(content), content.size(), {}};
    pin(descriptor.digest);
    auto path = blob_path(descriptor.digest);
    if (!fs::exists(path)) {
        write_file_atomic(path, content, 0644);
        spdlog::debug("wrote blob {} ({} bytes, {})", descriptor.digest, content.size(), media_type);
    }
    return descriptor;
}

void OciLayout::adopt_blob_file(const fs::path& file, const std::string& digest) {
    pin(digest);
    auto path = blob_path(digest);
    if (fs::exists(path)) {
        fs::remove(file);
        return;
    }
    if (std::rename(file.c_str(), path.c_str()) != 0) throw_errno("cannot move " + file.string() + " to " + path.string());
    spdlog::debug("stored blob {} ({} bytes)", digest, fs::file_size(path));
}

std::string OciLayout::read_blob_verified(const std::string& digest) const {
    auto path = blob_path(digest);
    if (!fs::exists(path)) throw Error("blob " + digest + " is missing from " + root_.string(), corrupt_hint);
    std::string content = read_file(path);
    std::string actual = sha256_digest(content);
    if (actual != digest) {
        throw Error("blob " + digest + " in " + path.string() + " is corrupt: its content has digest " + actual, corrupt_hint);
    }
    return content;
}

void OciLayout::verify_blob_file(const std::string& digest) const {
    auto path = blob_path(digest);
    if (!fs::exists(path)) throw Error("blob " + digest + " is missing from " + root_.string(), corrupt_hint);
    std::string actual = sha256_file_digest(path);
    if (actual != digest) {
        throw Error("blob " + digest + " in " + path.string() + " is corrupt: its content has digest " + actual, corrupt_hint);
    }
}

void OciLayout::remove_blob(const std::string& digest) {
    std::error_code ignored;
    if (fs::remove(blob_path(digest), ignored)) spdlog::debug("removed blob {}", digest);
}

std::vector<std::string> OciLayout::blob_digests() const {
    std::vector<std::string> digests;
    for (const auto& entry : fs::directory_iterator(root_ / "blobs" / "sha256")) {
        std::string name = "sha256:" + entry.path().filename().string();
        if (name.size() == 71 && name.find(".tmp-") == std::string::npos) digests.push_back(name);
    }
    return digests;
}

std::vector<Descriptor> OciLayout::read_index() const {
    auto json = parse_json_file(root_ / "index.json");
    std::vector<Descriptor> manifests;
    if (!json.contains("manifests")) return manifests;
    for (const auto& entry : json["manifests"]) manifests.push_back(Descriptor::from_json(entry));
    return manifests;
}

void OciLayout::write_index(const std::vector<Descriptor>& manifests) {
    nlohmann::json json{{"schemaVersion", 2}, {"mediaType", media_type::index}, {"manifests", nlohmann::json::array()}};
    for (const auto& manifest : manifests) json["manifests"].push_back(manifest.to_json());
    write_file_atomic(root_ / "index.json", json.dump(2) + "\n");
}

std::unique_ptr<FileLock> OciLayout::lock() const {
    return std::make_unique<FileLock>(root_ / ".lock");
}

}  // namespace isolab::image
