// results.json, as `isolab report` and the class report read it.
#include <nlohmann/json.hpp>

#include "bench/results.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto document = nlohmann::json::parse(isolab::fuzz::as_text(data, size), nullptr, false);
    if (document.is_discarded()) return 0;
    try {
        auto results = isolab::bench::results_from_json(document);
        isolab::bench::compute_derived(results);
        (void)isolab::bench::to_json(results).dump();
    } catch (const isolab::Error&) {
    }
    return 0;
}
