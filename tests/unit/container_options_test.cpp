// Parsing of what `isolab run` is asked: -e, --hostname, -m, --name, --tmpfs.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include <sys/mount.h>

#include "runtime/container/launch.hpp"
#include "runtime/container/options.hpp"
#include "runtime/container/run_options.hpp"
#include "runtime/core/error.hpp"
#include "runtime/linux/mounts.hpp"
#include "runtime/linux/namespaces.hpp"

namespace isolab::container {
namespace {

EnvironmentLookup fake_environment(std::map<std::string, std::string> variables) {
    return [variables](const std::string& name) -> std::optional<std::string> {
        auto found = variables.find(name);
        if (found == variables.end()) return std::nullopt;
        return found->second;
    };
}

TEST(EnvOption, SplitsAtFirstEquals) {
    auto lookup = fake_environment({});
    EXPECT_EQ(parse_env_option("A=1", lookup), "A=1");
    EXPECT_EQ(parse_env_option("URL=http://x/?a=b&c=d", lookup), "URL=http://x/?a=b&c=d");
    EXPECT_EQ(parse_env_option("EMPTY=", lookup), "EMPTY=");
}

TEST(EnvOption, NameAloneTakesCallerValue) {
    auto lookup = fake_environment({{"FROM_HOST", "v=1"}});
    EXPECT_EQ(parse_env_option("FROM_HOST", lookup), "FROM_HOST=v=1");
    EXPECT_EQ(parse_env_option("UNSET_HERE", lookup), std::nullopt);
}

TEST(EnvOption, RejectsEmptyName) {
    auto lookup = fake_environment({});
    EXPECT_THROW(parse_env_option("=value", lookup), Error);
    EXPECT_THROW(parse_env_option("", lookup), Error);
}

TEST(EnvMerge, OverridesKeepOrder) {
    auto merged = merge_env({"PATH=/bin", "A=1", "B=2"}, {"A=x=y", "C=3"});
    std::vector<std::string> expected{"PATH=/bin", "A=x=y", "B=2", "C=3"};
    EXPECT_EQ(merged, expected);
    EXPECT_EQ(find_env(merged, "A"), "x=y");
    EXPECT_EQ(find_env(merged, "PAT"), std::nullopt);
}

TEST(Hostname, AcceptsValidNames) {
    EXPECT_NO_THROW(kernel::validate_hostname("web"));
    EXPECT_NO_THROW(kernel::validate_hostname("a1b2c3d4e5f6"));
    EXPECT_NO_THROW(kernel::validate_hostname("db-1.example.org"));
    EXPECT_NO_THROW(kernel::validate_hostname(std::string(31, 'a') + "." + std::string(32, 'b')));
}

TEST(Hostname, Rejects65Characters) {
    std::string name(65, 'h');
    try {
        kernel::validate_hostname(name);
        FAIL() << "a 65-character hostname was accepted";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("64 characters"), std::string::npos) << error.what();
    }
}

TEST(Hostname, RejectsBadCharactersAndLabels) {
    for (const char* name : {"", "under_score", "-start", "end-", "a..b", "space here", "dot.", "ümlaut"}) {
        EXPECT_THROW(kernel::validate_hostname(name), Error) << name;
    }
}

TEST(MemoryLimit, ParsesUnits) {
    EXPECT_EQ(parse_memory_limit("64M"), 64ULL << 20);
    EXPECT_EQ(parse_memory_limit("1g"), 1ULL << 30);
    EXPECT_EQ(parse_memory_limit("6m"), 6ULL << 20);
}

TEST(MemoryLimit, RejectsInvalidAndTooSmall) {
    for (const char* text : {"", "abc", "64X", "-1", "1k", "5m"}) {
        EXPECT_THROW(parse_memory_limit(text), Error) << text;
    }
}

TEST(ContainerName, Validation) {
    EXPECT_NO_THROW(validate_container_name("web_1.test-a"));
    for (const char* name : {"", "_x", "a b", "a/b", "-x"}) EXPECT_THROW(validate_container_name(name), Error) << name;
    auto generated = generate_container_name("0123456789abcdef");
    EXPECT_NO_THROW(validate_container_name(generated)) << generated;
}

TEST(TmpfsOption, ParsesTargetAndOptions) {
    auto mount = kernel::parse_tmpfs("/run:size=64m,mode=1777,exec,ro");
    EXPECT_EQ(mount.target, "/run");
    EXPECT_EQ(mount.data, "size=64m,mode=1777");
    EXPECT_TRUE(mount.flags & MS_RDONLY);
    EXPECT_FALSE(mount.flags & MS_NOEXEC);
    EXPECT_TRUE(mount.flags & MS_NOSUID);

    auto plain = kernel::parse_tmpfs("/tmp");
    EXPECT_TRUE(plain.data.empty());
    EXPECT_TRUE(plain.flags & MS_NOEXEC);
    EXPECT_THROW(kernel::parse_tmpfs("relative:size=1m"), Error);
}

TEST(TmpfsOption, ReservedTargetsRejected) {
    for (const char* text : {"/", "/proc", "/proc/sys", "/sys/", "/sys/fs/cgroup", "/dev", "/dev/../proc"}) {
        try {
            kernel::parse_tmpfs(text);
            ADD_FAILURE() << text << " was accepted";
        } catch (const Error& error) {
            EXPECT_NE(std::string(error.what()).find("isolab mounts"), std::string::npos) << error.what();
        }
    }
    EXPECT_NO_THROW(kernel::parse_tmpfs("/dev/shm"));
    EXPECT_NO_THROW(kernel::parse_tmpfs("/process"));
}

TEST(TmpfsOption, BadOptionsRejected) {
    const std::map<std::string, std::string> cases = {
        {"/run:sise=64m", "unknown option 'sise=64m'"},
        {"/run:size=lots", "invalid value in 'size=lots'"},
        {"/run:mode=999", "invalid value in 'mode=999'"},
        {"/run:uid=root", "invalid value in 'uid=root'"},
        {"/run:huge=sometimes", "invalid value in 'huge=sometimes'"},
    };
    for (const auto& [text, expected] : cases) {
        try {
            kernel::parse_tmpfs(text);
            ADD_FAILURE() << text << " was accepted";
        } catch (const Error& error) {
            EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
        }
    }
    EXPECT_EQ(kernel::parse_tmpfs("/run:size=50%,nr_inodes=1k,uid=1000,gid=1000,huge=never").data,
              "size=50%,nr_inodes=1k,uid=1000,gid=1000,huge=never");
}

TEST(FindExecutable, ExitCodes) {
    std::vector<std::string> env{"PATH=/nonexistent:/bin:/usr/bin"};
    EXPECT_EQ(find_executable("sh", env), "/bin/sh");
    try {
        find_executable("no-such-command-here", env);
        FAIL();
    } catch (const Error& error) {
        EXPECT_EQ(error.exit_code(), 127);
        EXPECT_EQ(std::string(error.what()), "exec: \"no-such-command-here\": executable file not found in $PATH");
    }
    try {
        find_executable("/proc/version", env);
        FAIL();
    } catch (const Error& error) {
        EXPECT_EQ(error.exit_code(), 126);
    }
    try {
        find_executable("/no/such/file", env);
        FAIL();
    } catch (const Error& error) {
        EXPECT_EQ(error.exit_code(), 127);
    }
}


TEST(RunOptionsJson, RoundTripKeepsEveryField) {
    RunOptions options;
    options.image = "busybox";
    options.command = {"sh", "-c", "echo a=b"};
    options.name = "web";
    options.remove = true;
    options.memory_limit = 64ULL << 20;
    options.env = {"DSN=host=db;user=app"};
    options.hostname = "box";
    options.init = true;
    options.read_only = true;
    options.tmpfs = {"/run:size=1m"};
    options.user = "1000:1000";
    options.working_dir = "/srv";
    options.cap_add = {"NET_ADMIN"};
    options.cap_drop = {"CHOWN"};
    options.privileged = true;
    options.seccomp = false;
    options.pids_limit = 20;
    options.cpus = 0.5;
    options.cpu_shares = 512;
    options.memory_swap = -1;

    auto restored = nlohmann::json(options).get<RunOptions>();

    EXPECT_EQ(restored.image, options.image);
    EXPECT_EQ(restored.command, options.command);
    EXPECT_EQ(restored.name, options.name);
    EXPECT_TRUE(restored.remove);
    EXPECT_EQ(restored.memory_limit, options.memory_limit);
    EXPECT_EQ(restored.env, options.env);
    EXPECT_EQ(restored.hostname, options.hostname);
    EXPECT_TRUE(restored.init);
    EXPECT_TRUE(restored.read_only);
    EXPECT_EQ(restored.tmpfs, options.tmpfs);
    EXPECT_EQ(restored.user, options.user);
    EXPECT_EQ(restored.working_dir, options.working_dir);
    EXPECT_EQ(restored.cap_add, options.cap_add);
    EXPECT_EQ(restored.cap_drop, options.cap_drop);
    EXPECT_TRUE(restored.privileged);
    EXPECT_FALSE(restored.seccomp);
    EXPECT_EQ(restored.pids_limit, options.pids_limit);
    EXPECT_EQ(restored.cpus, options.cpus);
    EXPECT_EQ(restored.cpu_shares, options.cpu_shares);
    EXPECT_EQ(restored.memory_swap, options.memory_swap);
}

TEST(RunOptionsJson, MissingFieldsTakeDefaults) {
    auto restored = nlohmann::json::parse(R"({"image": "busybox"})").get<RunOptions>();

    EXPECT_EQ(restored.image, "busybox");
    EXPECT_TRUE(restored.seccomp);
    EXPECT_FALSE(restored.memory_limit.has_value());
    EXPECT_TRUE(restored.command.empty());
}

}  // namespace
}  // namespace isolab::container
