#pragma once
// `isolab build`: builds an image from a Dockerfile and a context folder. RUN steps run as
// containers of isolab's own runtime without network, and their overlayfs upper dirs
// become layers. COPY and ADD write layers straight from the context or an earlier stage.
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/image/archive_io.hpp"
#include "runtime/image/store.hpp"

namespace isolab::build {

// Receives each progress line, without the newline. Called on the building thread and,
// for the output of RUN steps, on the reader thread of the step's container.
using ProgressHandler = std::function<void(const std::string& line)>;

struct BuildOptions {
    std::filesystem::path context;
    std::filesystem::path dockerfile;            // empty: CONTEXT/Dockerfile
    std::vector<std::string> tags;               // NAME[:TAG]; empty: isolab-build:<12 hex digits of the id>
    std::map<std::string, std::string> build_args;
    std::string target;                          // stage name; empty: the last stage
    bool no_cache = false;
    // Compression of the layers the build writes. Layers of the FROM image keep theirs.
    image::Compression compression = image::Compression::gzip;
    // Seconds since the epoch given to every file in the new layers and to the image's
    // timestamps. Unset, files get 0 (1970-01-01) and timestamps the current time.
    std::optional<std::time_t> source_date_epoch;
    ProgressHandler progress;
};

struct BuildResult {
    image::Image image;
    std::vector<std::string> tags;
    size_t steps = 0;
    size_t cached_steps = 0;
};

// Builds the image and tags it. Throws Error naming the Dockerfile line for an invalid
// instruction or a failed step. A failed build leaves no image, tag, container or mount,
// but the layers of the steps that finished stay in the store as cache.
BuildResult build_image(image::Store& store, const BuildOptions& options);

// Reads SOURCE_DATE_EPOCH from the environment. Throws Error when it is set but is not a
// number of seconds.
std::optional<std::time_t> source_date_epoch_from_environment();

}  // namespace isolab::build
