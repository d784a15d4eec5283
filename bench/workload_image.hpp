#pragma once
// Building a workload's image: FROM the built-in busybox image, with the workload's files
// copied in. The files and their times are fixed, so a rebuild hits the build cache and
// the image id stays the same from run to run.
#include "bench/workload.hpp"
#include "runtime/image/store.hpp"

namespace isolab::bench {

// Makes sure `workload.image` exists: creates busybox when the workload uses it, builds
// and tags the image when the workload lists image files. Throws Error when the build
// fails.
void ensure_workload_image(image::Store& store, const Workload& workload);

// The Dockerfile that builds the image of `workload` from the context folder, whose
// rootfs/ folder holds the image files.
std::string workload_dockerfile(const Workload& workload);

}  // namespace isolab::bench
