#include "runtime/image/reference.hpp"

#include <algorithm>
#include <regex>

#include "runtime/core/error.hpp"
#include "runtime/image/store.hpp"

namespace isolab::image {

namespace {

// Grammar of the distribution reference format (github.com/distribution/reference).
const std::regex& path_component_pattern() {
    static const std::regex pattern("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*");
    return pattern;
}

const std::regex& domain_pattern() {
    static const std::regex pattern(
        "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
        "(?:\\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?");
    return pattern;
}

const std::regex& tag_pattern() {
    static const std::regex pattern("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    return pattern;
}

constexpr const char* reference_hint = "use NAME[:TAG] with a lowercase name, e.g. busybox:latest or lab/web:v1";

Error invalid_reference(const std::string& reference, const std::string& why) {
    return Error("invalid image reference '" + printable(reference) + "': " + why, reference_hint);
}

// A first component with a dot, a port or named localhost is a registry domain.
bool is_domain(const std::string& component) {
    return component.find_first_of(".:") != std::string::npos || component == "localhost";
}

void check_name(const std::string& reference, const std::string& name) {
    if (name.empty()) throw invalid_reference(reference, "the name is empty");
    if (name.size() > 255) throw invalid_reference(reference, "the name is longer than 255 characters");

    size_t start = 0;
    bool first = true;
    while (true) {
        size_t slash = name.find('/', start);
        std::string component = name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        bool more = slash != std::string::npos;
        if (first && more && is_domain(component)) {
            if (!std::regex_match(component, domain_pattern())) {
                throw invalid_reference(reference, "invalid registry domain '" + printable(component) + "'");
            }
        } else if (component.empty()) {
            throw invalid_reference(reference, "empty name component");
        } else if (!std::regex_match(component, path_component_pattern())) {
            bool has_uppercase = std::any_of(component.begin(), component.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
            throw invalid_reference(reference, has_uppercase ? "the name must be lowercase"
                                                              : "invalid name component '" + printable(component) + "'");
        }
        if (!more) break;
        start = slash + 1;
        first = false;
    }
}

}  // namespace

Reference parse_reference(const std::string& reference) {
    if (reference.empty()) throw invalid_reference(reference, "the reference is empty");
    if (reference.find('@') != std::string::npos) {
        throw invalid_reference(reference, "digest references are not supported by the local store");
    }

    Reference parsed;
    size_t last_slash = reference.rfind('/');
    size_t colon = reference.rfind(':');
    bool has_tag = colon != std::string::npos && (last_slash == std::string::npos || colon > last_slash);
    parsed.name = has_tag ? reference.substr(0, colon) : reference;
    parsed.tag = has_tag ? reference.substr(colon + 1) : "latest";

    check_name(reference, parsed.name);
    if (!std::regex_match(parsed.tag, tag_pattern())) {
        throw invalid_reference(reference, "invalid tag '" + printable(parsed.tag) + "' (letters, digits, _ . -, at most 128)");
    }
    return parsed;
}

std::string normalize_reference(const std::string& reference) {
    return parse_reference(reference).str();
}

bool looks_like_id(const std::string& text) {
    std::string hex = text.rfind("sha256:", 0) == 0 ? text.substr(7) : text;
    if (hex.empty() || hex.size() > 64) return false;
    return std::all_of(hex.begin(), hex.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace isolab::image
