// `isolab oci` over a bundle made by `runc spec` with the busybox image's files as its
// root: the state machine, what config.json sets, config errors, and the same bundle
// under runc. Runs real containers, so it needs root.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "runtime/image/store.hpp"
#include "runtime/linux/cgroups.hpp"
#include "support/test_support.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CliResult;

class OciCli : public ::testing::Test {
protected:
    void SetUp() override {
        if (!testing::running_as_root()) GTEST_SKIP() << "running containers needs root";
        if (!program_available("runc")) GTEST_SKIP() << "runc is not installed";
        image::Store store(root_.paths());
        auto image = store.ensure_busybox();
        auto layers = store.lowerdirs(image);
        ASSERT_EQ(layers.size(), 1U);

        bundle_ = root_.root().parent_path() / "bundle";
        fs::create_directories(bundle_);
        fs::copy(layers.front(), bundle_ / "rootfs", fs::copy_options::recursive | fs::copy_options::copy_symlinks);
        fs::create_directories(bundle_ / "rootfs/tmp");
        run_checked({"runc", "spec", "--bundle", bundle_.string()});
        config_ = json::parse(read_file(bundle_ / "config.json"));
        config_["process"]["terminal"] = false;
        config_["root"]["readonly"] = false;
        oci_root_ = root_.root().parent_path() / "oci-state";
    }

    void TearDown() override {
        if (!testing::running_as_root()) return;
        // Remove what a failed test may have left: containers and their cgroups.
        for (const auto& id : created_) oci({"delete", "--force", id});
    }

    void set_command(const std::vector<std::string>& args) { config_["process"]["args"] = args; }
    void write_config() { write_file_atomic(bundle_ / "config.json", config_.dump(2)); }

    CliResult oci(std::vector<std::string> arguments) {
        arguments.insert(arguments.begin(), {"oci", "--root", oci_root_.string()});
        return testing::run_isolab(root_.paths(), arguments);
    }

    CliResult create(const std::string& id) {
        created_.push_back(id);
        write_config();
        return oci({"create", "--bundle", bundle_.string(), id});
    }

    CliResult run(const std::string& id) {
        write_config();
        return oci({"run", "--bundle", bundle_.string(), id});
    }

    json state(const std::string& id) {
        auto result = oci({"state", id});
        EXPECT_EQ(result.exit_code, 0) << result.err;
        return json::parse(result.out);
    }

