// compose.yaml: the input is written as compose.yaml in a scratch folder and loaded as
// `isolab compose config` loads it (read, interpolate, merge, check), then printed back.
#include <fstream>

#include "fuzz_support.hpp"
#include "runtime/compose/project.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    isolab::fuzz::ScratchDir scratch;
    {
        std::ofstream file(scratch.path() / "compose.yaml", std::ios::binary);
        file.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    isolab::compose::LoadOptions options;
    options.working_dir = scratch.path();
    options.project_name = "fuzz";
    options.environment = [](const std::string& name) -> std::optional<std::string> {
        if (name == "SET") return "value";
        if (name == "EMPTY") return "";
        return std::nullopt;
    };
    try {
        auto project = isolab::compose::load_project(options);
        (void)isolab::compose::project_to_yaml(project);
    } catch (const isolab::Error&) {
    }
    return 0;
}
