#pragma once
// Domain XML for an isolab guest: direct kernel boot, a serial console, and no device the
// workload does not need. Also the checks on what the user asks for (memory size, name).
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace isolab::vm::libvirt {

// Prefix of every domain isolab creates, so `isolab system prune` can find leftovers.
inline constexpr std::string_view kDomainPrefix = "isolab-";

// Smallest guest RAM accepted. Debian 12's 6.1 kernel, booted from its 63 MiB vmlinux
// under TCG, panicked before writing to the console with 64 MiB. With 128 MiB the guest
// kept 80 MiB for itself (MemTotal) in both guest forms.
inline constexpr std::uint64_t kMinimumMemoryMib = 128;

// Returns the guest memory in MiB to advise for booting an initramfs of `bytes`. The
// kernel keeps it in RAM and unpacks it into a tmpfs of at most half the rest, so the
// advice is three times its size plus 64 MiB for the kernel, rounded up to 64 MiB.
std::uint64_t initramfs_memory_advice_mib(std::uint64_t bytes);

// Machine type used unless the caller picks another (see the measurement in domain_xml.cpp).
inline constexpr std::string_view kDefaultMachine = "pc";

// A host folder the guest mounts over virtio-9p, found in the guest by its mount tag.
struct SharedFolder {
    std::filesystem::path source;  // absolute host path
    std::string tag;               // mount tag, at most 31 bytes: "isolab0", "isolab1", ...
    bool read_only = false;        // QEMU rejects writes, whatever the guest mounts
};

struct DomainSpec {
    std::string name;                  // full domain name, with the isolab- prefix
    std::string domain_type = "qemu";  // "kvm" (hardware) or "qemu" (TCG emulation)
    std::string machine{kDefaultMachine};
    std::uint64_t memory_mib = 256;
    unsigned vcpus = 1;
    std::filesystem::path kernel;
    std::filesystem::path initrd;
    std::string cmdline;
    std::filesystem::path disk;        // per-VM qcow2 overlay; empty: no disk (initramfs form)
    std::string network;               // libvirt network to attach a NIC to; empty: no NIC
    std::string bridge;                // host bridge to attach a virtio NIC to; empty: none
    std::string tap_device;            // with `bridge`: the name libvirt gives the tap device
    std::vector<SharedFolder> shared_folders;
    bool memory_statistics = false;    // adds a virtio balloon that reports guest memory
    bool small_page_ram = false;       // guest RAM from a shared memfd in 4 KiB pages (uses_small_page_ram)
    std::filesystem::path console_log; // virtlogd copies the serial console here; empty: no log
    std::filesystem::path owner_root;  // the state root that started the domain, kept in <metadata>
};

// Returns whether a guest's RAM is a shared memfd in 4 KiB pages rather than anonymous
// memory, which QEMU marks for transparent huge pages: under TCG only. On a host that
// is itself a VM, first touches of fresh huge pages made cold TCG boots a third slower
// (docs/benchmarks.md). Under KVM, huge pages also shorten the guest's page walks.
bool uses_small_page_ram(std::string_view accelerator);

// The XML namespace of the <metadata> element naming the state root that owns a domain.
inline constexpr const char* kOwnerNamespace = "https://isolab.dev/xmlns/owner/1";

// The owner state root recorded in a domain's XML by build_domain_xml, else empty.
std::string owner_root_of(std::string_view domain_xml);

// Parses a --memory value ("256M", "16G", "16384M", "262144K") into bytes. Rejects with one
// clear message anything parse_size rejects, sizes that are not a whole number of MiB and
// sizes below kMinimumMemoryMib.
std::uint64_t parse_memory_size(std::string_view text);

// Returns the domain name for a user's --name (prefixed with "isolab-" unless it already
// starts with it) or, for an empty request, "isolab-<12 random hex digits>". Throws Error
// for characters libvirt or a shell would trip over.
std::string make_domain_name(std::string_view requested);

// Escapes &, <, >, ' and " for XML text and attribute values, and tab, line feed and
// carriage return as character references. Throws Error for other control characters,
// which XML 1.0 cannot carry.
std::string xml_escape(std::string_view text);

// Builds the domain XML. Throws Error when memory_mib is below the minimum or a required
// field (name, kernel) is empty.
std::string build_domain_xml(const DomainSpec& spec);

}  // namespace isolab::vm::libvirt
