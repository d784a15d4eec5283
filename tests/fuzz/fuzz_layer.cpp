// A layer tar (plain, gzip or zstd), unpacked into a scratch folder as `isolab load` and
// `isolab import` unpack one. Afterwards nothing may exist outside the scratch folder's
// destination, which the canary file checks for the simplest escape.
#include <fstream>

#include "fuzz_support.hpp"
#include "runtime/image/layer_unpack.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    isolab::fuzz::ScratchDir scratch;
    auto blob = scratch.path() / "layer.tar";
    {
        std::ofstream file(blob, std::ios::binary);
        file.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    auto destination = scratch.path() / "rootfs";
    std::filesystem::create_directories(destination);
    try {
        (void)isolab::image::unpack_layer(blob, destination);
    } catch (const isolab::Error&) {
    }
    // Whatever the layer held, only layer.tar and rootfs may be in the scratch folder.
    for (const auto& entry : std::filesystem::directory_iterator(scratch.path())) {
        auto name = entry.path().filename();
        if (name != "layer.tar" && name != "rootfs") std::abort();
    }
    return 0;
}
