// Benchmarks of image work, linked into isolab-micro. They time `isolab build` of one
// Dockerfile (first build, all steps cached, --no-cache) and the same builds by podman
// with a private storage. They also time unpacking the busybox layer as gzip and as zstd,
// and `system df` on a store with N images. All of them need root and skip themselves
// otherwise; the podman ones also skip when podman or runc is missing.
#include <benchmark/benchmark.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "runtime/build/builder.hpp"
#include "runtime/container/run.hpp"
#include "runtime/container/system_df.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/paths.hpp"
#include "runtime/core/process.hpp"
#include "runtime/image/archive_io.hpp"
#include "runtime/image/layer_unpack.hpp"
#include "runtime/image/layout.hpp"
#include "runtime/image/manifest.hpp"
#include "runtime/image/store.hpp"

namespace isolab::micro {
namespace {

namespace fs = std::filesystem;

// The Dockerfile every build benchmark builds: two RUN steps (the second deletes a file
// of the first, so its layer has a whiteout), a COPY and config-only steps.
constexpr const char* build_dockerfile =
    "FROM busybox\n"
    "RUN mkdir -p /data && echo one > /data/keep && echo deleted > /data/gone\n"
    "COPY note /data/note\n"
    "RUN rm /data/gone && echo two >> /data/keep\n"
    "ENV GREETING=hello\n"
    "WORKDIR /data\n"
    "CMD [\"cat\", \"keep\", \"note\"]\n";

// A state root under /tmp with busybox and the build context, removed by the destructor.
class ImageRoot {
public:
    ImageRoot() : folder_(fs::temp_directory_path(), "isolab-micro-image-") {
        paths_.root = folder_.path() / "root";
        paths_.cache = folder_.path() / "cache";
        fs::create_directories(paths_.root);
        fs::create_directories(paths_.cache);
        fs::create_directories(context());
        write_file_atomic(context() / "note", "copied\n");
        write_file_atomic(context() / "Dockerfile", build_dockerfile);
        store_.emplace(paths_);
        busybox_ = store_->ensure_busybox();
        store_->lowerdirs(busybox_);
    }

