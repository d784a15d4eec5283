// OCI runtime config.json, as `isolab oci create` reads it from a bundle.
#include "fuzz_support.hpp"
#include "runtime/oci/spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        auto spec = isolab::oci::parse_spec(isolab::fuzz::as_text(data, size));
        (void)spec.find_namespace("network");
    } catch (const isolab::Error&) {
    }
    return 0;
}