    // Polls the state until its status is `status`, for up to 5 s.
    json wait_for_status(const std::string& id, const std::string& status) {
        json current;
        for (int attempt = 0; attempt < 500; ++attempt) {
            current = state(id);
            if (current.value("status", "") == status) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return current;
    }

    static bool cgroup_exists(const std::string& id) {
        for (const auto& directory : kernel::cgroup_directories(kernel::detect_cgroups(), "isolab-oci-" + id)) {
            if (fs::exists(directory)) return true;
        }
        return false;
    }

    // Lines of the host's mountinfo that mention the bundle.
    std::vector<std::string> host_mounts_of_bundle() const {
        std::vector<std::string> found;
        std::ifstream mountinfo("/proc/self/mountinfo");
        std::string line;
        while (std::getline(mountinfo, line)) {
            if (line.find(bundle_.string()) != std::string::npos) found.push_back(line);
        }
        return found;
    }

    void expect_nothing_left(const std::string& id) {
        EXPECT_FALSE(fs::exists(oci_root_ / id)) << "state folder left";
        EXPECT_FALSE(cgroup_exists(id)) << "cgroup left";
        EXPECT_TRUE(host_mounts_of_bundle().empty()) << host_mounts_of_bundle().front();
    }

    testing::TestRoot root_;
    fs::path bundle_;
    fs::path oci_root_;
    json config_;
    std::vector<std::string> created_;
};

TEST_F(OciCli, RunPrintsOutputAndExitCode) {
    set_command({"sh", "-c", "echo hello from oci; echo to stderr >&2; exit 3"});
    auto result = run("run-exit");
    EXPECT_EQ(result.exit_code, 3) << result.err;
    EXPECT_EQ(result.out, "hello from oci\n");
    EXPECT_EQ(result.err, "to stderr\n");
    expect_nothing_left("run-exit");
}

TEST_F(OciCli, LifecycleCreateStartKillDelete) {
    set_command({"sleep", "100"});
    auto created = create("cycle");
    ASSERT_EQ(created.exit_code, 0) << created.err;

    auto after_create = state("cycle");
    EXPECT_EQ(after_create["ociVersion"], "1.0.2");
    EXPECT_EQ(after_create["id"], "cycle");
    EXPECT_EQ(after_create["status"], "created");
    EXPECT_EQ(after_create["bundle"], fs::canonical(bundle_).string());
    EXPECT_TRUE(after_create["annotations"].is_object());
    ASSERT_TRUE(after_create.contains("pid"));
    int pid = after_create["pid"];
    EXPECT_GT(pid, 0);
    // Created: the first process exists, but has not executed sleep yet.
    EXPECT_NE(fs::read_symlink("/proc/" + std::to_string(pid) + "/exe").filename(), "busybox");
    EXPECT_TRUE(cgroup_exists("cycle"));

    auto started = oci({"start", "cycle"});
    ASSERT_EQ(started.exit_code, 0) << started.err;
    EXPECT_EQ(wait_for_status("cycle", "running")["pid"], pid);
    auto second_start = oci({"start", "cycle"});
    EXPECT_EQ(second_start.exit_code, 125);
    EXPECT_NE(second_start.err.find("is running, not created"), std::string::npos) << second_start.err;

    auto killed = oci({"kill", "cycle", "KILL"});
    ASSERT_EQ(killed.exit_code, 0) << killed.err;
    auto stopped = wait_for_status("cycle", "stopped");
    EXPECT_EQ(stopped["status"], "stopped");
    EXPECT_FALSE(stopped.contains("pid"));

    auto deleted = oci({"delete", "cycle"});
    ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
    expect_nothing_left("cycle");
    EXPECT_EQ(oci({"state", "cycle"}).exit_code, 125);
}

TEST_F(OciCli, DeleteRunningNeedsForce) {
    set_command({"sleep", "100"});
    ASSERT_EQ(create("busy").exit_code, 0);
    ASSERT_EQ(oci({"start", "busy"}).exit_code, 0);

    auto refused = oci({"delete", "busy"});
    EXPECT_EQ(refused.exit_code, 125);
    EXPECT_NE(refused.err.find("container busy is running"), std::string::npos) << refused.err;
    EXPECT_TRUE(fs::exists(oci_root_ / "busy"));

    auto forced = oci({"delete", "--force", "busy"});
    EXPECT_EQ(forced.exit_code, 0) << forced.err;
    expect_nothing_left("busy");
}

TEST_F(OciCli, HostnameEnvAndCwdApplied) {
    config_["hostname"] = "oci-box";
    config_["process"]["env"] = {"PATH=/bin:/usr/bin", "GREETING=hello there"};
    config_["process"]["cwd"] = "/etc";
    set_command({"sh", "-c", "hostname; echo \"$GREETING\"; pwd"});
    auto result = run("settings");
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "oci-box\nhello there\n/etc\n");
}

TEST_F(OciCli, UserAndRlimitsApplied) {
    config_["process"]["user"] = {{"uid", 1234}, {"gid", 567}, {"additionalGids", {89}}};
    config_["process"]["rlimits"] = json::array({{{"type", "RLIMIT_NOFILE"}, {"soft", 321}, {"hard", 654}}});
    set_command({"sh", "-c", "id -u; id -g; id -G; ulimit -n"});
    auto result = run("user");
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "1234\n567\n567 89\n321\n");
}

TEST_F(OciCli, ReadonlyRootRejectsWrites) {
    config_["root"]["readonly"] = true;
    set_command({"sh", "-c", "touch /written 2>&1; echo status $?"});
    auto result = run("readonly");
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("Read-only file system"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("status 1"), std::string::npos) << result.out;
    EXPECT_FALSE(fs::exists(bundle_ / "rootfs/written"));
}

