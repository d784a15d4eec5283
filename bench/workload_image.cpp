#include "bench/workload_image.hpp"

#include <filesystem>

#include "runtime/build/builder.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"

namespace isolab::bench {

namespace fs = std::filesystem;

std::string workload_dockerfile(const Workload& workload) {
    std::string dockerfile = "FROM busybox\nCOPY rootfs/ /\n";
    dockerfile += "LABEL org.isolab.workload=\"" + workload.name + "\"\n";
    return dockerfile;
}

void ensure_workload_image(image::Store& store, const Workload& workload) {
    if (workload.image_files.empty()) {
        if (image::normalize_reference(workload.image) == "busybox:latest") store.ensure_busybox();
        return;
    }
    store.ensure_busybox();

    fs::create_directories(store.paths().tmp());
    TemporaryDirectory context(store.paths().tmp(), "workload-");
    for (const auto& file : workload.image_files) {
        auto target = context.path() / "rootfs" / fs::path(file.path).relative_path();
        fs::create_directories(target.parent_path());
        write_file_atomic(target, file.content);
    }
    write_file_atomic(context.path() / "Dockerfile", workload_dockerfile(workload));

    build::BuildOptions options;
    options.context = context.path();
    options.tags = {workload.image};
    options.source_date_epoch = 0;
    options.progress = [](const std::string& line) { spdlog::debug("compare: build: {}", line); };
    auto result = build::build_image(store, options);
    spdlog::debug("compare: image {} has {} steps, {} from the cache", workload.image, result.steps,
                  result.cached_steps);
}

}  // namespace isolab::bench
