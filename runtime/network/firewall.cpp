#include "runtime/network/firewall.hpp"

#include <sstream>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"
#include "runtime/core/process.hpp"
#include "runtime/network/netlink.hpp"

namespace isolab::network {

namespace {

constexpr const char* nat_chain = "ISOLAB-POSTROUTING";
constexpr const char* forward_chain = "ISOLAB-FORWARD";

// One isolab chain and the built-in chain that jumps to it.
struct ChainSpec {
    const char* table;
    const char* chain;
    const char* parent;
};

constexpr ChainSpec nat_spec{"nat", nat_chain, "POSTROUTING"};
constexpr ChainSpec forward_spec{"filter", forward_chain, "FORWARD"};

// Runs iptables with -w, so it waits for the xtables lock another process holds.
CommandResult iptables(const std::string& table, std::vector<std::string> arguments) {
    std::vector<std::string> argv = {"iptables", "-w", "5", "-t", table};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return run_command(argv);
}

void iptables_checked(const std::string& table, const std::vector<std::string>& arguments) {
    auto result = iptables(table, arguments);
    if (result.exit_code != 0) {
        std::string text;
        for (const auto& argument : arguments) text += " " + argument;
        throw Error("iptables -t " + table + text + " failed: " + result.output,
                    "check that iptables works on this host ('iptables -t " + table + " -S')");
    }
}

std::vector<std::vector<std::string>> bridge_rules(const std::string& bridge, const std::string& subnet) {
    return {
        {"-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"},
        {"-i", bridge, "-j", "ACCEPT"},
        {"-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"},
    };
}

bool chain_exists(const ChainSpec& spec) { return iptables(spec.table, {"-S", spec.chain}).exit_code == 0; }

// Creates the chain and the jump to it, each unless present. FORWARD gets the jump
// first, so a DROP rule of the host's own further down cannot stop container traffic.
void ensure_chain(const ChainSpec& spec) {
    if (!chain_exists(spec)) iptables_checked(spec.table, {"-N", spec.chain});
    if (iptables(spec.table, {"-C", spec.parent, "-j", spec.chain}).exit_code != 0) {
        if (std::string(spec.parent) == "FORWARD") {
            iptables_checked(spec.table, {"-I", spec.parent, "1", "-j", spec.chain});
        } else {
            iptables_checked(spec.table, {"-A", spec.parent, "-j", spec.chain});
        }
    }
}

// The rules of a chain as `iptables -S CHAIN` prints them, without its "-N" line.
std::vector<std::string> chain_rules(const ChainSpec& spec) {
    auto result = iptables(spec.table, {"-S", spec.chain});
    std::vector<std::string> rules;
    if (result.exit_code != 0) return rules;
    std::istringstream lines(result.output);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind("-A ", 0) == 0) rules.push_back(line);
    }
    return rules;
}

// Deletes the chain and its jump when the chain has no rules left.
void remove_chain_if_empty(const ChainSpec& spec) {
    if (!chain_exists(spec) || !chain_rules(spec).empty()) return;
    while (iptables(spec.table, {"-D", spec.parent, "-j", spec.chain}).exit_code == 0) {
    }
    auto result = iptables(spec.table, {"-X", spec.chain});
    if (result.exit_code != 0) spdlog::warn("net: cannot delete iptables chain {}: {}", spec.chain, result.output);
}

std::vector<std::string> split_words(const std::string& line) {
    std::istringstream words(line);
    std::vector<std::string> result;
    for (std::string word; words >> word;) result.push_back(word);
    return result;
}

// The isolab bridge a rule names with -i or -o, or empty.
std::string rule_bridge(const std::vector<std::string>& words) {
    for (size_t i = 0; i + 1 < words.size(); ++i) {
        if ((words[i] == "-i" || words[i] == "-o") && words[i + 1].rfind("isolab", 0) == 0) return words[i + 1];
    }
    return {};
}

}  // namespace

void add_bridge_rules(const std::string& bridge, const std::string& subnet) {
    ensure_chain(nat_spec);
    ensure_chain(forward_spec);
    auto rules = bridge_rules(bridge, subnet);
    for (size_t i = 0; i < rules.size(); ++i) {
        const auto& spec = i == 0 ? nat_spec : forward_spec;
        std::vector<std::string> check = {"-C", spec.chain};
        check.insert(check.end(), rules[i].begin(), rules[i].end());
        if (iptables(spec.table, check).exit_code == 0) continue;
        std::vector<std::string> append = {"-A", spec.chain};
        append.insert(append.end(), rules[i].begin(), rules[i].end());
        iptables_checked(spec.table, append);
    }
    spdlog::debug("net: iptables rules for {} ({}) added", bridge, subnet);
}

void remove_bridge_rules(const std::string& bridge, const std::string& subnet) {
    try {
        auto rules = bridge_rules(bridge, subnet);
        for (size_t i = 0; i < rules.size(); ++i) {
            const auto& spec = i == 0 ? nat_spec : forward_spec;
            std::vector<std::string> remove = {"-D", spec.chain};
            remove.insert(remove.end(), rules[i].begin(), rules[i].end());
            while (iptables(spec.table, remove).exit_code == 0) {
            }
        }
        remove_chain_if_empty(nat_spec);
        remove_chain_if_empty(forward_spec);
        spdlog::debug("net: iptables rules for {} ({}) removed", bridge, subnet);
    } catch (const Error& error) {
        spdlog::warn("net: cannot remove the iptables rules of {}: {}", bridge, error.one_line());
    }
}

std::vector<std::string> prune_stale_rules() {
    std::vector<std::string> removed;
    for (const auto* spec : {&nat_spec, &forward_spec}) {
        for (const auto& rule : chain_rules(*spec)) {
            auto words = split_words(rule);
            auto bridge = rule_bridge(words);
            if (bridge.empty() || link_exists(bridge)) continue;
            words[0] = "-D";
            if (iptables(spec->table, words).exit_code == 0) removed.push_back(rule);
        }
    }
    remove_chain_if_empty(nat_spec);
    remove_chain_if_empty(forward_spec);
    return removed;
}

bool ip_forwarding_enabled() {
    try {
        return read_file("/proc/sys/net/ipv4/ip_forward").rfind("1", 0) == 0;
    } catch (const Error&) {
        return false;
    }
}

}  // namespace isolab::network
