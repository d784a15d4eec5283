#pragma once
// `isolab system df`: the disk space used by images, containers and volumes, as Docker
// reports it. Sizes are bytes allocated on disk (disk_usage): the unpacked layers of an
// image, the upper dir of a container and the _data folder of a volume.
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/image/store.hpp"

namespace isolab::container {

struct ImageSpace {
    std::string repository;
    std::string tag;
    std::string id;                   // "sha256:..." of the config
    std::string created;              // RFC 3339
    std::uint64_t size = 0;           // all of its unpacked layers
    std::uint64_t shared_size = 0;    // its layers that another image uses too
    int containers = 0;               // containers, running or stopped, created from it
};

struct ContainerSpace {
    std::string id;
    std::string image;
    std::string name;
    std::string created;
    std::string status;               // as `ps` shows it: "Up", "Exited (N)", ...
    bool running = false;
    int local_volumes = 0;            // volume mounts
    std::uint64_t size = 0;           // its upper dir
};

struct VolumeSpace {
    std::string name;
    int links = 0;                    // containers that mount it
    std::uint64_t size = 0;
};

struct SpaceReport {
    std::vector<ImageSpace> images;   // one entry per tag
    std::uint64_t images_size = 0;         // every layer of every image, each counted once
    std::uint64_t images_reclaimable = 0;  // layers of images no container uses
    std::vector<ContainerSpace> containers;
    std::vector<VolumeSpace> volumes;
};

// Measures every image, container and volume under the store's state root. Unpacks
// layers that are not unpacked yet, as `isolab images` does.
SpaceReport measure_disk_space(image::Store& store);

// The summary table (TYPE, TOTAL, ACTIVE, SIZE, RECLAIMABLE), or with `verbose` one table
// per kind, as `docker system df [-v]` prints them. An image's UNIQUE SIZE is its size
// minus its shared size.
std::string format_disk_space(const SpaceReport& report, bool verbose);

}  // namespace isolab::container
