// Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}, $$ and the rest.
#include "fuzz_support.hpp"
#include "runtime/compose/project.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto lookup = [](const std::string& name) -> std::optional<std::string> {
        if (name == "SET") return "value";
        if (name == "EMPTY") return "";
        if (name == "NESTED") return "${SET}";
        return std::nullopt;
    };
    try {
        (void)isolab::compose::interpolate(std::string(isolab::fuzz::as_text(data, size)), lookup, "compose.yaml:1");
    } catch (const isolab::Error&) {
    }
    return 0;
}