TEST_F(OciCli, WritableRootKeepsWrites) {
    set_command({"sh", "-c", "touch /written"});
    auto result = run("writable");
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_TRUE(fs::exists(bundle_ / "rootfs/written"));
}

TEST_F(OciCli, MaskedPathsAreHidden) {
    config_["linux"]["maskedPaths"] = {"/proc/keys", "/etc/motd-masked", "/sys/firmware"};
    fs::create_directories(bundle_ / "rootfs/etc");
    write_file_atomic(bundle_ / "rootfs/etc/motd-masked", "secret\n");
    set_command({"sh", "-c", "cat /etc/motd-masked; echo end; test -c /proc/keys && echo keys masked; ls -A /sys/firmware | wc -l"});
    auto result = run("masked");
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "end\nkeys masked\n0\n");
}

TEST_F(OciCli, ReadonlyPathsRejectWrites) {
    config_["linux"]["readonlyPaths"] = {"/tmp"};
    fs::create_directories(bundle_ / "rootfs/tmp");
    set_command({"sh", "-c", "touch /tmp/x 2>/dev/null; echo status $?"});
    auto result = run("readonly-paths");
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "status 1\n");
}

TEST_F(OciCli, MemoryLimitIsApplied) {
    config_["linux"]["resources"]["memory"] = {{"limit", 48 << 20}};
    set_command({"sleep", "100"});
    ASSERT_EQ(create("memory").exit_code, 0);

    auto host = kernel::detect_cgroups();
    std::optional<std::uint64_t> limit;
    for (const auto& directory : kernel::cgroup_directories(host, "isolab-oci-memory")) {
        for (const char* file : {"memory.limit_in_bytes", "memory.max"}) {
            if (fs::exists(directory / file)) limit = kernel::read_cgroup_number(directory / file);
        }
    }
    ASSERT_TRUE(limit);
    EXPECT_EQ(*limit, 48U << 20);

    EXPECT_EQ(oci({"delete", "memory"}).exit_code, 0);
    expect_nothing_left("memory");
}

TEST_F(OciCli, MemoryLimitStopsAllocation) {
    config_["linux"]["resources"]["memory"] = {{"limit", 16 << 20}, {"swap", 16 << 20}};
    // A shell variable of 64 MiB of text needs more memory than the limit allows.
    set_command({"sh", "-c", "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo ${#x}"});
    auto result = run("oom");
    EXPECT_EQ(result.exit_code, 137) << result.out << result.err;
    EXPECT_EQ(result.out, "");
}

