#include "runtime/linux/seccomp_profile.hpp"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "runtime/core/digest.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"

namespace isolab::kernel {

namespace {

using nlohmann::json;

// ---- Parsing ---------------------------------------------------------------------------

const std::set<std::string>& known_actions() {
    static const std::set<std::string> actions{"SCMP_ACT_ALLOW",       "SCMP_ACT_ERRNO",       "SCMP_ACT_KILL",
                                               "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP",
                                               "SCMP_ACT_TRACE",       "SCMP_ACT_LOG"};
    return actions;
}

const std::map<std::string, scmp_compare>& known_operators() {
    static const std::map<std::string, scmp_compare> operators{
        {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
        {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
        {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
    return operators;
}

// Returns libseccomp's token for "SCMP_ARCH_X86_64" and the like, or 0 when unknown.
std::uint32_t resolve_architecture(const std::string& name) {
    std::string short_name = name.rfind("SCMP_ARCH_", 0) == 0 ? name.substr(10) : name;
    for (auto& c : short_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return seccomp_arch_resolve_name(short_name.c_str());
}

// Reads profile values and reports a bad one with its JSON path.
class ProfileReader {
public:
    explicit ProfileReader(std::string source) : source_(std::move(source)) {}

    [[noreturn]] void fail(const std::string& path, const std::string& problem) const {
        throw Error("invalid seccomp profile " + source_ + ": " + path + " " + problem,
                    "fix that value; the format is Docker's seccomp profile format");
    }

    static std::string member(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

    const json& require(const json& object, const std::string& key, const std::string& path) const {
        if (!object.contains(key)) fail(member(path, key), "is missing");
        return object.at(key);
    }

    std::string string(const json& value, const std::string& path) const {
        if (!value.is_string()) fail(path, "must be a string");
        return value.get<std::string>();
    }

    std::uint64_t number(const json& value, const std::string& path) const {
        if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<std::int64_t>() >= 0)) {
            fail(path, "must be a non-negative integer");
        }
        return value.get<std::uint64_t>();
    }

    std::vector<std::string> strings(const json& value, const std::string& path) const {
        if (value.is_null()) return {};
        if (!value.is_array()) fail(path, "must be an array of strings");
        std::vector<std::string> result;
        for (size_t i = 0; i < value.size(); ++i) result.push_back(string(value[i], path + "[" + std::to_string(i) + "]"));
        return result;
    }

    std::string action(const json& value, const std::string& path) const {
        auto name = string(value, path);
        if (!known_actions().contains(name)) fail(path, "is an unknown action '" + name + "'");
        return name;
    }

    std::optional<std::uint32_t> errno_value(const json& object, const std::string& key, const std::string& path) const {
        if (!object.contains(key) || object[key].is_null()) return std::nullopt;
        auto value = number(object[key], member(path, key));
        if (value > 4095) fail(member(path, key), "must be an errno number below 4096");
        return static_cast<std::uint32_t>(value);
    }

    SeccompCondition condition(const json& object, const std::string& path) const {
        SeccompCondition condition;
        if (object.is_null()) return condition;
        if (!object.is_object()) fail(path, "must be an object");
        if (object.contains("caps")) condition.caps = strings(object["caps"], path + ".caps");
        if (object.contains("arches")) condition.arches = strings(object["arches"], path + ".arches");
        if (object.contains("minKernel") && !object["minKernel"].is_null()) {
            condition.min_kernel = string(object["minKernel"], path + ".minKernel");
        }
        return condition;
    }

    SeccompArgument argument(const json& object, const std::string& path) const {
        if (!object.is_object()) fail(path, "must be an object");
        SeccompArgument argument;
        argument.index = static_cast<unsigned>(number(require(object, "index", path), path + ".index"));
        if (argument.index > 5) fail(path + ".index", "must be between 0 and 5");
        argument.value = number(require(object, "value", path), path + ".value");
        if (object.contains("valueTwo")) argument.value_two = number(object["valueTwo"], path + ".valueTwo");
        argument.op = string(require(object, "op", path), path + ".op");
        if (!known_operators().contains(argument.op)) fail(path + ".op", "is an unknown operator '" + argument.op + "'");
        return argument;
    }

    SeccompRule rule(const json& object, const std::string& path) const {
        if (!object.is_object()) fail(path, "must be an object");
        SeccompRule rule;
        if (object.contains("names")) rule.names = strings(object["names"], path + ".names");
        if (object.contains("name")) rule.names.push_back(string(object["name"], path + ".name"));
        if (rule.names.empty()) fail(path + ".names", "is missing or empty");
        rule.action = action(require(object, "action", path), path + ".action");
        rule.errno_ret = errno_value(object, "errnoRet", path);
        if (object.contains("args") && !object["args"].is_null()) {
            const auto& args = object["args"];
            if (!args.is_array()) fail(path + ".args", "must be an array");
            for (size_t i = 0; i < args.size(); ++i) {
                rule.args.push_back(argument(args[i], path + ".args[" + std::to_string(i) + "]"));
            }
        }
        if (object.contains("includes")) rule.includes = condition(object["includes"], path + ".includes");
        if (object.contains("excludes")) rule.excludes = condition(object["excludes"], path + ".excludes");
        return rule;
    }

private:
    std::string source_;
};

// ---- Building the filter ----------------------------------------------------------------

// The architecture name Docker uses in includes/excludes "arches" for this build.
const char* native_docker_arch() {
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__i386__)
    return "x86";
#elif defined(__arm__)
    return "arm";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "ppc64le";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64";
#else
    return "unknown";
#endif
}

// Compares "major.minor" release strings numerically.
bool kernel_at_least(const std::string& minimum) {
    utsname name{};
    uname(&name);
    int major = 0, minor = 0, wanted_major = 0, wanted_minor = 0;
    std::sscanf(name.release, "%d.%d", &major, &minor);
    std::sscanf(minimum.c_str(), "%d.%d", &wanted_major, &wanted_minor);
    return major > wanted_major || (major == wanted_major && minor >= wanted_minor);
}

std::string capability_name(const std::string& name) {
    std::string upper;
    for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return upper.rfind("CAP_", 0) == 0 ? upper : "CAP_" + upper;
}

// Decides whether a rule applies, as Docker does. Every "includes" capability must be held
// and the architecture listed; no "excludes" capability may be held or architecture match.
bool rule_applies(const SeccompRule& rule, const std::set<std::string>& held) {
    const std::string arch = native_docker_arch();
    auto listed = [](const std::vector<std::string>& list, const std::string& value) {
        return std::find(list.begin(), list.end(), value) != list.end();
    };
    if (!rule.includes.arches.empty() && !listed(rule.includes.arches, arch)) return false;
    for (const auto& cap : rule.includes.caps) {
        if (!held.contains(capability_name(cap))) return false;
    }
    if (!rule.includes.min_kernel.empty() && !kernel_at_least(rule.includes.min_kernel)) return false;
    if (listed(rule.excludes.arches, arch)) return false;
    for (const auto& cap : rule.excludes.caps) {
        if (held.contains(capability_name(cap))) return false;
    }
    if (!rule.excludes.min_kernel.empty() && kernel_at_least(rule.excludes.min_kernel)) return false;
    return true;
}

std::uint32_t to_libseccomp_action(const std::string& action, std::optional<std::uint32_t> errno_ret) {
    if (action == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
    if (action == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(errno_ret.value_or(EPERM));
    if (action == "SCMP_ACT_KILL" || action == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
    if (action == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
    if (action == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
    if (action == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(errno_ret.value_or(EPERM));
    if (action == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
    throw Error("unknown seccomp action '" + action + "'");
}

class FilterContext {
public:
    explicit FilterContext(std::uint32_t default_action) : context_(seccomp_init(default_action)) {
        if (context_ == nullptr) throw Error("cannot create a seccomp filter (seccomp_init failed)");
    }
    ~FilterContext() { seccomp_release(context_); }
    FilterContext(const FilterContext&) = delete;
    FilterContext& operator=(const FilterContext&) = delete;
    scmp_filter_ctx get() const { return context_; }

private:
    scmp_filter_ctx context_;
};

void add_architectures(scmp_filter_ctx context, const std::vector<std::string>& architectures) {
    for (const auto& name : architectures) {
        std::uint32_t arch = resolve_architecture(name);
        if (arch == 0) throw Error("unknown seccomp architecture '" + name + "'", "use names such as SCMP_ARCH_X86_64");
        int result = seccomp_arch_add(context, arch);
        if (result < 0 && result != -EEXIST) throw_errno(-result, "seccomp: add architecture " + name);
    }
}

// Adds the rules for one system call the way runc reads Docker profiles. Comparisons of
// distinct arguments must all hold, so they form one libseccomp rule. Several comparisons
// of the same argument become one rule each, so any one of them matches.
void add_rule(scmp_filter_ctx context, int number, std::uint32_t action, const std::vector<SeccompArgument>& args,
              const std::string& name) {
    auto comparison = [](const SeccompArgument& argument) {
        return scmp_arg_cmp{argument.index, known_operators().at(argument.op), argument.value, argument.value_two};
    };
    std::set<unsigned> indices;
    for (const auto& argument : args) indices.insert(argument.index);

    std::vector<std::vector<scmp_arg_cmp>> rules;
    if (indices.size() == args.size()) {
        std::vector<scmp_arg_cmp> all;
        for (const auto& argument : args) all.push_back(comparison(argument));
        rules.push_back(all);
    } else {
        for (const auto& argument : args) rules.push_back({comparison(argument)});
    }
    for (const auto& comparisons : rules) {
        int result = seccomp_rule_add_array(context, action, number, static_cast<unsigned>(comparisons.size()),
                                            comparisons.empty() ? nullptr : comparisons.data());
        // A negative number is a call this architecture lacks; libseccomp may refuse it.
        if (result < 0 && number < 0) return;
        if (result < 0) throw_errno(-result, "seccomp: rule for " + name);
    }
}

}  // namespace

SeccompProfile parse_seccomp_profile(std::string_view text, const std::string& source) {
    json document;
    try {
        document = json::parse(text);
    } catch (const json::parse_error& error) {
        throw Error("invalid seccomp profile " + source + ": not valid JSON at byte " + std::to_string(error.byte),
                    "check the file with a JSON validator");
    } catch (const json::out_of_range& error) {
        // A number beyond the range of a double, such as 1e999.
        throw Error("invalid seccomp profile " + source + ": " + error.what(), "check the file with a JSON validator");
    }
    ProfileReader reader(source);
    if (!document.is_object()) reader.fail("(top level)", "must be an object");

    SeccompProfile profile;
    profile.default_action = reader.action(reader.require(document, "defaultAction", ""), "defaultAction");
    profile.default_errno_ret = reader.errno_value(document, "defaultErrnoRet", "");
    if (document.contains("architectures")) {
        profile.architectures = reader.strings(document["architectures"], "architectures");
    }
    if (document.contains("archMap") && document["archMap"].is_array()) {
        const auto& map = document["archMap"];
        for (size_t i = 0; i < map.size(); ++i) {
            auto path = "archMap[" + std::to_string(i) + "]";
            if (!map[i].is_object()) reader.fail(path, "must be an object");
            profile.architectures.push_back(reader.string(reader.require(map[i], "architecture", path), path + ".architecture"));
            if (map[i].contains("subArchitectures")) {
                for (auto& sub : reader.strings(map[i]["subArchitectures"], path + ".subArchitectures")) {
                    profile.architectures.push_back(sub);
                }
            }
        }
    }
    for (const auto& name : profile.architectures) {
        if (resolve_architecture(name) == 0) reader.fail("architectures", "names an unknown architecture '" + name + "'");
    }
    if (document.contains("syscalls") && !document["syscalls"].is_null()) {
        const auto& syscalls = document["syscalls"];
        if (!syscalls.is_array()) reader.fail("syscalls", "must be an array");
        for (size_t i = 0; i < syscalls.size(); ++i) {
            profile.syscalls.push_back(reader.rule(syscalls[i], "syscalls[" + std::to_string(i) + "]"));
        }
    }
    return profile;
}

SeccompProfile read_seccomp_profile(const std::string& path) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) {
        throw Error("seccomp profile " + path + " not found", "give the path of a JSON profile file");
    }
    return parse_seccomp_profile(read_file(path), path);
}

namespace {

std::set<std::string> held_capability_names(const std::vector<cap_value_t>& capabilities) {
    std::set<std::string> held;
    for (auto value : capabilities) {
        char* name = cap_to_name(value);
        if (name != nullptr) {
            held.insert(capability_name(name));
            cap_free(name);
        }
    }
    return held;
}

// Fills `context` with the profile's rules that apply to a process holding `capabilities`.
void add_profile_rules(const FilterContext& context, std::uint32_t default_action, const SeccompProfile& profile,
                       const std::vector<cap_value_t>& capabilities) {
    auto held = held_capability_names(capabilities);
    add_architectures(context.get(), profile.architectures);

    size_t rules = 0;
    for (const auto& rule : profile.syscalls) {
        if (!rule_applies(rule, held)) continue;
        auto action = to_libseccomp_action(rule.action, rule.errno_ret);
        // libseccomp rejects a rule whose action is the default action, and it would change nothing.
        if (action == default_action) continue;
        for (const auto& name : rule.names) {
            int number = seccomp_syscall_resolve_name(name.c_str());
            if (number == __NR_SCMP_ERROR) {
                spdlog::debug("seccomp: libseccomp does not know the system call {}, skipped", name);
                continue;
            }
            add_rule(context.get(), number, action, rule.args, name);
            ++rules;
        }
    }
    spdlog::debug("seccomp: filter built with {} rules, default action {}", rules, profile.default_action);
}

// The text the cache key is the digest of: everything that decides the compiled program,
// which is the applicable rules, this kernel (rules may name a minimum kernel), the
// architecture and the libseccomp version that compiles them.
std::string program_cache_key(const SeccompProfile& profile, const std::vector<cap_value_t>& capabilities) {
    auto held = held_capability_names(capabilities);
    nlohmann::json key;
    utsname host{};
    uname(&host);
    const scmp_version* version = seccomp_version();
    key["kernel"] = std::string(host.release) + " " + host.machine;
    key["libseccomp"] = fmt::format("{}.{}.{}", version->major, version->minor, version->micro);
    key["default"] = {profile.default_action, profile.default_errno_ret.value_or(EPERM)};
    key["architectures"] = profile.architectures;
    key["rules"] = nlohmann::json::array();
    for (const auto& rule : profile.syscalls) {
        if (!rule_applies(rule, held)) continue;
        nlohmann::json args = nlohmann::json::array();
        for (const auto& argument : rule.args) {
            args.push_back({argument.index, argument.value, argument.value_two, argument.op});
        }
        key["rules"].push_back({rule.names, rule.action, rule.errno_ret.value_or(EPERM), args});
    }
    return sha256_digest(key.dump()).substr(7);
}

SeccompProgram export_program(const FilterContext& context) {
    int memory = memfd_create("isolab-seccomp", MFD_CLOEXEC);
    if (memory < 0) throw_errno("seccomp: memfd_create");
    std::string bytes;
    try {
        int result = seccomp_export_bpf(context.get(), memory);
        if (result < 0) throw_errno(-result, "seccomp: export the filter");
        bytes = read_file("/proc/self/fd/" + std::to_string(memory));
    } catch (...) {
        close(memory);
        throw;
    }
    close(memory);
    return program_from_bytes(bytes);
}

}  // namespace

SeccompProgram program_from_bytes(std::string_view bytes) {
    if (bytes.empty() || bytes.size() % sizeof(sock_filter) != 0 || bytes.size() / sizeof(sock_filter) > BPF_MAXINSNS) {
        throw Error("invalid seccomp program of " + std::to_string(bytes.size()) + " bytes");
    }
    SeccompProgram program(bytes.size() / sizeof(sock_filter));
    std::memcpy(program.data(), bytes.data(), bytes.size());
    return program;
}

SeccompProgram compile_seccomp_profile(const SeccompProfile& profile, const std::vector<cap_value_t>& capabilities) {
    auto default_action = to_libseccomp_action(profile.default_action, profile.default_errno_ret);
    FilterContext context(default_action);
    add_profile_rules(context, default_action, profile, capabilities);
    return export_program(context);
}

SeccompProgram cached_seccomp_program(const SeccompProfile& profile, const std::vector<cap_value_t>& capabilities,
                                      const std::filesystem::path& folder) {
    auto file = folder / (program_cache_key(profile, capabilities) + ".bpf");
    std::error_code error;
    if (std::filesystem::is_regular_file(file, error)) {
        try {
            return program_from_bytes(read_file(file));
        } catch (const Error& damaged) {
            spdlog::warn("seccomp: ignoring cached program {}: {}", file.string(), damaged.what());
        }
    }
    auto program = compile_seccomp_profile(profile, capabilities);
    try {
        std::filesystem::create_directories(folder);
        write_file_atomic(file, std::string(reinterpret_cast<const char*>(program.data()), program.size() * sizeof(sock_filter)));
    } catch (const std::exception& failure) {
        spdlog::debug("seccomp: cannot cache the program in {}: {}", folder.string(), failure.what());
    }
    return program;
}

void load_seccomp_program(const SeccompProgram& program) {
    sock_fprog header{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &header, 0, 0) != 0) throw_errno("seccomp: load the filter");
}

void load_seccomp_profile(const SeccompProfile& profile, const std::vector<cap_value_t>& capabilities) {
    auto default_action = to_libseccomp_action(profile.default_action, profile.default_errno_ret);
    FilterContext context(default_action);
    add_profile_rules(context, default_action, profile, capabilities);
    int result = seccomp_load(context.get());
    if (result < 0) throw_errno(-result, "seccomp: load the filter");
}

}  // namespace isolab::kernel
