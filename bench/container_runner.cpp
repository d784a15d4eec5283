// The isolab container path: container::run with the workload's command, measured from
// the start request to the readiness line.
#include "bench/runner.hpp"
#include "runtime/container/run.hpp"
#include "runtime/core/log.hpp"

namespace isolab::bench {

namespace {

PathDescription container_description() {
    PathDescription description;
    description.name = "container";
    description.role = "isolab";
    description.runtime = std::string("isolab ") + ISOLAB_VERSION;
    description.started_means =
        "isolab created namespaces, an overlayfs rootfs and a cgroup, then exec'd the workload on the host's "
        "own kernel; no kernel boots";
    description.definitions = {
        {figure::memory_peak, "peak usage of the container's memory cgroup (v1 memory.max_usage_in_bytes, "
                              "v2 memory.peak), page cache charged to it included"},
        {figure::disk, "the image as stored plus the bytes allocated in the container's upper dir at exit"},
    };
    return description;
}

class ContainerRunner final : public Runner {
public:
    ContainerRunner(image::Store& store, RunnerSettings settings)
        : store_(store), settings_(std::move(settings)), description_(container_description()) {}

    const PathDescription& description() const override { return description_; }

    RunSample run(const Workload& workload) override {
        ReadinessWatcher watcher(workload);
        container::RunOptions options;
        options.image = workload.image;
        options.command = workload.command;
        options.remove = true;
        options.memory_limit = settings_.memory_bytes;
        options.on_output_line = [&watcher](std::string_view line, bool, Clock::time_point when) {
            watcher.on_line(line, when);
        };

        auto start = Clock::now();
        auto result = container::run(store_, options);
        spdlog::debug("compare: container {} exited with code {}", result.id.substr(0, 12), result.exit_code);

        RunSample sample;
        sample.exit_code = result.exit_code;
        record_readiness(sample, watcher, start, description_.name);
        record_phases(sample, result.phases, start);
        sample.cgroup_version = result.cgroup_version;
        record_footprint(sample, workload, result);
        return sample;
    }

private:
    void record_footprint(RunSample& sample, const Workload& workload, const container::RunResult& result) {
        auto image_bytes = store_.stored_size(store_.resolve(workload.image));
        sample.figures[figure::memory_peak] = static_cast<double>(result.memory_peak_bytes);
        sample.figures[figure::disk_image] = static_cast<double>(image_bytes);
        sample.figures[figure::disk_upper] = static_cast<double>(result.upper_dir_bytes);
        sample.figures[figure::disk] = static_cast<double>(image_bytes + result.upper_dir_bytes);
    }

    image::Store& store_;
    RunnerSettings settings_;
    PathDescription description_;
};

}  // namespace

std::unique_ptr<Runner> make_container_runner(image::Store& store, const RunnerSettings& settings) {
    return std::make_unique<ContainerRunner>(store, settings);
}

}  // namespace isolab::bench
