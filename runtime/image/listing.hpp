#pragma once
// What `isolab images`, `image inspect` and `history` print: Docker's columns and JSON
// shapes, computed from the store. Sizes are the bytes the unpacked layers take on disk,
// so the listing unpacks layers that are not unpacked yet.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/image/store.hpp"

namespace isolab::image {

// The `isolab images` table (REPOSITORY TAG IMAGE ID CREATED SIZE), newest first, or one
// short id per line when `quiet` is set. Creates busybox:latest first when missing.
std::string images_table(Store& store, bool quiet);

// The same listing as a JSON array of objects with the keys Repository, Tag, Id,
// Created, Size (unpacked bytes) and StoredSize (blob bytes).
nlohmann::json images_json(Store& store);

// A Docker-style inspect document (a one-element array) for an image reference or id.
nlohmann::json inspect_json(Store& store, const std::string& reference);

// The `isolab history` table (IMAGE CREATED CREATED BY SIZE COMMENT), newest step first.
std::string history_table(Store& store, const std::string& reference);

// Formats rows as left-aligned columns two spaces apart, Docker's table layout.
std::string format_table(const std::vector<std::vector<std::string>>& rows);

// "3 hours ago", "2 years ago", as Docker prints ages; "unknown" for an unreadable time.
std::string age_of(const std::string& rfc3339);

}  // namespace isolab::image
