// isolab-micro: Google Benchmark programs for the steps a container or VM start is built
// from, so a change in one step shows up without booting anything. Run it through
// `scripts/bench micro`. Benchmarks that need root (unpacking with ownership, starting a
// container) skip themselves otherwise.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "runtime/build/dockerfile.hpp"
#include "runtime/container/run.hpp"
#include "runtime/container/setup.hpp"
#include "runtime/core/digest.hpp"
#include "runtime/core/error.hpp"
#include "runtime/image/layer_unpack.hpp"
#include "runtime/image/store.hpp"
#include "vmdriver/guest/initramfs.hpp"
#include "vmdriver/libvirt/domain_xml.hpp"

namespace isolab::micro {
namespace {

namespace fs = std::filesystem;

// A private state root and cache under /tmp with the busybox image, removed at exit.
class MicroRoot {
public:
    MicroRoot() {
        std::string pattern = (fs::temp_directory_path() / "isolab-micro-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) throw Error("failed to create a temporary folder " + pattern + ": " + std::strerror(errno));
        paths_.root = fs::path(pattern) / "root";
        paths_.cache = fs::path(pattern) / "cache";
        fs::create_directories(paths_.root);
        fs::create_directories(paths_.cache);
        store_.emplace(paths_);
        busybox_ = store_->ensure_busybox();
    }
    ~MicroRoot() {
        store_.reset();
        std::error_code error;
        fs::remove_all(paths_.root.parent_path(), error);
    }
    MicroRoot(const MicroRoot&) = delete;
    MicroRoot& operator=(const MicroRoot&) = delete;

    const Paths& paths() const { return paths_; }
    image::Store& store() { return *store_; }
    const image::Image& busybox() const { return busybox_; }

private:
    Paths paths_;
    std::optional<image::Store> store_;
    image::Image busybox_;
};

MicroRoot& micro_root() {
    static MicroRoot root;
    return root;
}

bool skip_unless_root(benchmark::State& state) {
    if (geteuid() == 0) return false;
    state.SkipWithError("needs root");
    return true;
}

void Sha256Of16MiB(benchmark::State& state) {
    std::string data(16 << 20, 'x');
    for (auto _ : state) benchmark::DoNotOptimize(sha256_digest(data));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(data.size()));
}
BENCHMARK(Sha256Of16MiB)->Unit(benchmark::kMillisecond);

void UnpackBusyboxLayer(benchmark::State& state) {
    if (skip_unless_root(state)) return;
    auto& root = micro_root();
    auto blob = root.store().blob_path(root.busybox().layers.front().digest);
    auto destination = root.paths().tmp() / "unpack";
    for (auto _ : state) {
        state.PauseTiming();
        fs::remove_all(destination);
        fs::create_directories(destination);
        state.ResumeTiming();
        benchmark::DoNotOptimize(image::unpack_layer(blob, destination));
    }
    fs::remove_all(destination);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(fs::file_size(blob)));
}
BENCHMARK(UnpackBusyboxLayer)->Unit(benchmark::kMillisecond);

void PackBusyboxInitramfs(benchmark::State& state) {
    if (skip_unless_root(state)) return;
    auto& root = micro_root();
    auto lowerdirs = root.store().lowerdirs(root.busybox());
    for (auto _ : state) {
        // ensure_image_initramfs reuses a cached archive, so each iteration starts without one.
        state.PauseTiming();
        fs::remove_all(root.paths().cache / "initramfs");
        state.ResumeTiming();
        auto packed = vm::guest::ensure_image_initramfs(root.paths(), root.busybox().config_digest, lowerdirs);
        benchmark::DoNotOptimize(packed.bytes);
    }
}
BENCHMARK(PackBusyboxInitramfs)->Unit(benchmark::kMillisecond);

void BuildDomainXml(benchmark::State& state) {
    vm::libvirt::DomainSpec spec;
    spec.name = "isolab-micro";
    spec.kernel = "/var/cache/isolab/kernels/vmlinuz";
    spec.initrd = "/tmp/isolab-micro/initramfs.cpio";
    spec.cmdline = "console=ttyS0 quiet panic=-1";
    spec.memory_statistics = true;
    for (auto _ : state) benchmark::DoNotOptimize(vm::libvirt::build_domain_xml(spec));
}
BENCHMARK(BuildDomainXml)->Unit(benchmark::kMicrosecond);

constexpr const char* sample_dockerfile = R"(# syntax=docker/dockerfile:1
FROM busybox AS build
ARG VERSION=1.0
ENV APP_HOME=/app \
    PATH=/app/bin:$PATH
WORKDIR $APP_HOME
COPY --chown=1000:1000 src/ ./src/
RUN mkdir -p bin && \
    echo "version $VERSION" > bin/version && \
    chmod +x bin/version
RUN <<SCRIPT
echo building
echo done
SCRIPT

FROM busybox
LABEL org.opencontainers.image.title="micro" maintainer="isolab"
COPY --from=build /app/bin /app/bin
EXPOSE 8080/tcp
USER 1000:1000
HEALTHCHECK --interval=5s CMD ["/app/bin/version"]
ENTRYPOINT ["/app/bin/version"]
CMD ["--help"]
)";

void ParseDockerfile(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(build::parse_dockerfile(sample_dockerfile, "Dockerfile"));
}
BENCHMARK(ParseDockerfile)->Unit(benchmark::kMicrosecond);

// A whole container start and exit of `true` from unpacked layers: namespaces, cgroup,
// overlay mount, pivot_root, exec and clean-up. The phases of the last run are reported
// as counters (ms since the start request).
void RunTrueContainer(benchmark::State& state) {
    if (skip_unless_root(state)) return;
    auto& root = micro_root();
    auto rootfs = container::load_image_rootfs(root.store(), "busybox");
    container::RunOptions options;
    options.image = "busybox";
    options.command = {"true"};
    options.remove = true;
    options.on_output_line = [](std::string_view, bool, Clock::time_point) {};
    container::RunResult last;
    for (auto _ : state) {
        last = container::run_image_rootfs(root.paths(), rootfs, options);
        if (last.exit_code != 0) {
            state.SkipWithError("true exited with a non-zero code");
            break;
        }
    }
    for (const auto& mark : last.phases.marks()) state.counters[mark.name + "_ms"] = mark.at_ms;
}
BENCHMARK(RunTrueContainer)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace
}  // namespace isolab::micro

BENCHMARK_MAIN();
