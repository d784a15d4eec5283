#include <gtest/gtest.h>

#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "runtime/image/store.hpp"
#include "runtime/image/transfer.hpp"
#include "support/test_support.hpp"

namespace isolab::image {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// podman with its own storage under the test folder, so the host's images stay untouched.
std::vector<std::string> podman(const fs::path& folder, std::vector<std::string> arguments) {
    std::vector<std::string> command{"podman", "--root", (folder / "podman-root").string(), "--runroot",
                                     (folder / "podman-runroot").string(), "--tmpdir", (folder / "podman-tmp").string(),
                                     "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"};
    command.insert(command.end(), arguments.begin(), arguments.end());
    return command;
}

TEST(ImageInterop, SkopeoReadsSavedArchives) {
    if (!testing::running_as_root() || !program_available("skopeo")) GTEST_SKIP() << "needs root and skopeo";
    testing::TestRoot root;
    Store store(root.paths());
    Image image = store.ensure_busybox();
    fs::path folder = root.root().parent_path();

    for (const auto& [format, transport] : {std::pair{ArchiveFormat::docker_archive, "docker-archive:"},
                                            std::pair{ArchiveFormat::oci_archive, "oci-archive:"}}) {
        fs::path archive = folder / "busybox.tar";
        save_image(store, "busybox", archive, format);
        auto inspect = json::parse(run_checked({"skopeo", "inspect", transport + archive.string()}));
        EXPECT_EQ(inspect["Architecture"], "amd64") << transport;
        ASSERT_EQ(inspect["Layers"].size(), 1u) << transport;
        fs::remove(archive);
    }
}

TEST(ImageInterop, UmociUnpacksStoreLayout) {
    if (!testing::running_as_root() || !program_available("skopeo") || !program_available("umoci")) {
        GTEST_SKIP() << "needs root, skopeo and umoci";
    }
    testing::TestRoot root;
    Store store(root.paths());
    store.ensure_busybox();
    fs::path folder = root.root().parent_path();

    // skopeo's oci: transport finds the image by its ref.name annotation in index.json.
    run_checked({"skopeo", "copy", "oci:" + root.paths().images().string() + ":busybox:latest",
                 "oci:" + (folder / "copy").string() + ":latest"});
    run_checked({"umoci", "unpack", "--image", (folder / "copy").string() + ":latest", (folder / "bundle").string()});
    EXPECT_EQ(read_file(folder / "bundle/rootfs/bin/busybox"), read_file("/bin/busybox"));
    EXPECT_EQ(fs::read_symlink(folder / "bundle/rootfs/bin/sh"), "busybox");
}

TEST(ImageInterop, PodmanRoundTrip) {
    if (!testing::running_as_root() || !program_available("podman")) GTEST_SKIP() << "needs root and podman";
    testing::TestRoot root;
    Store store(root.paths());
    Image original = store.ensure_busybox();
    fs::path folder = root.root().parent_path();

    for (const auto& [format, name] : {std::pair{ArchiveFormat::docker_archive, "docker-archive"},
                                       std::pair{ArchiveFormat::oci_archive, "oci-archive"}}) {
        fs::path saved = folder / ("isolab-" + std::string(name) + ".tar");
        save_image(store, "busybox", saved, format);
        run_checked(podman(folder, {"load", "-i", saved.string()}));
        auto podman_id = run_checked(podman(folder, {"image", "inspect", "--format", "{{.Id}}", "localhost/busybox:latest"}));
        EXPECT_EQ(podman_id.substr(0, 64), original.id()) << name;

        fs::path exported = folder / ("podman-" + std::string(name) + ".tar");
        run_checked(podman(folder, {"save", "--format", name, "-o", exported.string(), "localhost/busybox:latest"}));
        testing::TestRoot target_root;
        Store target(target_root.paths());
        auto loaded = load_images(target, exported);
        ASSERT_EQ(loaded, std::vector<std::string>{"localhost/busybox:latest"}) << name;
        Image copy = target.resolve("localhost/busybox:latest");
        EXPECT_EQ(copy.config_digest, original.config_digest) << name;
        EXPECT_EQ(read_file(target.lowerdirs(copy)[0] / "bin/busybox"), read_file("/bin/busybox")) << name;
        run_checked(podman(folder, {"rmi", "-f", "localhost/busybox:latest"}));
    }
}

// `podman run` arguments that work on a host with hybrid cgroups and low hard limits.
// Without --ulimit, crun failed with EPERM setting RLIMIT_NOFILE on such a host, so the
// container gets limits at or below the hard ones. crun 1.8.1 rejects hybrid cgroups
// ("cgroups in hybrid mode not supported"), so runc runs the container.
std::vector<std::string> podman_run(const std::string& image) {
    rlimit files{}, processes{};
    getrlimit(RLIMIT_NOFILE, &files);
    getrlimit(RLIMIT_NPROC, &processes);
    // NOTE: on the development host runc got EPERM for any nproc above about 32768 even
    // though the hard limit was 96367, so the limit is capped at 4096, far above what the
    // image's command needs.
    std::string nofile = std::to_string(files.rlim_max == RLIM_INFINITY ? 1048576 : files.rlim_max);
    std::string nproc = std::to_string(std::min<rlim_t>(processes.rlim_max, 4096));
    return {"run", "--rm", "--runtime", "runc", "--network", "none", "--ulimit", "nofile=" + nofile + ":" + nofile,
            "--ulimit", "nproc=" + nproc + ":" + nproc, image};
}

TEST(ImageInterop, PodmanRunsIsolabBuiltImage) {
    if (!testing::running_as_root() || !program_available("podman") || !program_available("runc")) {
        GTEST_SKIP() << "needs root, podman and runc";
    }
    testing::TestRoot root;
    fs::path folder = root.root().parent_path();
    fs::path context = folder / "context";
    fs::create_directories(context);
    write_file_atomic(context / "note", "copied note\n");
    // `gone` exists in the first RUN layer and is deleted by the second, so only the
    // second layer's whiteout hides it.
    write_file_atomic(context / "Dockerfile",
                      "FROM busybox\n"
                      "RUN mkdir -p /data && echo one > /data/keep && echo deleted > /data/gone\n"
                      "COPY note /data/note\n"
                      "RUN rm /data/gone && echo two >> /data/keep\n"
                      "ENV GREETING=hello\n"
                      "WORKDIR /data\n"
                      "CMD [\"sh\", \"-c\", \"ls -a; cat keep note; echo $GREETING; pwd; test -e gone || echo no-gone\"]\n");
    auto built = testing::run_isolab(root.paths(), {"build", "-t", "interop/built", context.string()});
    ASSERT_EQ(built.exit_code, 0) << built.err;
    auto isolab_run = testing::run_isolab(root.paths(), {"run", "--rm", "interop/built"});
    ASSERT_EQ(isolab_run.exit_code, 0) << isolab_run.err;
    ASSERT_EQ(isolab_run.out, ".\n..\nkeep\nnote\none\ntwo\ncopied note\nhello\n/data\nno-gone\n");

    Store store(root.paths());
    Image image = store.resolve("interop/built");
    for (const auto& [format, name] : {std::pair{ArchiveFormat::docker_archive, "docker-archive"},
                                       std::pair{ArchiveFormat::oci_archive, "oci-archive"}}) {
        fs::path saved = folder / ("built-" + std::string(name) + ".tar");
        save_image(store, "interop/built", saved, format);
        run_checked(podman(folder, {"load", "-i", saved.string()}));
        auto podman_id = run_checked(podman(folder, {"image", "inspect", "--format", "{{.Id}}", "localhost/interop/built:latest"}));
        EXPECT_EQ(podman_id.substr(0, 64), image.id()) << name;

        auto podman_output = run_command(podman(folder, podman_run("localhost/interop/built:latest")));
        EXPECT_EQ(podman_output.exit_code, 0) << name << ": " << podman_output.output;
        EXPECT_EQ(podman_output.output, isolab_run.out) << name;
        run_checked(podman(folder, {"rmi", "-f", "localhost/interop/built:latest"}));
    }

    // The same image with zstd layers: oci-archive keeps them compressed as they are.
    auto zstd_built = testing::run_isolab(root.paths(), {"build", "--compression", "zstd", "-t", "interop/zstd", context.string()});
    ASSERT_EQ(zstd_built.exit_code, 0) << zstd_built.err;
    fs::path zstd_saved = folder / "zstd.tar";
    save_image(store, "interop/zstd", zstd_saved, ArchiveFormat::oci_archive);
    run_checked(podman(folder, {"load", "-i", zstd_saved.string()}));
    auto zstd_output = run_command(podman(folder, podman_run("localhost/interop/zstd:latest")));
    EXPECT_EQ(zstd_output.exit_code, 0) << zstd_output.output;
    EXPECT_EQ(zstd_output.output, isolab_run.out);
    run_checked(podman(folder, {"rmi", "-f", "localhost/interop/zstd:latest"}));
    EXPECT_EQ(read_file("/proc/self/mountinfo").find(folder.string()), std::string::npos) << "podman left a mount";
}

}  // namespace
}  // namespace isolab::image