TEST_F(OciCli, HooksGetStateOnStdin) {
    auto prestart_file = root_.root().parent_path() / "prestart.json";
    auto poststop_file = root_.root().parent_path() / "poststop.json";
    config_["hooks"] = {
        {"prestart", json::array({{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > " + prestart_file.string()}}}})},
        {"poststop", json::array({{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > " + poststop_file.string()}}}})}};
    set_command({"true"});
    auto result = run("hooked");
    EXPECT_EQ(result.exit_code, 0) << result.err;

    auto prestart = json::parse(read_file(prestart_file));
    EXPECT_EQ(prestart["id"], "hooked");
    EXPECT_EQ(prestart["status"], "creating");
    EXPECT_GT(prestart["pid"].get<int>(), 0);
    auto poststop = json::parse(read_file(poststop_file));
    EXPECT_EQ(poststop["status"], "stopped");
}

TEST_F(OciCli, RunHooksGetStartAndStopState) {
    auto poststart_file = root_.root().parent_path() / "poststart.json";
    auto poststop_file = root_.root().parent_path() / "poststop.json";
    config_["hooks"] = {
        {"poststart", json::array({{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > " + poststart_file.string()}}}})},
        {"poststop", json::array({{{"path", "/bin/sh"}, {"args", {"sh", "-c", "cat > " + poststop_file.string()}}}})}};
    set_command({"true"});
    auto result = run("run-hooked");
    EXPECT_EQ(result.exit_code, 0) << result.err;

    auto poststart = json::parse(read_file(poststart_file));
    EXPECT_EQ(poststart["id"], "run-hooked");
    EXPECT_EQ(poststart["status"], "running");
    EXPECT_GT(poststart["pid"].get<int>(), 0);
    EXPECT_EQ(poststart["bundle"], fs::canonical(bundle_).string());
    auto poststop = json::parse(read_file(poststop_file));
    EXPECT_EQ(poststop["status"], "stopped");
    EXPECT_EQ(poststop["bundle"], fs::canonical(bundle_).string());
    expect_nothing_left("run-hooked");
}

// `oci run` writes its files without fsync: after a host crash they may be empty.
TEST_F(OciCli, DeleteForceRemovesEmptyStateFiles) {
    fs::create_directories(oci_root_ / "crashed");
    write_file_atomic(oci_root_ / "crashed/state.json", "");
    write_file_atomic(oci_root_ / "crashed/config.json", "");

    auto state_result = oci({"state", "crashed"});
    auto deleted = oci({"delete", "--force", "crashed"});

    EXPECT_EQ(state_result.exit_code, 0) << state_result.err;
    EXPECT_EQ(json::parse(state_result.out).value("status", ""), "creating");
    EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
    EXPECT_FALSE(fs::exists(oci_root_ / "crashed"));
}

TEST_F(OciCli, FailingPrestartHookLeavesNothing) {
    config_["hooks"] = {{"prestart", json::array({{{"path", "/bin/false"}}})}};
    set_command({"true"});
    auto result = create("hook-fails");
    EXPECT_EQ(result.exit_code, 125);
    EXPECT_NE(result.err.find("prestart hook /bin/false exited with 1"), std::string::npos) << result.err;
    expect_nothing_left("hook-fails");
}

TEST_F(OciCli, ConfigErrorNamesJsonPath) {
    set_command({"sh", std::string("-\0c", 3), "true"});
    auto result = create("invalid");
    EXPECT_EQ(result.exit_code, 125);
    EXPECT_EQ(result.err, "isolab: config.json: process.args[1]: contains a NUL byte\n");
    expect_nothing_left("invalid");
}

TEST_F(OciCli, HostRootAsRootPathIsRejected) {
    config_["root"]["path"] = "../../../../../../../../..";
    auto result = create("hostroot");
    EXPECT_EQ(result.exit_code, 125);
    EXPECT_NE(result.err.find("config.json: root.path: "), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("is the host's root folder"), std::string::npos) << result.err;
    expect_nothing_left("hostroot");
}

TEST_F(OciCli, MissingProgramFailsCreate) {
    set_command({"/bin/no-such-program"});
    auto result = create("missing");
    EXPECT_EQ(result.exit_code, 127);
    EXPECT_NE(result.err.find("no-such-program"), std::string::npos) << result.err;
    expect_nothing_left("missing");
}

TEST_F(OciCli, DuplicateIdIsRejected) {
    set_command({"sleep", "100"});
    ASSERT_EQ(create("twice").exit_code, 0);
    auto second = create("twice");
    EXPECT_EQ(second.exit_code, 125);
    EXPECT_NE(second.err.find("container twice already exists"), std::string::npos) << second.err;
    EXPECT_EQ(state("twice")["status"], "created");
}

TEST_F(OciCli, ExistingCgroupLeftAlone) {
    // The cgroup is named after the container's id alone, so a container of the same id
    // under another --root already has it. A failed create must leave that cgroup alone.
    auto directories = kernel::cgroup_directories(kernel::detect_cgroups(), "isolab-oci-taken-cgroup");
    ASSERT_FALSE(directories.empty());
    for (const auto& directory : directories) ASSERT_TRUE(fs::create_directory(directory)) << directory;
    set_command({"true"});

    auto result = create("taken-cgroup");

    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find("cannot create cgroup"), std::string::npos) << result.err;
    for (const auto& directory : directories) EXPECT_TRUE(fs::exists(directory)) << directory << " was removed";
    for (auto it = directories.rbegin(); it != directories.rend(); ++it) fs::remove(*it);
}

TEST_F(OciCli, NamespacePathIsJoined) {
    config_["hostname"] = "first-box";
    set_command({"sleep", "100"});
    ASSERT_EQ(create("first").exit_code, 0);
    int first_pid = state("first")["pid"];

    config_.erase("hostname");
    for (auto& entry : config_["linux"]["namespaces"]) {
        if (entry["type"] == "uts") entry["path"] = "/proc/" + std::to_string(first_pid) + "/ns/uts";
    }
    set_command({"hostname"});
    auto joined = run("second");
    EXPECT_EQ(joined.exit_code, 0) << joined.err;
    EXPECT_EQ(joined.out, "first-box\n");
}

TEST_F(OciCli, SeccompDeniesListedCalls) {
    config_["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"syscalls", json::array({{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}})}};
    set_command({"sh", "-c", "mkdir /tmp/denied 2>&1; echo status $?"});
    auto result = run("seccomp");
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("Operation not permitted"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("status 1"), std::string::npos) << result.out;
}

TEST_F(OciCli, CapabilitiesLimitTheProcess) {
    // runc spec keeps AUDIT_WRITE, KILL and NET_BIND_SERVICE: without CHOWN, root cannot
    // give a file away.
    set_command({"sh", "-c", "touch /tmp/owned; chown 1000 /tmp/owned 2>&1; echo status $?; grep CapEff /proc/self/status"});
    auto result = run("capabilities");
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("status 1"), std::string::npos) << result.out;
    // AUDIT_WRITE (29), KILL (5) and NET_BIND_SERVICE (10).
    EXPECT_NE(result.out.find("CapEff:\t0000000020000420"), std::string::npos) << result.out;
}

TEST_F(OciCli, DeviceRulesApplyInOrder) {
    // runc spec starts linux.resources.devices with a deny of every device. CAP_MKNOD lets
    // the process create the node, so only the device rules decide whether it opens. The
    // rootfs is shared by both runs, so the command removes the node of the first.
    if (access("/dev/loop0", R_OK) != 0) GTEST_SKIP() << "the host has no readable /dev/loop0";
    for (const char* set : {"bounding", "effective", "permitted"}) config_["process"]["capabilities"][set].push_back("CAP_MKNOD");
    set_command({"sh", "-c", "exec 2>&1; rm -f /tmp/loop; mknod /tmp/loop b 7 0 && true < /tmp/loop; echo status $?"});
    auto denied = run("devices-denied");
    EXPECT_EQ(denied.exit_code, 0) << denied.err;
    EXPECT_NE(denied.out.find("Operation not permitted"), std::string::npos) << denied.out;
    EXPECT_NE(denied.out.find("status 1"), std::string::npos) << denied.out;

    config_["linux"]["resources"]["devices"].push_back({{"allow", true}, {"type", "b"}, {"major", 7}, {"minor", 0}, {"access", "r"}});
    auto allowed = run("devices-allowed");
    EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
    EXPECT_EQ(allowed.out, "status 0\n");
}

TEST_F(OciCli, SameOutputAsRunc) {
    config_["hostname"] = "side-by-side";
    config_["process"]["env"].push_back("WHO=oci");
    config_["process"]["cwd"] = "/bin";
    set_command({"sh", "-c", "echo $WHO; hostname; pwd; id -u; ls /dev; cat /proc/1/cmdline | tr '\\0' ' '; echo; exit 4"});
    write_config();

    auto runc_root = root_.root().parent_path() / "runc-state";
    CommandOptions options;
    options.working_directory = bundle_.string();
    auto under_runc = run_command({"runc", "--root", runc_root.string(), "run", "isolab-test-side"}, options);
    auto under_isolab = run("side");

    EXPECT_EQ(under_runc.exit_code, 4) << under_runc.output;
    EXPECT_EQ(under_isolab.exit_code, 4) << under_isolab.err;
    EXPECT_EQ(under_isolab.out + under_isolab.err, under_runc.output);
}

}  // namespace
}  // namespace isolab
