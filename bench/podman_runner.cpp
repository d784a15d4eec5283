// podman running the same image, exported with `isolab save` and loaded into a podman
// storage of its own under a temporary folder, so the host's podman storage is never
// touched.
#include <sys/mount.h>

#include <fmt/format.h>

#include "bench/host_info.hpp"
#include "bench/line_process.hpp"
#include "bench/reference_support.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/log.hpp"
#include "runtime/core/process.hpp"

namespace isolab::bench {

namespace fs = std::filesystem;

namespace {

PathDescription podman_description() {
    PathDescription description;
    description.name = "podman";
    description.role = "reference";
    description.counterpart = "container";
    description.runtime = program_version("podman");
    description.started_means =
        "podman prepared the container from its own storage (overlay), conmon and the OCI runtime created "
        "namespaces and a cgroup, and the workload was exec'd on the host's kernel";
    description.definitions = {
        {figure::memory_peak, "peak usage of the parent memory cgroup given with --cgroup-parent, which contains "
                              "the container's cgroup and may contain conmon's"},
        {figure::disk, "bytes allocated in podman's storage root after the run (the loaded image and any "
                       "container layer left)"},
    };
    return description;
}

// podman's storage: --root under a temporary folder of the state root and --runroot
// under /run, because podman rejects a runroot longer than 50 characters. The
// destructor removes the loaded image and both folders.
class PodmanStorage {
public:
    explicit PodmanStorage(const fs::path& parent)
        : folder_(parent, "isolab-bench-podman-"), runroot_folder_("/run", "isolab-bench-") {}

    ~PodmanStorage() {
        try {
            run_command(with_global_options({"rmi", "--all", "--force"}), {.timeout = std::chrono::seconds(60)});
        } catch (const Error& error) {
            spdlog::warn("cannot remove the images of {}: {}", root().string(), error.what());
        }
        // The overlay driver bind-mounts its own folder; it must go before the removal.
        umount2((root() / "overlay").c_str(), MNT_DETACH);
        umount2(runroot().c_str(), MNT_DETACH);
    }

    fs::path root() const { return folder_.path() / "root"; }
    fs::path runroot() const { return runroot_folder_.path(); }
    const fs::path& folder() const { return folder_.path(); }

    std::vector<std::string> with_global_options(std::vector<std::string> arguments) const {
        std::vector<std::string> argv = {"podman",           "--root",          root().string(),
                                         "--runroot",        runroot().string(), "--cgroup-manager=cgroupfs",
                                         "--events-backend=file", "--storage-driver=overlay"};
        argv.insert(argv.end(), arguments.begin(), arguments.end());
        return argv;
    }

private:
    TemporaryDirectory folder_;
    TemporaryDirectory runroot_folder_;
};

// Parses "Loaded image: NAME" (podman 4) or "Loaded image(s): NAME" out of podman load.
std::string loaded_image_name(const std::string& output) {
    for (const std::string marker : {"Loaded image(s): ", "Loaded image: "}) {
        auto at = output.find(marker);
        if (at == std::string::npos) continue;
        auto name = output.substr(at + marker.size());
        return name.substr(0, name.find_first_of(",\n"));
    }
    throw Error("podman load printed no image name: " + output);
}

class PodmanRunner final : public Runner {
public:
    PodmanRunner(image::Store& store, RunnerSettings settings)
        : store_(store), settings_(std::move(settings)), description_(podman_description()),
          wrapper_(hybrid_cgroup_wrapper(kernel::detect_cgroups())) {
        if (!wrapper_.empty()) description_.started_means += "; " + hybrid_cgroup_note(wrapper_);
    }

    const PathDescription& description() const override { return description_; }

    std::optional<std::string> unavailable_reason() override {
        if (!program_available("podman")) return "podman is not installed (apt-get install podman)";
        auto help = run_command({(executable_directory() / "isolab").string(), "save", "--help"});
        if (help.exit_code != 0) {
            return "isolab save is not available, so the image cannot be loaded into podman";
        }
        return std::nullopt;
    }

    RunSample run(const Workload& workload) override {
        if (!storage_) load_image(workload);

        ParentCgroup cgroup;
        ReadinessWatcher watcher(workload);
        std::vector<std::string> arguments = {"run", "--rm", "--network=none", "--cgroup-parent=" + cgroup.path(),
                                              "--memory=" + std::to_string(settings_.memory_bytes)};
        for (auto& argument : podman_ulimit_arguments()) arguments.push_back(argument);
        arguments.push_back(image_name_);
        arguments.insert(arguments.end(), workload.command.begin(), workload.command.end());

        auto start = Clock::now();
        RunSample sample;
        auto argv = wrapper_;
        for (auto& argument : storage_->with_global_options(arguments)) argv.push_back(std::move(argument));
        sample.exit_code = run_streaming(argv,
                                         [&](std::string_view line, Clock::time_point when) {
                                             spdlog::debug("podman: {}", line);
                                             watcher.on_line(line, when);
                                         });
        sample.phases.push_back({"exit", milliseconds_between(start, Clock::now()), "host"});

        record_readiness(sample, watcher, start, "podman");
        sample.cgroup_version = cgroup.version();
        sample.figures[figure::memory_peak] = static_cast<double>(cgroup.memory_peak());
        sample.figures[figure::disk] = static_cast<double>(disk_usage(storage_->root()));
        return sample;
    }

private:
    void load_image(const Workload& workload) {
        auto storage = std::make_unique<PodmanStorage>(store_.paths().tmp());
        auto archive = storage->folder() / "image.tar";
        run_checked({(executable_directory() / "isolab").string(), "save", workload.image, "-o", archive.string()},
                    {.extra_environment = {"ISOLAB_ROOT=" + store_.paths().root.string(),
                                           "ISOLAB_CACHE=" + store_.paths().cache.string()}});
        auto output = run_checked(storage->with_global_options({"load", "--input", archive.string()}));
        image_name_ = loaded_image_name(output);
        spdlog::debug("compare: podman loaded {}", image_name_);
        storage_ = std::move(storage);
    }

    image::Store& store_;
    RunnerSettings settings_;
    PathDescription description_;
    std::vector<std::string> wrapper_;  // see hybrid_cgroup_wrapper
    std::unique_ptr<PodmanStorage> storage_;
    std::string image_name_;
};

}  // namespace

std::unique_ptr<Runner> make_podman_runner(image::Store& store, const RunnerSettings& settings) {
    return std::make_unique<PodmanRunner>(store, settings);
}

}  // namespace isolab::bench
