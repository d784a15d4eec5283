// isolab compare end to end: the real container and VM paths (and the reference tools
// that are installed), then the files it writes.
#include <gtest/gtest.h>

#include <sys/utsname.h>

#include <nlohmann/json.hpp>

#include "runtime/core/files.hpp"
#include "support/test_support.hpp"

namespace isolab::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string host_kernel() {
    utsname names{};
    uname(&names);
    return names.release;
}

const json& path_named(const json& results, const std::string& name) {
    for (const auto& path : results.at("paths")) {
        if (path.at("name") == name) return path;
    }
    throw std::runtime_error("no path " + name + " in results.json");
}

double median_of(const json& path, const std::string& figure) {
    return path.at("figures").at(figure).at("summary").at("median").get<double>();
}

TEST(CompareCli, RunsBothPathsEndToEnd) {
    if (!running_as_root()) GTEST_SKIP() << "compare needs root for namespaces, cgroups and libvirt";
    TestRoot root;
    std::system((std::string(ISOLAB_SOURCE_DIR) + "/scripts/start-libvirtd >/dev/null 2>&1").c_str());

    auto output = root.root().parent_path() / "results";
    auto result = run_isolab(root.paths(), {"compare", "--runs", "1", "--warmup", "0", "-o", output.string()});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("startup"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find((output / "results.json").string()), std::string::npos) << result.out;
    EXPECT_EQ(result.out.find("\033["), std::string::npos);  // stdout is a file: no colours

    for (const char* name : {"results.json", "report.md", "report.html", "runs.csv"}) {
        EXPECT_TRUE(fs::exists(output / name)) << name;
    }
    auto results = json::parse(read_file(output / "results.json"));
    EXPECT_EQ(results.at("schema_version"), 2);
    EXPECT_EQ(results.at("host").at("kernel"), host_kernel());

    const auto& container = path_named(results, "container");
    EXPECT_GT(median_of(container, "startup_ms"), 0);
    EXPECT_GT(median_of(container, "memory_peak_bytes"), 0);
    EXPECT_GT(median_of(container, "disk_bytes"), 0);
    EXPECT_GT(median_of(container, "disk_image_bytes"), 0);
    EXPECT_EQ(container.at("kernel"), host_kernel());

    const auto& vm = path_named(results, "vm");
    EXPECT_GT(median_of(vm, "startup_ms"), 0);
    EXPECT_GT(median_of(vm, "guest_uptime_at_ready_ms"), 0);
    EXPECT_GT(median_of(vm, "memory_peak_bytes"), 0);
    EXPECT_GT(median_of(vm, "guest_memory_bytes"), 0);
    EXPECT_GT(median_of(vm, "disk_kernel_bytes"), 0);
    EXPECT_GT(median_of(vm, "disk_initramfs_bytes"), 0);
    EXPECT_FALSE(vm.at("kernel").get<std::string>().empty());
    EXPECT_NE(vm.at("kernel"), host_kernel());
    ASSERT_TRUE(vm.at("accelerator").is_object());
    auto accelerator = vm.at("accelerator").at("used").get<std::string>();
    EXPECT_TRUE(accelerator == "kvm" || accelerator == "tcg") << accelerator;
    EXPECT_FALSE(vm.at("accelerator").at("reason").get<std::string>().empty());

    // Every reference either ran or records why it did not.
    for (const char* name : {"crun", "runc", "podman", "qemu"}) {
        const auto& reference = path_named(results, name);
        if (reference.at("available").get<bool>()) {
            EXPECT_GT(median_of(reference, "startup_ms"), 0) << name;
        } else {
            EXPECT_FALSE(reference.at("missing_reason").get<std::string>().empty()) << name;
        }
    }
}

TEST(CompareCli, JsonGoesToStdout) {
    if (!running_as_root()) GTEST_SKIP() << "compare needs root for namespaces, cgroups and libvirt";
    TestRoot root;

    auto output = root.root().parent_path() / "results";
    auto result = run_isolab(root.paths(), {"compare", "--runs", "1", "--warmup", "0", "--no-references", "--json",
                                            "-o", output.string()});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    auto printed = json::parse(result.out);
    auto written = json::parse(read_file(output / "results.json"));
    EXPECT_EQ(printed, written);
    EXPECT_EQ(printed.at("paths").size(), 2U);
}

TEST(CompareCli, InvalidOptionsGiveOneLine) {
    TestRoot root;
    for (const std::vector<std::string>& arguments :
         {std::vector<std::string>{"compare", "--runs", "0"}, {"compare", "--warmup", "-1"},
          {"compare", "--memory", "lots"}, {"compare", "--workload", "nginx"}, {"compare", "--with", "docker"},
          {"compare", "--accel", "hyperv"}}) {
        auto result = run_isolab(root.paths(), arguments);
        EXPECT_NE(result.exit_code, 0) << arguments[1];
        EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
        EXPECT_EQ(result.err.rfind("isolab: ", 0), 0U) << result.err;
    }
    EXPECT_FALSE(fs::exists(fs::current_path() / "results" / "nothing"));
}

}  // namespace
}  // namespace isolab::testing
