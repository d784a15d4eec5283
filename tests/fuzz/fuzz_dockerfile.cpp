// Dockerfile parser: parse_dockerfile, then the flag lookup of every instruction.
#include "fuzz_support.hpp"
#include "runtime/build/dockerfile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        auto dockerfile = isolab::build::parse_dockerfile(isolab::fuzz::as_text(data, size), "Dockerfile");
        for (const auto& instruction : dockerfile.instructions) {
            for (const auto& flag : instruction.flags) (void)instruction.flag(flag.substr(0, flag.find('=')));
        }
    } catch (const isolab::Error&) {
    }
    return 0;
}
