#pragma once
// Outbound NAT for isolab bridges with iptables. isolab writes only to chains of its own,
// ISOLAB-POSTROUTING (nat table) and ISOLAB-FORWARD (filter table), and adds one jump rule
// to each from the built-in POSTROUTING and FORWARD chains while one of its chains has
// rules. The chains and jump rules go again when the last bridge's rules go.
#include <string>
#include <vector>

namespace isolab::network {

// Adds the rules of one bridge: MASQUERADE for traffic from `subnet` that leaves by
// another device, and ACCEPT in FORWARD for traffic from the bridge and replies to it.
// Throws Error when iptables fails.
void add_bridge_rules(const std::string& bridge, const std::string& subnet);

// Removes the rules of one bridge, then the chains and jumps when nothing else uses
// them. Errors of iptables are logged, not thrown, because this runs in destructors.
void remove_bridge_rules(const std::string& bridge, const std::string& subnet);

// Removes the rules in isolab's chains whose bridge no longer exists, and empty chains.
// Returns the rules it removed, as `iptables -S` prints them.
std::vector<std::string> prune_stale_rules();

// True when the kernel forwards IPv4 packets between devices (net.ipv4.ip_forward).
bool ip_forwarding_enabled();

}  // namespace isolab::network
