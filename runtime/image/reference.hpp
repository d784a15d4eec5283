#pragma once
// Image references in the form Docker and OCI tools use: "name[:tag]", where the name is
// one or more lowercase path components ("busybox", "lab/web", "localhost:5000/web").
// isolab stores references locally only, so no registry is needed or contacted.
#include <string>

namespace isolab::image {

struct Reference {
    std::string name;  // "busybox", "lab/web"
    std::string tag;   // "latest" when none was given

    std::string str() const { return name + ":" + tag; }
};

// Splits and validates a reference. Throws Error naming the invalid part, e.g. an
// uppercase letter in the name, an empty component or a tag longer than 128 characters.
// A digest reference ("name@sha256:...") is rejected because the store only keeps tags.
Reference parse_reference(const std::string& reference);

// True when `text` looks like an image id or a prefix of one: "sha256:<hex>" or bare
// lowercase hex digits.
bool looks_like_id(const std::string& text);

}  // namespace isolab::image
