#include "runtime/oci/spec.hpp"

#include <sys/resource.h>

#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "runtime/core/error.hpp"
#include "runtime/linux/capabilities.hpp"
#include "runtime/linux/hostname.hpp"

namespace isolab::oci {

namespace {

using nlohmann::json;

// Reads values out of the parsed document, failing with the JSON path of the bad value.
class SpecReader {
public:
    explicit SpecReader(std::string source) : source_(std::move(source)) {}

    [[noreturn]] void fail(const std::string& path, const std::string& problem, const std::string& hint = "") const {
        throw Error(source_ + ": " + path + ": " + problem, hint);
    }

    // The member `key` of `object`, or nullptr when it is absent or null.
    static const json* member(const json& object, const char* key) {
        auto found = object.find(key);
        if (found == object.end() || found->is_null()) return nullptr;
        return &*found;
    }

    const json& required(const json& object, const std::string& path, const char* key) const {
        const json* value = member(object, key);
        if (value == nullptr) fail(join(path, key), "is missing");
        return *value;
    }

    const json& object(const json& value, const std::string& path) const {
        if (!value.is_object()) fail(path, "must be an object, not " + type_name(value));
        return value;
    }

    const json& array(const json& value, const std::string& path) const {
        if (!value.is_array()) fail(path, "must be an array, not " + type_name(value));
        return value;
    }

    std::string string(const json& value, const std::string& path) const {
        if (!value.is_string()) fail(path, "must be a string, not " + type_name(value));
        return value.get<std::string>();
    }

    bool boolean(const json& value, const std::string& path) const {
        if (!value.is_boolean()) fail(path, "must be true or false, not " + type_name(value));
        return value.get<bool>();
    }

    std::int64_t integer(const json& value, const std::string& path) const {
        if (!value.is_number_integer()) fail(path, "must be an integer, not " + type_name(value));
        if (value.is_number_unsigned() && value.get<std::uint64_t>() > std::numeric_limits<std::int64_t>::max()) {
            fail(path, "is out of range");
        }
        return value.get<std::int64_t>();
    }

    std::uint64_t unsigned_integer(const json& value, const std::string& path) const {
        if (!value.is_number_integer()) fail(path, "must be an integer, not " + type_name(value));
        if (!value.is_number_unsigned()) fail(path, "must not be negative");
        return value.get<std::uint64_t>();
    }

    std::uint32_t id(const json& value, const std::string& path) const {
        auto number = unsigned_integer(value, path);
        if (number > std::numeric_limits<std::uint32_t>::max() - 1) fail(path, "is out of range");
        return static_cast<std::uint32_t>(number);
    }

    std::vector<std::string> strings(const json& value, const std::string& path) const {
        std::vector<std::string> result;
        const auto& items = array(value, path);
        for (size_t i = 0; i < items.size(); ++i) result.push_back(string(items[i], index(path, i)));
        return result;
    }

    static std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }
    static std::string index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

    // Rejects a NUL byte in any string or key of the document, unknown fields included,
    // because every string may end up in a C string where it would cut the value short.
    void reject_nul_bytes(const json& value, const std::string& path) const {
        if (value.is_string()) {
            if (value.get_ref<const std::string&>().find('\0') != std::string::npos) fail(path, "contains a NUL byte");
        } else if (value.is_array()) {
            for (size_t i = 0; i < value.size(); ++i) reject_nul_bytes(value[i], index(path, i));
        } else if (value.is_object()) {
            for (const auto& [key, item] : value.items()) {
                if (key.find('\0') != std::string::npos) fail(path.empty() ? "(root)" : path, "has a key with a NUL byte");
                reject_nul_bytes(item, join(path, key));
            }
        }
    }

private:
    static std::string type_name(const json& value) {
        if (value.is_number()) return "a number";
        if (value.is_string()) return "a string";
        if (value.is_boolean()) return "a boolean";
        if (value.is_array()) return "an array";
        if (value.is_object()) return "an object";
        return "null";
    }

