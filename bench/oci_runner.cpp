// crun and runc running the image's layers as an OCI bundle: an overlay mount of the
// same layers isolab's container uses and a generated config.json.
#include <fmt/format.h>

#include "bench/host_info.hpp"
#include "bench/line_process.hpp"
#include "bench/reference_support.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"
#include "runtime/core/process.hpp"

namespace isolab::bench {

namespace {

PathDescription oci_description(const std::string& program) {
    PathDescription description;
    description.name = program;
    description.role = "reference";
    description.counterpart = "container";
    description.runtime = program_version(program);
    description.started_means = program +
                                " created namespaces and a cgroup for an OCI bundle (overlay of the same image "
                                "layers, generated config.json) and exec'd the workload on the host's kernel";
    description.definitions = {
        {figure::memory_peak, "peak usage of a parent memory cgroup holding the container's cgroup (v1 "
                              "memory.max_usage_in_bytes, v2 memory.peak)"},
        {figure::disk, "the image as stored plus the bytes allocated in the bundle's overlay upper dir"},
    };
    return description;
}

class OciRunner final : public Runner {
public:
    OciRunner(std::string program, image::Store& store, RunnerSettings settings)
        : program_(std::move(program)), store_(store), settings_(std::move(settings)),
          description_(oci_description(program_)) {
        if (program_ == "crun") wrapper_ = hybrid_cgroup_wrapper(kernel::detect_cgroups());
        if (!wrapper_.empty()) description_.started_means += "; " + hybrid_cgroup_note(wrapper_);
    }

    const PathDescription& description() const override { return description_; }

    std::optional<std::string> unavailable_reason() override {
        if (!program_available(program_)) return program_ + " is not installed (apt-get install " + program_ + ")";
        return std::nullopt;
    }

    RunSample run(const Workload& workload) override {
        auto image = store_.resolve(workload.image);
        TemporaryDirectory bundle(store_.paths().tmp(), "isolab-bench-" + program_ + "-");
        OverlayRootfs overlay(store_.lowerdirs(image), bundle.path());
        ParentCgroup cgroup;
        auto id = "isolab-bench-" + random_hex_id().substr(0, 12);
        write_file_atomic(bundle.path() / "config.json",
                          oci_config(workload.command, image_environment(image), cgroup.child_path(id),
                                     settings_.memory_bytes));

        ReadinessWatcher watcher(workload);
        auto state = bundle.path() / "state";
        std::vector<std::string> argv = wrapper_;
        argv.insert(argv.end(), {program_, "--root", state.string(), "run", "--bundle", bundle.path().string(), id});
        auto start = Clock::now();
        RunSample sample;
        sample.exit_code = run_streaming(argv, [&](std::string_view line, Clock::time_point when) {
            spdlog::debug("{}: {}", program_, line);
            watcher.on_line(line, when);
        });
        sample.phases.push_back({"exit", milliseconds_between(start, Clock::now()), "host"});

        record_readiness(sample, watcher, start, program_);
        sample.cgroup_version = cgroup.version();
        auto image_bytes = store_.stored_size(image);
        auto upper_bytes = disk_usage(overlay.upperdir());
        sample.figures[figure::memory_peak] = static_cast<double>(cgroup.memory_peak());
        sample.figures[figure::disk_image] = static_cast<double>(image_bytes);
        sample.figures[figure::disk_upper] = static_cast<double>(upper_bytes);
        sample.figures[figure::disk] = static_cast<double>(image_bytes + upper_bytes);
        return sample;
    }

private:
    std::string program_;
    image::Store& store_;
    RunnerSettings settings_;
    PathDescription description_;
    std::vector<std::string> wrapper_;  // see hybrid_cgroup_wrapper
};

}  // namespace

std::unique_ptr<Runner> make_oci_runner(const std::string& program, image::Store& store,
                                        const RunnerSettings& settings) {
    return std::make_unique<OciRunner>(program, store, settings);
}

}  // namespace isolab::bench
