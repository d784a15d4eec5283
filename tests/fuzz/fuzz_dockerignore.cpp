// .dockerignore: the first line of the input is a path to match, the rest the file.
#include "fuzz_support.hpp"
#include "runtime/build/dockerignore.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto text = isolab::fuzz::as_text(data, size);
    auto newline = text.find('\n');
    std::string path(text.substr(0, newline));
    auto rules_text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    try {
        isolab::build::IgnoreRules rules(rules_text);
        (void)rules.excluded(path);
        (void)rules.may_include_below(path);
    } catch (const isolab::Error&) {
    }
    return 0;
}
