// An OCI image layout's index.json, image manifest and image config. The input holds the
// three documents separated by lines of "----". The manifest and config are stored as
// blobs under their real digests, and the manifest's config descriptor is pointed at the
// config blob, so the fuzzer reaches the config parser without forging SHA-256 digests.
#include <fstream>

#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "runtime/core/digest.hpp"
#include "runtime/image/layout.hpp"
#include "runtime/image/manifest.hpp"

namespace {

void write(const std::filesystem::path& path, const std::string& content) {
    std::ofstream file(path, std::ios::binary);
    file << content;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto parts = isolab::fuzz::split_parts(isolab::fuzz::as_text(data, size), 3);
    isolab::fuzz::ScratchDir scratch;
    isolab::image::OciLayout layout(scratch.path());
    write(scratch.path() / "index.json", parts[0]);
    try {
        (void)layout.read_index();
    } catch (const isolab::Error&) {
    }

    auto config = layout.write_blob(parts[2], isolab::image::media_type::config);
    std::string manifest_text = parts[1];
    auto manifest = nlohmann::json::parse(manifest_text, nullptr, false);
    if (manifest.is_object() && manifest.contains("config") && manifest["config"].is_object()) {
        manifest["config"]["digest"] = config.digest;
        manifest_text = manifest.dump();
    }
    auto descriptor = layout.write_blob(manifest_text, isolab::image::media_type::manifest);
    try {
        (void)isolab::image::read_image(layout, descriptor, "fuzz:latest");
    } catch (const isolab::Error&) {
    }
    return 0;
}
