#include "bench/qemu_image_info.hpp"

#include <nlohmann/json.hpp>

#include "runtime/core/error.hpp"
#include "runtime/core/process.hpp"

namespace isolab::bench {

QemuImageInfo parse_qemu_image_info(std::string_view json_text) {
    auto document = nlohmann::json::parse(json_text, nullptr, false);
    if (document.is_discarded() || !document.is_object()) {
        throw Error("qemu-img info output is not a JSON object");
    }
    if (!document.contains("virtual-size")) throw Error("qemu-img info output has no virtual-size");

    QemuImageInfo info;
    info.format = document.value("format", "");
    info.virtual_size_bytes = document.at("virtual-size").get<std::uint64_t>();
    if (document.contains("actual-size")) info.actual_size_bytes = document.at("actual-size").get<std::uint64_t>();
    if (document.contains("backing-filename")) info.backing_file = document.at("backing-filename").get<std::string>();
    return info;
}

QemuImageInfo read_qemu_image_info(const std::filesystem::path& image) {
    auto output = run_checked({"qemu-img", "info", "--output=json", image.string()});
    return parse_qemu_image_info(output);
}

}  // namespace isolab::bench
