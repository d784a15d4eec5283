#pragma once
// `isolab image bootstrap debian:SUITE`: creates a Debian base image without a registry.
// debootstrap --variant=minbase installs the suite from a Debian mirror into a temporary
// folder, and the folder becomes a one-layer image. The downloaded packages are kept as
// a debootstrap tarball under <cache>/debootstrap, so a second bootstrap of the same
// suite, mirror and architecture downloads nothing.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "runtime/image/store.hpp"

namespace isolab::image {

struct BootstrapOptions {
    std::string reference;  // "debian:SUITE", e.g. "debian:bookworm"
    std::string mirror;     // empty: the host's apt source for SUITE
    bool refresh = false;   // download the packages again instead of using the cache
    std::function<void(const std::string& line)> progress;  // receives each progress line
};

// Runs debootstrap and stores the image under the reference. Throws Error when the
// reference is not debian:SUITE, debootstrap is missing or fails, or no mirror is known.
// A failure leaves no image, temporary folder or mount behind.
Image bootstrap_debian(Store& store, const BootstrapOptions& options);

// The suite of a reference `isolab image bootstrap` can create ("debian:bookworm" gives
// "bookworm"), or nothing for any other reference.
std::optional<std::string> bootstrap_suite(const std::string& reference);

// The hint of a "not found" error for a missing image that `isolab image bootstrap` can
// create, or nothing for any other reference.
std::optional<std::string> bootstrap_hint(const std::string& reference);

// The URI of the first `deb` source for `suite` in the apt configuration under `apt_dir`
// (/etc/apt): sources.list first, then sources.list.d/*.list and *.sources in name order,
// as apt reads them. Both the one-line and the deb822 format are read.
std::optional<std::string> find_apt_mirror(const std::filesystem::path& apt_dir, const std::string& suite);

}  // namespace isolab::image