    const Paths& paths() const { return paths_; }
    fs::path context() const { return folder_.path() / "context"; }
    fs::path folder() const { return folder_.path(); }
    image::Store& store() { return *store_; }
    const image::Image& busybox() const { return busybox_; }

private:
    TemporaryDirectory folder_;
    Paths paths_;
    std::optional<image::Store> store_;
    image::Image busybox_;
};

bool skip_unless_root(benchmark::State& state) {
    if (geteuid() == 0) return false;
    state.SkipWithError("needs root");
    return true;
}

image::Compression compression_of(const benchmark::State& state) {
    return state.range(0) == 1 ? image::Compression::zstd : image::Compression::gzip;
}

build::BuildResult build_once(ImageRoot& root, bool no_cache, image::Compression compression) {
    build::BuildOptions options;
    options.context = root.context();
    options.tags = {"micro:latest"};
    options.no_cache = no_cache;
    options.compression = compression;
    options.source_date_epoch = 0;
    options.progress = [](const std::string&) {};
    return build::build_image(root.store(), options);
}

// A first build: a fresh state root per iteration, with busybox already unpacked.
void BuildFirst(benchmark::State& state) {
    if (skip_unless_root(state)) return;
    for (auto _ : state) {
        state.PauseTiming();
        auto root = std::make_unique<ImageRoot>();
        state.ResumeTiming();
        auto result = build_once(*root, false, compression_of(state));
        state.PauseTiming();
        if (result.cached_steps > 1) state.SkipWithError("a first build hit the cache");
        root.reset();
        state.ResumeTiming();
    }
    state.SetLabel(compression_of(state) == image::Compression::zstd ? "zstd" : "gzip");
}
BENCHMARK(BuildFirst)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(5);

// The steps of build_dockerfile that the cache can serve: FROM, both RUN, COPY and
// WORKDIR. ENV and CMD only change the config and are never reported as cached.
constexpr size_t cacheable_steps = 5;

// A build whose every cacheable step is in the cache.
void BuildCached(benchmark::State& state) {
    if (skip_unless_root(state)) return;
    ImageRoot root;
    build_once(root, false, image::Compression::gzip);
    for (auto _ : state) {
        auto result = build_once(root, false, image::Compression::gzip);
        if (result.cached_steps != cacheable_steps) state.SkipWithError("a step missed the cache");
    }
}
BENCHMARK(BuildCached)->Unit(benchmark::kMillisecond);

// A build with --no-cache in a root that already has the image.
void BuildNoCache(benchmark::State& state) {
    if (skip_unless_root(state)) return;
    ImageRoot root;
    build_once(root, false, compression_of(state));
    for (auto _ : state) build_once(root, true, compression_of(state));
    state.SetLabel(compression_of(state) == image::Compression::zstd ? "zstd" : "gzip");
}
BENCHMARK(BuildNoCache)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(5);

// Unpacks the busybox layer, recompressed with the compression of the argument, into an
// empty folder, with the safety checks. Arg 0 is the stored gzip blob.
void UnpackBusyboxLayerAs(benchmark::State& state) {
    if (skip_unless_root(state)) return;
    ImageRoot root;
    fs::path blob = root.store().blob_path(root.busybox().layers.front().digest);
    if (compression_of(state) == image::Compression::zstd) {
        fs::path recompressed = root.folder() / "busybox.tar.zst";
        image::DecompressingReader reader(blob);
        image::CompressingWriter writer(recompressed, image::Compression::zstd);
        std::vector<char> buffer(1 << 16);
        size_t count;
        while ((count = reader.read(buffer.data(), buffer.size())) > 0) writer.write(buffer.data(), count);
        writer.finish();
        blob = recompressed;
    }
    fs::path destination = root.folder() / "unpack";
    for (auto _ : state) {
        state.PauseTiming();
        fs::remove_all(destination);
        fs::create_directories(destination);
        state.ResumeTiming();
        benchmark::DoNotOptimize(image::unpack_layer(blob, destination));
    }
    state.SetLabel((compression_of(state) == image::Compression::zstd ? "zstd, " : "gzip, ") +
                   std::to_string(fs::file_size(blob)) + " bytes");
}
BENCHMARK(UnpackBusyboxLayerAs)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// `system df` on a store with N images. Each image has its own config (a label) and
// shares the busybox layer, as images of one base do.
void SystemDf(benchmark::State& state) {
    if (skip_unless_root(state)) return;
    ImageRoot root;
    const auto count = state.range(0);
    for (std::int64_t i = 1; i < count; ++i) {
        image::RunConfig config = root.busybox().config;
        config.labels["index"] = std::to_string(i);
        std::string created = image::format_rfc3339(0);
        std::vector<image::HistoryEntry> history{{created, "micro image " + std::to_string(i), {}, true}};
        root.store().add_image("micro/image:" + std::to_string(i),
                               image::make_image_config(config, created, history, root.busybox().layers),
                               root.busybox().layers);
    }
    for (auto _ : state) {
        auto report = container::measure_disk_space(root.store());
        if (report.images.size() != static_cast<size_t>(count)) state.SkipWithError("wrong number of images");
        benchmark::DoNotOptimize(container::format_disk_space(report, true));
    }
}
BENCHMARK(SystemDf)->Arg(1)->Arg(10)->Arg(100)->Unit(benchmark::kMillisecond);

// `system df` of N stopped containers of one image, each of which wrote 64 KiB into its
// rootfs. The counters show what the disk holds: the image's layers once, however many
// containers use them, and each container's own upper dir.
void SystemDfContainers(benchmark::State& state) {
    if (skip_unless_root(state)) return;
    ImageRoot root;
    const auto count = state.range(0);
    for (std::int64_t i = 0; i < count; ++i) {
        container::RunOptions options;
        options.image = "busybox";
        options.command = {"sh", "-c", "head -c 65536 /dev/zero > /written"};
        options.on_output_line = [](std::string_view, bool, Clock::time_point) {};
        if (container::run(root.store(), options).exit_code != 0) {
            state.SkipWithError("a container failed");
            return;
        }
    }
    container::SpaceReport report;
    for (auto _ : state) {
        report = container::measure_disk_space(root.store());
        benchmark::DoNotOptimize(container::format_disk_space(report, true));
    }
    std::uint64_t upper_dirs = 0;
    for (const auto& space : report.containers) upper_dirs += space.size;
    state.counters["containers"] = static_cast<double>(report.containers.size());
    state.counters["image_bytes"] = static_cast<double>(report.images_size);
    state.counters["upper_dir_bytes"] = static_cast<double>(upper_dirs);
    state.counters["total_bytes"] = static_cast<double>(report.images_size + upper_dirs);
}
BENCHMARK(SystemDfContainers)->Arg(1)->Arg(10)->Unit(benchmark::kMillisecond)->Iterations(3);

// podman with its own overlay storage in a temporary folder, its images removed and its
// run root unmounted by the destructor, so the host's podman storage is never touched.
class PodmanStorage {
public:
    // podman rejects a run root path longer than 50 characters, so it gets its own short
    // folder under /tmp.
    explicit PodmanStorage(const fs::path& parent) : folder_(parent, "podman-"), runroot_("/tmp", "isolab-podman-") {}
    ~PodmanStorage() {
        run_command(podman({"rmi", "--all", "--force"}));
        // Detach whatever mount podman's overlay driver left on its home or the run root.
        for (const auto& folder : {folder_.path() / "root/overlay", runroot_.path()}) umount2(folder.c_str(), MNT_DETACH);
    }
    PodmanStorage(const PodmanStorage&) = delete;
    PodmanStorage& operator=(const PodmanStorage&) = delete;

