// The config.json parser of `isolab oci`: the fields it maps and the JSON path each
// error names.
#include <sys/resource.h>

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "runtime/core/error.hpp"
#include "runtime/oci/spec.hpp"

namespace isolab::oci {
namespace {

using nlohmann::json;

json minimal_config() {
    return json::parse(R"({
      "ociVersion": "1.0.2-dev",
      "process": {"args": ["sh", "-c", "true"], "cwd": "/", "env": ["PATH=/bin"]},
      "root": {"path": "rootfs"},
      "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]}
    })");
}

// The message of the Error parse_spec throws, or "" when it parses.
std::string parse_error(const json& config) {
    try {
        parse_spec(config.dump());
    } catch (const Error& error) {
        return error.what();
    }
    return "";
}

std::string parse_error_text(const std::string& text) {
    try {
        parse_spec(text);
    } catch (const Error& error) {
        return error.what();
    }
    return "";
}

TEST(OciSpec, MinimalConfigParses) {
    auto spec = parse_spec(minimal_config().dump());
    EXPECT_EQ(spec.process.args, (std::vector<std::string>{"sh", "-c", "true"}));
    EXPECT_EQ(spec.process.cwd, "/");
    EXPECT_EQ(spec.root_path, "rootfs");
    EXPECT_FALSE(spec.root_readonly);
    ASSERT_NE(spec.find_namespace("uts"), nullptr);
    EXPECT_EQ(spec.find_namespace("network"), nullptr);
}

TEST(OciSpec, NulByteInArgumentNamesPath) {
    // JSON escapes the NUL byte as \u0000, which nlohmann::json decodes into the string.
    auto config = minimal_config();
    config["process"]["args"][1] = std::string("-\0c", 3);
    EXPECT_EQ(parse_error(config), "config.json: process.args[1]: contains a NUL byte");
}

TEST(OciSpec, NulByteInUnknownFieldIsRejected) {
    auto config = minimal_config();
    config["vendor"] = {{"note", std::string("a\0b", 3)}};
    EXPECT_EQ(parse_error(config), "config.json: vendor.note: contains a NUL byte");
}

TEST(OciSpec, NulByteInEnvIsRejected) {
    auto config = minimal_config();
    config["process"]["env"][0] = std::string("PATH=/bin\0/x", 12);
    EXPECT_EQ(parse_error(config), "config.json: process.env[0]: contains a NUL byte");
}

TEST(OciSpec, MissingRequiredFieldsNamePath) {
    auto without_args = minimal_config();
    without_args["process"].erase("args");
    EXPECT_EQ(parse_error(without_args), "config.json: process.args: is missing");

    auto without_version = minimal_config();
    without_version.erase("ociVersion");
    EXPECT_EQ(parse_error(without_version), "config.json: ociVersion: is missing");

    auto without_root_path = minimal_config();
    without_root_path["root"].erase("path");
    EXPECT_EQ(parse_error(without_root_path), "config.json: root.path: is missing");

    auto without_cwd = minimal_config();
    without_cwd["process"].erase("cwd");
    EXPECT_EQ(parse_error(without_cwd), "config.json: process.cwd: is missing");

    auto without_uid = minimal_config();
    without_uid["process"]["user"] = {{"gid", 0}};
    EXPECT_EQ(parse_error(without_uid), "config.json: process.user.uid: is missing");

    auto mount_without_destination = minimal_config();
    mount_without_destination["mounts"] = json::array({{{"type", "tmpfs"}, {"source", "tmpfs"}}});
    EXPECT_EQ(parse_error(mount_without_destination), "config.json: mounts[0].destination: is missing");
}

TEST(OciSpec, WrongTypesNamePath) {
    auto number_argument = minimal_config();
    number_argument["process"]["args"][2] = 7;
    EXPECT_EQ(parse_error(number_argument), "config.json: process.args[2]: must be a string, not a number");

    auto string_readonly = minimal_config();
    string_readonly["root"]["readonly"] = "yes";
    EXPECT_EQ(parse_error(string_readonly), "config.json: root.readonly: must be true or false, not a string");

    auto negative_uid = minimal_config();
    negative_uid["process"]["user"] = {{"uid", -1}, {"gid", 0}};
    EXPECT_EQ(parse_error(negative_uid), "config.json: process.user.uid: must not be negative");

    auto string_memory = minimal_config();
    string_memory["linux"]["resources"] = {{"memory", {{"limit", "64m"}}}};
    EXPECT_EQ(parse_error(string_memory), "config.json: linux.resources.memory.limit: must be an integer, not a string");

    auto object_mounts = minimal_config();
    object_mounts["mounts"] = json::object();
    EXPECT_EQ(parse_error(object_mounts), "config.json: mounts: must be an array, not an object");
}

TEST(OciSpec, UnknownFieldsAreIgnored) {
    auto config = minimal_config();
    config["vendor.example/extra"] = {{"any", 1}};
    config["process"]["unknownField"] = true;
    EXPECT_EQ(parse_error(config), "");
}

TEST(OciSpec, InvalidJsonNamesByte) {
    EXPECT_EQ(parse_error_text("{\"ociVersion\": }"), "config.json: not valid JSON at byte 16");
}

// Found by fuzzing: nlohmann::json reports a number beyond a double's range as
// out_of_range, not as a parse error.
TEST(OciSpec, NumberOverflowIsInvalidJson) {
    auto message = parse_error_text(R"({"ociVersion": "1.0.2", "process": {"user": {"uid": 3e999}}})");
    EXPECT_EQ(message.rfind("config.json: not valid JSON: ", 0), 0U) << message;
    EXPECT_NE(message.find("number overflow"), std::string::npos) << message;
}

TEST(OciSpec, UnsupportedSettingsAreRejected) {
    auto terminal = minimal_config();
    terminal["process"]["terminal"] = true;
    EXPECT_EQ(parse_error(terminal).rfind("config.json: process.terminal: true is not supported", 0), 0U);

    auto user_namespace = minimal_config();
    user_namespace["linux"]["namespaces"].push_back({{"type", "user"}});
    EXPECT_EQ(parse_error(user_namespace), "config.json: linux.namespaces[3].type: user namespaces are not supported");

    auto without_mount_namespace = minimal_config();
    without_mount_namespace["linux"]["namespaces"].erase(1);
    EXPECT_EQ(parse_error(without_mount_namespace).rfind("config.json: linux.namespaces: must include a mount namespace", 0), 0U);

    auto container_hook = minimal_config();
    container_hook["hooks"] = {{"startContainer", json::array({{{"path", "/bin/true"}}})}};
    EXPECT_EQ(parse_error(container_hook), "config.json: hooks.startContainer: hooks run inside the container are not supported");
}

TEST(OciSpec, HostnameNeedsOwnUtsNamespace) {
    auto config = minimal_config();
    config["hostname"] = "box";
    config["linux"]["namespaces"].erase(2);
    EXPECT_EQ(parse_error(config), "config.json: hostname: needs a new uts namespace in linux.namespaces");
}

TEST(OciSpec, InvalidHostnameNamesTheField) {
    auto config = minimal_config();
    config["hostname"] = std::string(70, 'h');
    EXPECT_EQ(parse_error(config).rfind("config.json: hostname: invalid hostname '" + std::string(70, 'h') + "'", 0), 0u)
        << parse_error(config);
}

TEST(OciSpec, ProcessFieldsAreMapped) {
    auto config = minimal_config();
    config["process"]["user"] = {{"uid", 1000}, {"gid", 100}, {"additionalGids", {5, 6}}};
    config["process"]["noNewPrivileges"] = true;
    config["process"]["capabilities"] = {{"bounding", {"CAP_KILL", "CAP_CHOWN"}}, {"effective", {"CAP_KILL"}}};
    config["process"]["rlimits"] = json::array({{{"type", "RLIMIT_NOFILE"}, {"soft", 512}, {"hard", 1024}}});
    auto spec = parse_spec(config.dump());
    EXPECT_EQ(spec.process.user.uid, 1000U);
    EXPECT_EQ(spec.process.user.gid, 100U);
    EXPECT_EQ(spec.process.user.additional_gids, (std::vector<gid_t>{5, 6}));
    EXPECT_TRUE(spec.process.no_new_privileges);
    ASSERT_TRUE(spec.process.capabilities);
    EXPECT_EQ(spec.process.capabilities->bounding, (std::vector<cap_value_t>{CAP_KILL, CAP_CHOWN}));
    EXPECT_EQ(spec.process.capabilities->effective, (std::vector<cap_value_t>{CAP_KILL}));
    EXPECT_TRUE(spec.process.capabilities->ambient.empty());
    ASSERT_EQ(spec.process.rlimits.size(), 1U);
    EXPECT_EQ(spec.process.rlimits[0].resource, RLIMIT_NOFILE);
    EXPECT_EQ(spec.process.rlimits[0].soft, 512U);
    EXPECT_EQ(spec.process.rlimits[0].hard, 1024U);
}

TEST(OciSpec, UnknownCapabilityNamesPath) {
    auto config = minimal_config();
    config["process"]["capabilities"] = {{"permitted", {"CAP_KILL", "CAP_FLY"}}};
    EXPECT_EQ(parse_error(config), "config.json: process.capabilities.permitted[1]: unknown capability 'CAP_FLY'");
}

TEST(OciSpec, ResourcesBecomeCgroupLimits) {
    auto config = minimal_config();
    config["linux"]["resources"] = {{"memory", {{"limit", 67108864}, {"swap", 134217728}}},
                                    {"cpu", {{"quota", 50000}, {"period", 100000}, {"shares", 512}}},
                                    {"pids", {{"limit", 64}}}};
    auto limits = parse_spec(config.dump()).resources;
    EXPECT_EQ(limits.memory, 67108864U);
    EXPECT_EQ(limits.memory_swap, 134217728U);
    ASSERT_TRUE(limits.cpus);
    EXPECT_DOUBLE_EQ(*limits.cpus, 0.5);
    EXPECT_EQ(limits.cpu_shares, 512U);
    EXPECT_EQ(limits.pids, 64);
}

TEST(OciSpec, DeviceRulesInOrderThenDefaults) {
    auto config = minimal_config();
    config["linux"]["resources"] = {
        {"devices", json::array({{{"allow", false}, {"access", "rwm"}},
                                 {{"allow", true}, {"type", "b"}, {"major", 7}, {"minor", -1}, {"access", "r"}}})}};

    auto limits = parse_spec(config.dump()).resources;

    ASSERT_TRUE(limits.devices);
    const auto& rules = *limits.devices;
    ASSERT_EQ(rules.size(), 2 + kernel::default_allowed_devices().size());
    EXPECT_EQ(rules[0], (kernel::DeviceRule{.allow = false, .type = 'a'}));
    EXPECT_EQ(rules[1], (kernel::DeviceRule{.allow = true, .type = 'b', .major = 7, .minor = std::nullopt, .access = "r"}));
    EXPECT_EQ(rules[2], kernel::default_allowed_devices()[0]);
}

TEST(OciSpec, DeviceRulesAreChecked) {
    auto config = minimal_config();
    config["linux"]["resources"] = {{"devices", json::array({{{"allow", true}, {"type", "x"}}})}};
    EXPECT_EQ(parse_error(config), "config.json: linux.resources.devices[0].type: must be \"a\", \"b\" or \"c\", not 'x'");

    config["linux"]["resources"] = {{"devices", json::array({{{"allow", true}, {"access", "rwx"}}})}};
    EXPECT_EQ(parse_error(config), "config.json: linux.resources.devices[0].access: must be a combination of r, w and m, not 'rwx'");

    config["linux"]["resources"] = {{"devices", json::array({{{"type", "c"}}})}};
    EXPECT_EQ(parse_error(config), "config.json: linux.resources.devices[0].allow: is missing");
}

TEST(OciSpec, SeccompIsMappedAndChecked) {
    auto config = minimal_config();
    config["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"architectures", {"SCMP_ARCH_X86_64"}},
        {"syscalls", json::array({{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1},
                                   {"args", json::array({{{"index", 1}, {"value", 0}, {"op", "SCMP_CMP_EQ"}}})}}})}};
    auto profile = parse_spec(config.dump()).seccomp;
    ASSERT_TRUE(profile);
    EXPECT_EQ(profile->default_action, "SCMP_ACT_ALLOW");
    ASSERT_EQ(profile->syscalls.size(), 1U);
    EXPECT_EQ(profile->syscalls[0].names, (std::vector<std::string>{"mkdir", "mkdirat"}));
    EXPECT_EQ(profile->syscalls[0].errno_ret, 1U);
    ASSERT_EQ(profile->syscalls[0].args.size(), 1U);
    EXPECT_EQ(profile->syscalls[0].args[0].op, "SCMP_CMP_EQ");

    config["linux"]["seccomp"]["syscalls"][0]["args"][0]["op"] = "SCMP_CMP_ALMOST";
    EXPECT_EQ(parse_error(config), "config.json: linux.seccomp.syscalls[0].args[0].op: unknown operator 'SCMP_CMP_ALMOST'");
}

TEST(OciSpec, HooksAreParsed) {
    auto config = minimal_config();
    config["hooks"] = {{"prestart", json::array({{{"path", "/bin/hook"}, {"args", {"hook", "pre"}}, {"timeout", 5}}})},
                       {"poststop", json::array({{{"path", "relative"}}})}};
    EXPECT_EQ(parse_error(config), "config.json: hooks.poststop[0].path: must be an absolute path");
    config["hooks"].erase("poststop");
    auto hooks = parse_spec(config.dump()).hooks;
    ASSERT_EQ(hooks.prestart.size(), 1U);
    EXPECT_EQ(hooks.prestart[0].args, (std::vector<std::string>{"hook", "pre"}));
    EXPECT_EQ(hooks.prestart[0].timeout, 5);
}

}  // namespace
}  // namespace isolab::oci
