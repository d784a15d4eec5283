// The isolab container path: container::run with the workload's command, measured from
// the start request to the readiness rule (an output line, or a published port answering).
#include <algorithm>
#include <future>

#include "bench/container_instance.hpp"
#include "bench/runner.hpp"
#include "runtime/core/error.hpp"

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
        {figure::memory_working_set,
         "largest usage of the container's memory cgroup less its inactive file cache (v1 memory.usage_in_bytes "
         "less total_inactive_file, v2 memory.current less inactive_file), sampled every 50 ms from readiness "
         "until the workload stopped"},
        {figure::memory_pss, "largest sum of /proc/PID/smaps_rollup Pss over the processes of the container's "
                             "cgroup, sampled with the working set"},
        {figure::io_rootfs_write, "dd write with conv=fsync into the container's overlayfs rootfs (the upper dir "
                                  "on the host's disk)"},
        {figure::io_volume_write, "dd write with conv=fsync into an anonymous volume (a folder on the host's "
                                  "disk, bind-mounted), removed with the container"},
    };
    return description;
}

class ContainerRunner final : public Runner {
public:
    ContainerRunner(image::Store& store, RunnerSettings settings)
        : store_(store), settings_(std::move(settings)), description_(container_description()) {}

    const PathDescription& description() const override { return description_; }

    std::optional<std::string> unsupported_reason(const Workload&) override { return std::nullopt; }

    RunSample run(const Workload& workload) override {
        auto instance = run_container_instance(store_, settings_, workload, nullptr);
        auto image_bytes = store_.stored_size(store_.resolve(workload.image));
        auto& sample = instance.sample;
        sample.figures[figure::memory_peak] = static_cast<double>(instance.memory_peak_bytes);
        sample.figures[figure::disk_image] = static_cast<double>(image_bytes);
        sample.figures[figure::disk_upper] = static_cast<double>(instance.upper_dir_bytes);
        sample.figures[figure::disk] = static_cast<double>(image_bytes + instance.upper_dir_bytes);
        return sample;
    }

    // Each instance is started by container::run on its own thread. A container's first
    // process closes what it inherited from the other threads right after clone (see
    // LaunchPlan::inherited_fds), so the starts cannot wait on each other.
    ScalePoint run_together(const Workload& workload, int count) override {
        ReadyGate gate(count);
        std::vector<std::future<ContainerInstance>> futures;
        auto start = Clock::now();
        for (int i = 0; i < count; ++i) {
            futures.push_back(std::async(std::launch::async, [this, &workload, &gate] {
                return run_container_instance(store_, settings_, workload, &gate);
            }));
        }

        ScalePoint point;
        point.instances = count;
        double all_ready_ms = 0;
        double memory_total = 0;
        double disk_total = static_cast<double>(store_.stored_size(store_.resolve(workload.image)));
        std::string failure;
        for (auto& future : futures) {
            try {
                auto instance = future.get();
                all_ready_ms = std::max(all_ready_ms, milliseconds_between(start, *instance.ready_at));
                memory_total += static_cast<double>(instance.memory_peak_bytes);
                disk_total += static_cast<double>(instance.upper_dir_bytes);
            } catch (const Error& error) {
                if (failure.empty()) failure = error.what();
            }
        }
        if (!failure.empty()) {
            point.available = false;
            point.missing_reason = "an instance failed: " + failure;
            return point;
        }
        point.figures[scale_figure::all_ready] = all_ready_ms;
        point.figures[scale_figure::memory_total] = memory_total;
        point.figures[scale_figure::disk_total] = disk_total;
        return point;
    }

    std::map<std::string, std::string> scale_definitions() const override {
        return {
            {scale_figure::all_ready, "start request of the first of N containers, started on N threads at "
                                      "once, until the last met the readiness rule"},
            {scale_figure::memory_total, "sum of the N containers' memory cgroup peaks"},
            {scale_figure::disk_total, "the image as stored, once, plus each container's upper dir at exit"},
        };
    }

private:
    image::Store& store_;
    RunnerSettings settings_;
    PathDescription description_;
};

}  // namespace

std::unique_ptr<Runner> make_container_runner(image::Store& store, const RunnerSettings& settings) {
    return std::make_unique<ContainerRunner>(store, settings);
}

}  // namespace isolab::bench