    std::vector<std::string> podman(std::vector<std::string> arguments) const {
        std::vector<std::string> argv{"podman",
                                      "--root=" + (folder_.path() / "root").string(),
                                      "--runroot=" + runroot_.path().string(),
                                      "--tmpdir=" + (folder_.path() / "tmp").string(),
                                      "--storage-driver=overlay",
                                      "--cgroup-manager=cgroupfs",
                                      "--events-backend=file"};
        argv.insert(argv.end(), arguments.begin(), arguments.end());
        return argv;
    }

private:
    TemporaryDirectory folder_;
    TemporaryDirectory runroot_;
};

// `podman build` arguments for this host: runc, because crun 1.8 rejects hybrid cgroups,
// no network, and ulimits at or below the hard limits (see the podman interop test).
std::vector<std::string> podman_build(const fs::path& context, bool no_cache) {
    rlimit files{};
    getrlimit(RLIMIT_NOFILE, &files);
    std::string nofile = std::to_string(files.rlim_max == RLIM_INFINITY ? 1048576 : files.rlim_max);
    std::vector<std::string> arguments{"build", "--runtime", "runc", "--network", "none", "--ulimit",
                                       "nofile=" + nofile + ":" + nofile, "--ulimit", "nproc=4096:4096",
                                       "-t", "micro:latest", "-q"};
    if (no_cache) arguments.push_back("--no-cache");
    arguments.push_back(context.string());
    return arguments;
}

// Loads isolab's busybox into the podman storage as localhost/busybox:latest and points
// the context's Dockerfile at it.
void prepare_podman(ImageRoot& root, const PodmanStorage& podman) {
    fs::path archive = root.folder() / "busybox.tar";
    run_checked({(executable_directory() / "isolab").string(), "save", "-o", archive.string(), "busybox"},
                {.extra_environment = {"ISOLAB_ROOT=" + root.paths().root.string(), "ISOLAB_CACHE=" + root.paths().cache.string()}});
    run_checked(podman.podman({"load", "-i", archive.string()}));
    std::string dockerfile = build_dockerfile;
    dockerfile.replace(0, std::string("FROM busybox").size(), "FROM localhost/busybox:latest");
    write_file_atomic(root.context() / "Dockerfile", dockerfile);
}

bool skip_unless_podman(benchmark::State& state) {
    if (skip_unless_root(state)) return true;
    if (program_available("podman") && program_available("runc")) return false;
    state.SkipWithError("needs podman and runc");
    return true;
}

// Arg 0: first build (a fresh podman storage per iteration), 1: every step cached,
// 2: --no-cache.
void PodmanBuild(benchmark::State& state) {
    if (skip_unless_podman(state)) return;
    const auto mode = state.range(0);
    const char* labels[] = {"first", "cached", "--no-cache"};
    state.SetLabel(labels[mode]);
    ImageRoot root;
    // An Error must not leave the benchmark, or the temporary folders stay behind.
    try {
        auto storage = std::make_unique<PodmanStorage>(root.folder());
        prepare_podman(root, *storage);
        if (mode != 0) run_checked(storage->podman(podman_build(root.context(), false)));
        for (auto _ : state) {
            if (mode == 0) {
                state.PauseTiming();
                storage.reset();
                storage = std::make_unique<PodmanStorage>(root.folder());
                prepare_podman(root, *storage);
                state.ResumeTiming();
            }
            auto result = run_command(storage->podman(podman_build(root.context(), mode == 2)));
            if (result.exit_code != 0) {
                state.SkipWithError(("podman build failed: " + result.output).c_str());
                break;
            }
        }
    } catch (const Error& error) {
        state.SkipWithError(error.what());
    }
}
BENCHMARK(PodmanBuild)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace isolab::micro