    std::string source_;
};

int rlimit_resource(const std::string& name) {
    static const std::map<std::string, int> resources{
        {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_CPU", RLIMIT_CPU},
        {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_FSIZE", RLIMIT_FSIZE},       {"RLIMIT_LOCKS", RLIMIT_LOCKS},
        {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
        {"RLIMIT_NOFILE", RLIMIT_NOFILE},   {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_RSS", RLIMIT_RSS},
        {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
        {"RLIMIT_STACK", RLIMIT_STACK}};
    auto found = resources.find(name);
    return found == resources.end() ? -1 : found->second;
}

std::vector<cap_value_t> capability_set(const SpecReader& reader, const json& value, const std::string& path) {
    std::vector<cap_value_t> set;
    auto names = reader.strings(value, path);
    for (size_t i = 0; i < names.size(); ++i) {
        if (names[i].rfind("CAP_", 0) != 0) reader.fail(SpecReader::index(path, i), "'" + names[i] + "' is not a capability name");
        try {
            for (auto capability : kernel::parse_capability(names[i])) set.push_back(capability);
        } catch (const Error&) {
            reader.fail(SpecReader::index(path, i), "unknown capability '" + names[i] + "'");
        }
    }
    return set;
}

OciCapabilities read_capabilities(const SpecReader& reader, const json& value, const std::string& path) {
    reader.object(value, path);
    OciCapabilities capabilities;
    const std::pair<const char*, std::vector<cap_value_t>*> sets[] = {{"bounding", &capabilities.bounding},
                                                                      {"effective", &capabilities.effective},
                                                                      {"inheritable", &capabilities.inheritable},
                                                                      {"permitted", &capabilities.permitted},
                                                                      {"ambient", &capabilities.ambient}};
    for (const auto& [key, set] : sets) {
        if (const json* names = SpecReader::member(value, key)) *set = capability_set(reader, *names, SpecReader::join(path, key));
    }
    return capabilities;
}

OciProcess read_process(const SpecReader& reader, const json& value) {
    const std::string path = "process";
    reader.object(value, path);
    OciProcess process;

    if (const json* terminal = SpecReader::member(value, "terminal"); terminal && reader.boolean(*terminal, "process.terminal")) {
        reader.fail("process.terminal", "true is not supported: isolab oci runs the process on the caller's stdin, stdout and stderr");
    }
    process.args = reader.strings(reader.required(value, path, "args"), "process.args");
    if (process.args.empty()) reader.fail("process.args", "must name the program to run");
    if (process.args.front().empty()) reader.fail("process.args[0]", "must not be empty");
    if (const json* env = SpecReader::member(value, "env")) {
        process.env = reader.strings(*env, "process.env");
        for (size_t i = 0; i < process.env.size(); ++i) {
            if (process.env[i].find('=') == std::string::npos) reader.fail(SpecReader::index("process.env", i), "must be NAME=VALUE");
        }
    }
    process.cwd = reader.string(reader.required(value, path, "cwd"), "process.cwd");
    if (process.cwd.empty() || process.cwd.front() != '/') reader.fail("process.cwd", "must be an absolute path");

    if (const json* user = SpecReader::member(value, "user")) {
        reader.object(*user, "process.user");
        process.user.uid = reader.id(reader.required(*user, "process.user", "uid"), "process.user.uid");
        process.user.gid = reader.id(reader.required(*user, "process.user", "gid"), "process.user.gid");
        if (const json* gids = SpecReader::member(*user, "additionalGids")) {
            const auto& items = reader.array(*gids, "process.user.additionalGids");
            for (size_t i = 0; i < items.size(); ++i) {
                process.user.additional_gids.push_back(reader.id(items[i], SpecReader::index("process.user.additionalGids", i)));
            }
        }
        if (const json* name = SpecReader::member(*user, "username")) reader.string(*name, "process.user.username");
    }
    if (const json* capabilities = SpecReader::member(value, "capabilities")) {
        process.capabilities = read_capabilities(reader, *capabilities, "process.capabilities");
    }
    if (const json* flag = SpecReader::member(value, "noNewPrivileges")) {
        process.no_new_privileges = reader.boolean(*flag, "process.noNewPrivileges");
    }
    if (const json* rlimits = SpecReader::member(value, "rlimits")) {
        const auto& items = reader.array(*rlimits, "process.rlimits");
        std::set<int> seen;
        for (size_t i = 0; i < items.size(); ++i) {
            auto item_path = SpecReader::index("process.rlimits", i);
            reader.object(items[i], item_path);
            OciRlimit limit;
            auto type = reader.string(reader.required(items[i], item_path, "type"), item_path + ".type");
            limit.resource = rlimit_resource(type);
            if (limit.resource < 0) reader.fail(item_path + ".type", "unknown resource '" + type + "'");
            if (!seen.insert(limit.resource).second) reader.fail(item_path + ".type", "'" + type + "' is set twice");
            limit.soft = reader.unsigned_integer(reader.required(items[i], item_path, "soft"), item_path + ".soft");
            limit.hard = reader.unsigned_integer(reader.required(items[i], item_path, "hard"), item_path + ".hard");
            if (limit.soft > limit.hard) reader.fail(item_path + ".soft", "is above the hard limit");
            process.rlimits.push_back(limit);
        }
    }
    return process;
}

std::vector<OciMount> read_mounts(const SpecReader& reader, const json& value) {
    std::vector<OciMount> mounts;
    const auto& items = reader.array(value, "mounts");
    for (size_t i = 0; i < items.size(); ++i) {
        auto path = SpecReader::index("mounts", i);
        reader.object(items[i], path);
        OciMount mount;
        mount.destination = reader.string(reader.required(items[i], path, "destination"), path + ".destination");
        if (mount.destination.empty() || mount.destination.front() != '/') reader.fail(path + ".destination", "must be an absolute path");
        if (const json* type = SpecReader::member(items[i], "type")) mount.type = reader.string(*type, path + ".type");
        if (const json* source = SpecReader::member(items[i], "source")) mount.source = reader.string(*source, path + ".source");
        if (const json* options = SpecReader::member(items[i], "options")) mount.options = reader.strings(*options, path + ".options");
        if (SpecReader::member(items[i], "uidMappings") || SpecReader::member(items[i], "gidMappings")) {
            reader.fail(path, "id-mapped mounts are not supported");
        }
        mounts.push_back(std::move(mount));
    }
    return mounts;
}

std::vector<OciNamespace> read_namespaces(const SpecReader& reader, const json& value) {
    static const std::set<std::string> supported{"pid", "network", "mount", "ipc", "uts", "cgroup"};
    std::vector<OciNamespace> namespaces;
    std::set<std::string> seen;
    const auto& items = reader.array(value, "linux.namespaces");
    for (size_t i = 0; i < items.size(); ++i) {
        auto path = SpecReader::index("linux.namespaces", i);
        reader.object(items[i], path);
        OciNamespace entry;
        entry.type = reader.string(reader.required(items[i], path, "type"), path + ".type");
        if (entry.type == "user" || entry.type == "time") {
            reader.fail(path + ".type", entry.type + " namespaces are not supported");
        }
        if (!supported.contains(entry.type)) reader.fail(path + ".type", "unknown namespace type '" + entry.type + "'");
        if (!seen.insert(entry.type).second) reader.fail(path + ".type", "'" + entry.type + "' is listed twice");
        if (const json* ns_path = SpecReader::member(items[i], "path")) {
            entry.path = reader.string(*ns_path, path + ".path");
            if (entry.path.empty() || entry.path.front() != '/') reader.fail(path + ".path", "must be an absolute path");
            if (entry.type == "mount") reader.fail(path + ".path", "joining an existing mount namespace is not supported");
        }
        namespaces.push_back(std::move(entry));
    }
    if (!seen.contains("mount")) reader.fail("linux.namespaces", "must include a mount namespace, which isolab needs to set up the root");
    return namespaces;
}

// linux.resources.devices in order, followed by the default allowed devices as runc
// appends them. A list that starts with a rule denying every device is an allow-list.
std::vector<kernel::DeviceRule> read_device_rules(const SpecReader& reader, const json& value) {
    const std::string path = "linux.resources.devices";
    const auto& items = reader.array(value, path);
    std::vector<kernel::DeviceRule> rules;
    for (size_t i = 0; i < items.size(); ++i) {
        const std::string item_path = SpecReader::index(path, i);
        reader.object(items[i], item_path);
        kernel::DeviceRule rule;
        rule.allow = reader.boolean(reader.required(items[i], item_path, "allow"), item_path + ".allow");
        if (const json* type = SpecReader::member(items[i], "type")) {
            auto name = reader.string(*type, item_path + ".type");
            if (name != "a" && name != "b" && name != "c") reader.fail(item_path + ".type", "must be \"a\", \"b\" or \"c\", not '" + name + "'");
            rule.type = name.front();
        }
        for (auto [key, number] : {std::pair{"major", &rule.major}, std::pair{"minor", &rule.minor}}) {
            const json* field = SpecReader::member(items[i], key);
            if (field == nullptr) continue;
            auto parsed = reader.integer(*field, item_path + "." + key);
            if (parsed < -1 || parsed > 0xFFFFF) reader.fail(item_path + "." + key, "must be between 0 and 1048575, or -1 for every number");
            if (parsed >= 0) *number = static_cast<std::uint32_t>(parsed);
        }
        if (const json* access = SpecReader::member(items[i], "access")) {
            rule.access = reader.string(*access, item_path + ".access");
            if (rule.access.empty() || rule.access.find_first_not_of("rwm") != std::string::npos) {
                reader.fail(item_path + ".access", "must be a combination of r, w and m, not '" + rule.access + "'");
            }
        }
        rules.push_back(std::move(rule));
    }
    rules.insert(rules.end(), kernel::default_allowed_devices().begin(), kernel::default_allowed_devices().end());
    return rules;
}

kernel::CgroupLimits read_resources(const SpecReader& reader, const json& value) {
    reader.object(value, "linux.resources");
    kernel::CgroupLimits limits;
    if (const json* memory = SpecReader::member(value, "memory")) {
        reader.object(*memory, "linux.resources.memory");
        if (const json* limit = SpecReader::member(*memory, "limit")) {
            auto bytes = reader.integer(*limit, "linux.resources.memory.limit");
            if (bytes == 0 || bytes < -1) reader.fail("linux.resources.memory.limit", "must be a positive number of bytes or -1");
            if (bytes > 0) limits.memory = static_cast<std::uint64_t>(bytes);
        }
        if (const json* swap = SpecReader::member(*memory, "swap")) {
            auto bytes = reader.integer(*swap, "linux.resources.memory.swap");
            if (bytes == -1) {
                limits.unlimited_swap = true;
            } else if (bytes <= 0) {
                reader.fail("linux.resources.memory.swap", "must be a positive number of bytes or -1");
            } else {
                if (limits.memory && static_cast<std::uint64_t>(bytes) < *limits.memory) {
                    reader.fail("linux.resources.memory.swap", "must not be below linux.resources.memory.limit");
                }
                limits.memory_swap = static_cast<std::uint64_t>(bytes);
            }
        }
    }
    if (const json* cpu = SpecReader::member(value, "cpu")) {
        reader.object(*cpu, "linux.resources.cpu");
        if (const json* shares = SpecReader::member(*cpu, "shares")) {
            auto weight = reader.unsigned_integer(*shares, "linux.resources.cpu.shares");
            if (weight > 0) limits.cpu_shares = weight;
        }
        std::optional<std::int64_t> quota;
        std::uint64_t period = 100000;
        if (const json* value_quota = SpecReader::member(*cpu, "quota")) quota = reader.integer(*value_quota, "linux.resources.cpu.quota");
        if (const json* value_period = SpecReader::member(*cpu, "period")) {
            period = reader.unsigned_integer(*value_period, "linux.resources.cpu.period");
            if (period < 1000 || period > 1000000) reader.fail("linux.resources.cpu.period", "must be between 1000 and 1000000 microseconds");
        }
        if (quota && *quota > 0) limits.cpus = static_cast<double>(*quota) / static_cast<double>(period);
        if (quota && *quota == 0) reader.fail("linux.resources.cpu.quota", "must be positive, or -1 for no limit");
    }
    if (const json* pids = SpecReader::member(value, "pids")) {
        reader.object(*pids, "linux.resources.pids");
        auto limit = reader.integer(reader.required(*pids, "linux.resources.pids", "limit"), "linux.resources.pids.limit");
        if (limit > 0) limits.pids = limit;
    }
    if (const json* devices = SpecReader::member(value, "devices")) limits.devices = read_device_rules(reader, *devices);
    return limits;
}

kernel::SeccompProfile read_seccomp(const SpecReader& reader, const json& value) {
    static const std::set<std::string> actions{"SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                                               "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
                                               "SCMP_ACT_ALLOW", "SCMP_ACT_LOG"};
    static const std::set<std::string> operators{"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",       "SCMP_CMP_EQ",
                                                 "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"};
    const std::string path = "linux.seccomp";
    reader.object(value, path);
    auto action = [&](const json& item, const std::string& item_path) {
        auto name = reader.string(item, item_path);
        if (!actions.contains(name)) reader.fail(item_path, "unknown action '" + name + "'");
        return name;
    };

    kernel::SeccompProfile profile;
    profile.default_action = action(reader.required(value, path, "defaultAction"), path + ".defaultAction");
    if (const json* errno_ret = SpecReader::member(value, "defaultErrnoRet")) {
        profile.default_errno_ret = reader.id(*errno_ret, path + ".defaultErrnoRet");
    }
    if (const json* architectures = SpecReader::member(value, "architectures")) {
        profile.architectures = reader.strings(*architectures, path + ".architectures");
    }
    if (const json* flags = SpecReader::member(value, "flags")) reader.strings(*flags, path + ".flags");
    if (SpecReader::member(value, "listenerPath")) reader.fail(path + ".listenerPath", "seccomp notification is not supported");

    if (const json* syscalls = SpecReader::member(value, "syscalls")) {
        const auto& items = reader.array(*syscalls, path + ".syscalls");
        for (size_t i = 0; i < items.size(); ++i) {
            auto rule_path = SpecReader::index(path + ".syscalls", i);
            reader.object(items[i], rule_path);
            kernel::SeccompRule rule;
            rule.names = reader.strings(reader.required(items[i], rule_path, "names"), rule_path + ".names");
            if (rule.names.empty()) reader.fail(rule_path + ".names", "must name at least one system call");
            rule.action = action(reader.required(items[i], rule_path, "action"), rule_path + ".action");
            if (const json* errno_ret = SpecReader::member(items[i], "errnoRet")) rule.errno_ret = reader.id(*errno_ret, rule_path + ".errnoRet");
            if (const json* args = SpecReader::member(items[i], "args")) {
                const auto& arguments = reader.array(*args, rule_path + ".args");
                for (size_t j = 0; j < arguments.size(); ++j) {
                    auto argument_path = SpecReader::index(rule_path + ".args", j);
                    reader.object(arguments[j], argument_path);
                    kernel::SeccompArgument argument;
                    auto argument_index = reader.unsigned_integer(reader.required(arguments[j], argument_path, "index"), argument_path + ".index");
                    if (argument_index > 5) reader.fail(argument_path + ".index", "must be between 0 and 5");
                    argument.index = static_cast<unsigned>(argument_index);
                    argument.value = reader.unsigned_integer(reader.required(arguments[j], argument_path, "value"), argument_path + ".value");
                    if (const json* two = SpecReader::member(arguments[j], "valueTwo")) {
                        argument.value_two = reader.unsigned_integer(*two, argument_path + ".valueTwo");
                    }
                    argument.op = reader.string(reader.required(arguments[j], argument_path, "op"), argument_path + ".op");
                    if (!operators.contains(argument.op)) reader.fail(argument_path + ".op", "unknown operator '" + argument.op + "'");
                    rule.args.push_back(std::move(argument));
                }
            }
            profile.syscalls.push_back(std::move(rule));
        }
    }
    return profile;
}

std::vector<OciHook> read_hook_list(const SpecReader& reader, const json& value, const std::string& path) {
    std::vector<OciHook> hooks;
    const auto& items = reader.array(value, path);
    for (size_t i = 0; i < items.size(); ++i) {
        auto hook_path = SpecReader::index(path, i);
        reader.object(items[i], hook_path);
        OciHook hook;
        hook.path = reader.string(reader.required(items[i], hook_path, "path"), hook_path + ".path");
        if (hook.path.empty() || hook.path.front() != '/') reader.fail(hook_path + ".path", "must be an absolute path");
        if (const json* args = SpecReader::member(items[i], "args")) hook.args = reader.strings(*args, hook_path + ".args");
        if (const json* env = SpecReader::member(items[i], "env")) hook.env = reader.strings(*env, hook_path + ".env");
        if (const json* timeout = SpecReader::member(items[i], "timeout")) {
            auto seconds = reader.integer(*timeout, hook_path + ".timeout");
            if (seconds <= 0 || seconds > 86400) reader.fail(hook_path + ".timeout", "must be a positive number of seconds");
            hook.timeout = static_cast<int>(seconds);
        }
        hooks.push_back(std::move(hook));
    }
    return hooks;
}

OciHooks read_hooks(const SpecReader& reader, const json& value) {
    reader.object(value, "hooks");
    OciHooks hooks;
    const std::pair<const char*, std::vector<OciHook>*> lists[] = {{"prestart", &hooks.prestart},
                                                                   {"createRuntime", &hooks.create_runtime},
                                                                   {"poststart", &hooks.poststart},
                                                                   {"poststop", &hooks.poststop}};
    for (const auto& [key, list] : lists) {
        if (const json* items = SpecReader::member(value, key)) *list = read_hook_list(reader, *items, std::string("hooks.") + key);
    }
    for (const char* key : {"createContainer", "startContainer"}) {
        if (const json* items = SpecReader::member(value, key); items && !reader.array(*items, std::string("hooks.") + key).empty()) {
            reader.fail(std::string("hooks.") + key, "hooks run inside the container are not supported");
        }
    }
    return hooks;
}

void read_linux(const SpecReader& reader, const json& value, OciSpec& spec) {
    reader.object(value, "linux");
    spec.namespaces = read_namespaces(reader, reader.required(value, "linux", "namespaces"));
    if (const json* resources = SpecReader::member(value, "resources")) spec.resources = read_resources(reader, *resources);
    if (const json* seccomp = SpecReader::member(value, "seccomp")) spec.seccomp = read_seccomp(reader, *seccomp);
    if (const json* masked = SpecReader::member(value, "maskedPaths")) spec.masked_paths = reader.strings(*masked, "linux.maskedPaths");
    if (const json* readonly = SpecReader::member(value, "readonlyPaths")) {
        spec.readonly_paths = reader.strings(*readonly, "linux.readonlyPaths");
    }
    for (const char* key : {"uidMappings", "gidMappings"}) {
        if (const json* mappings = SpecReader::member(value, key); mappings && !reader.array(*mappings, std::string("linux.") + key).empty()) {
            reader.fail(std::string("linux.") + key, "user namespaces are not supported");
        }
    }
    const std::pair<const char*, const std::vector<std::string>*> path_lists[] = {
        {"linux.maskedPaths", &spec.masked_paths}, {"linux.readonlyPaths", &spec.readonly_paths}};
    for (const auto& [list_path, paths] : path_lists) {
        for (size_t i = 0; i < paths->size(); ++i) {
            const auto& path = (*paths)[i];
            if (path.empty() || path.front() != '/') reader.fail(SpecReader::index(list_path, i), "must be an absolute path");
        }
    }
}

}  // namespace

const OciNamespace* OciSpec::find_namespace(std::string_view type) const {
    for (const auto& entry : namespaces) {
        if (entry.type == type) return &entry;
    }
    return nullptr;
}

OciSpec parse_spec(std::string_view text, const std::string& source) {
    json document;
    try {
        document = json::parse(text);
    } catch (const json::parse_error& error) {
        throw Error(source + ": not valid JSON at byte " + std::to_string(error.byte));
    } catch (const json::out_of_range& error) {
        // A number beyond the range of a double, such as 1e999.
        throw Error(source + ": not valid JSON: " + error.what());
    }
    SpecReader reader(source);
    if (!document.is_object()) reader.fail("(root)", "must be an object");
    reader.reject_nul_bytes(document, "");

    OciSpec spec;
    spec.oci_version = reader.string(reader.required(document, "", "ociVersion"), "ociVersion");
    if (spec.oci_version.rfind("1.", 0) != 0) {
        reader.fail("ociVersion", "'" + spec.oci_version + "' is not supported: isolab reads runtime spec 1.x");
    }

    const json& root = reader.object(reader.required(document, "", "root"), "root");
    spec.root_path = reader.string(reader.required(root, "root", "path"), "root.path");
    if (spec.root_path.empty()) reader.fail("root.path", "must not be empty");
    if (const json* readonly = SpecReader::member(root, "readonly")) spec.root_readonly = reader.boolean(*readonly, "root.readonly");

    spec.process = read_process(reader, reader.required(document, "", "process"));
    if (const json* mounts = SpecReader::member(document, "mounts")) spec.mounts = read_mounts(reader, *mounts);
    if (const json* hostname = SpecReader::member(document, "hostname")) spec.hostname = reader.string(*hostname, "hostname");
    if (const json* domainname = SpecReader::member(document, "domainname")) reader.string(*domainname, "domainname");
    read_linux(reader, reader.required(document, "", "linux"), spec);
    if (const json* hooks = SpecReader::member(document, "hooks")) spec.hooks = read_hooks(reader, *hooks);
    if (const json* annotations = SpecReader::member(document, "annotations")) {
        reader.object(*annotations, "annotations");
        for (const auto& [key, item] : annotations->items()) spec.annotations[key] = reader.string(item, "annotations." + key);
    }

    if (!spec.hostname.empty()) {
        const OciNamespace* uts = spec.find_namespace("uts");
        if (uts == nullptr || !uts->path.empty()) reader.fail("hostname", "needs a new uts namespace in linux.namespaces");
        try {
            kernel::validate_hostname(spec.hostname);
        } catch (const Error& error) {
            reader.fail("hostname", error.what(), error.hint());
        }
    }
    return spec;
}

}  // namespace isolab::oci
