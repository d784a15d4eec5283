#include "vmdriver/libvirt/domain_xml.hpp"

#include <charconv>
#include <system_error>

#include <fmt/format.h>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"

namespace isolab::vm::libvirt {

namespace {

constexpr std::uint64_t kMib = 1ULL << 20;
constexpr size_t kMaxNameLength = 64;

bool is_name_character(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

std::string escaped_path(const std::filesystem::path& path) { return xml_escape(path.string()); }

// Machine type, pc (i440fx) over q35: q35 adds a PCIe root complex, an AHCI controller and
// more firmware tables for the kernel to walk, none of which an initramfs guest uses.
// Measured start-to-exit under TCG (Debian 6.1.0-57 bzImage, busybox initramfs, the
// trimmed command line, 256 MiB), one sample each on a 2-core host under a load average
// of about 12, so the absolute numbers are inflated and noisy:
//   bare qemu-system-x86_64: pc 41.9 s and 50.2 s, q35 51.1 s
//   through libvirt:         pc 70.0 s, q35 73.0 s
// NOTE: repeat on an idle host before trusting the size of the gap; pc was not slower in
// any sample.
// The <os> element: direct kernel boot, so no firmware boot menu, no bootloader and no
// disk scan happen before the kernel runs.
std::string os_xml(const DomainSpec& spec) {
    std::string xml = fmt::format("  <os>\n    <type arch='x86_64' machine='{}'>hvm</type>\n", xml_escape(spec.machine));
    xml += fmt::format("    <kernel>{}</kernel>\n", escaped_path(spec.kernel));
    if (!spec.initrd.empty()) xml += fmt::format("    <initrd>{}</initrd>\n", escaped_path(spec.initrd));
    xml += fmt::format("    <cmdline>{}</cmdline>\n", xml_escape(spec.cmdline));
    xml += "  </os>\n";
    return xml;
}

std::string disk_xml(const DomainSpec& spec) {
    if (spec.disk.empty()) return {};
    return fmt::format(
        "    <!-- The root filesystem in the disk form: the per-VM qcow2 overlay on the image's\n"
        "         base disk, on virtio-blk (one PCI function, no emulated IDE/SATA). -->\n"
        "    <disk type='file' device='disk'>\n"
        "      <driver name='qemu' type='qcow2'/>\n"
        "      <source file='{}'/>\n"
        "      <target dev='vda' bus='virtio'/>\n"
        "    </disk>\n",
        escaped_path(spec.disk));
}

std::string network_xml(const DomainSpec& spec) {
    if (spec.network.empty()) return {};
    return fmt::format(
        "    <!-- Requested network. The option ROM is for PXE boot, which direct kernel boot\n"
        "         never uses, so it is not loaded. -->\n"
        "    <interface type='network'>\n"
        "      <source network='{}'/>\n"
        "      <model type='virtio'/>\n"
        "      <rom enabled='no'/>\n"
        "    </interface>\n",
        xml_escape(spec.network));
}

std::string bridge_xml(const DomainSpec& spec) {
    if (spec.bridge.empty()) return {};
    std::string xml = fmt::format(
        "    <!-- A port of the isolab bridge, beside the containers' veth pairs. libvirt creates\n"
        "         the tap device with the given name and deletes it when QEMU exits. -->\n"
        "    <interface type='bridge'>\n"
        "      <source bridge='{}'/>\n",
        xml_escape(spec.bridge));
    if (!spec.tap_device.empty()) xml += fmt::format("      <target dev='{}'/>\n", xml_escape(spec.tap_device));
    xml += "      <model type='virtio'/>\n"
           "      <rom enabled='no'/>\n"
           "    </interface>\n";
    return xml;
}

// virtio-9p in "squash" mode (QEMU's security_model=none). QEMU runs as libvirt-qemu, so
// "passthrough" fails every create, which chowns the file to the guest's user; "mapped"
// keeps guest ownership in user.virtfs.* xattrs and leaves host files at mode 0600. In
// squash mode a file the guest creates belongs to the QEMU user and has the mode the
// guest asked for, and a failed chown is ignored.
std::string shared_folders_xml(const DomainSpec& spec) {
    std::string xml;
    for (const auto& folder : spec.shared_folders) {
        xml += fmt::format(
            "    <filesystem type='mount' accessmode='squash'>\n"
            "      <source dir='{}'/>\n"
            "      <target dir='{}'/>\n",
            escaped_path(folder.source), xml_escape(folder.tag));
        if (folder.read_only) xml += "      <readonly/>\n";
        xml += "    </filesystem>\n";
    }
    return xml;
}

std::string balloon_xml(const DomainSpec& spec) {
    if (spec.memory_statistics) {
        return "    <!-- Requested: the virtio balloon reports the guest's memory statistics. -->\n"
               "    <memballoon model='virtio'>\n      <stats period='1'/>\n    </memballoon>\n";
    }
    return "    <!-- libvirt adds a virtio balloon unless told not to. Nothing resizes the guest,\n"
           "         so it would only cost a PCI device and a driver probe. -->\n"
           "    <memballoon model='none'/>\n";
}

std::string devices_xml(const DomainSpec& spec) {
    std::string xml = "  <devices>\n";
    xml += "    <!-- libvirt adds a USB controller unless told not to. No USB device is used. -->\n"
           "    <controller type='usb' model='none'/>\n";
    xml += disk_xml(spec);
    xml += network_xml(spec);
    xml += bridge_xml(spec);
    xml += shared_folders_xml(spec);
    xml += "    <!-- The only way in and out: isolab-init reports phases and the exit code on\n"
           "         ttyS0, read through virDomainOpenConsole. No video, no graphics, no\n"
           "         tablet. libvirt 9.0 still lists the PS/2 keyboard and mouse, which are part\n"
           "         of the board's i8042 chip and cannot be removed on this machine type. -->\n"
           "    <serial type='pty'>\n";
    if (!spec.console_log.empty()) {
        // The pty stays, so virDomainOpenConsole still works; libvirt 9.0 has virtlogd
        // (running as root) copy every byte of the console into this file.
        xml += fmt::format("      <log file='{}' append='off'/>\n", escaped_path(spec.console_log));
    }
    xml += "      <target port='0'/>\n    </serial>\n"
           "    <console type='pty'>\n      <target type='serial' port='0'/>\n    </console>\n";
    xml += balloon_xml(spec);
    xml += "  </devices>\n";
    return xml;
}

// libvirt's DAC driver chowns <kernel>, <initrd> and disks to the QEMU user when a domain
// starts and restores the owner when it stops. Two VMs share one kernel and initramfs from
// the cache, so the first to stop would hand the files back to root while the second still
// runs, and a concurrent rebuild of the cache would race the chown. No relabelling at all
// is safe: isolab makes the shared files world-readable with every folder on their path
// traversable, gives each VM's folder (its initramfs contains the environment) to QEMU's
// group, and hands each VM's writable overlay to the QEMU user itself.
constexpr const char* kSeclabelXml = "  <seclabel type='none' model='dac'/>\n";

}  // namespace

std::uint64_t initramfs_memory_advice_mib(std::uint64_t bytes) {
    constexpr std::uint64_t step = 64 * kMib;
    return (3 * bytes + step + step - 1) / step * step / kMib;
}

std::uint64_t parse_memory_size(std::string_view text) {
    std::uint64_t bytes = 0;
    try {
        bytes = parse_size(text);
    } catch (const Error& error) {
        throw Error(fmt::format("invalid --memory {}: {}", text, error.what()),
                    "give a size such as 256M or 1G (K, M, G are powers of 1024)");
    }
    if (bytes % kMib != 0) {
        throw Error(fmt::format("invalid --memory {}: {} bytes is not a whole number of MiB", text, bytes),
                    "give a size such as 256M or 1G");
    }
    if (bytes / kMib < kMinimumMemoryMib) {
        throw Error(fmt::format("invalid --memory {}: {} MiB is below the minimum of {} MiB", text, bytes / kMib,
                                kMinimumMemoryMib),
                    fmt::format("give at least {}M", kMinimumMemoryMib));
    }
    return bytes;
}

std::string make_domain_name(std::string_view requested) {
    if (requested.empty()) return std::string(kDomainPrefix) + random_hex_id().substr(0, 12);

    for (char c : requested) {
        if (!is_name_character(c)) {
            throw Error(fmt::format("invalid VM name '{}': only letters, digits, '-', '_' and '.' are allowed",
                                    requested));
        }
    }
    std::string name(requested);
    if (!name.starts_with(kDomainPrefix)) name = std::string(kDomainPrefix) + name;
    if (name.size() > kMaxNameLength) {
        throw Error(fmt::format("invalid VM name '{}': longer than {} characters with the prefix", requested,
                                kMaxNameLength));
    }
    return name;
}

std::string xml_escape(std::string_view text) {
    std::string escaped;
    escaped.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&': escaped += "&amp;"; break;
            case '<': escaped += "&lt;"; break;
            case '>': escaped += "&gt;"; break;
            case '\'': escaped += "&apos;"; break;
            case '"': escaped += "&quot;"; break;
            // An XML parser turns raw tabs and line ends in an attribute into spaces, but a character
            // reference keeps them, in text and attributes alike.
            case '\t': escaped += "&#9;"; break;
            case '\n': escaped += "&#10;"; break;
            case '\r': escaped += "&#13;"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    throw Error(fmt::format("cannot put control character 0x{:02x} into domain XML: '{}'",
                                            static_cast<unsigned>(c), text));
                }
                escaped += c;
        }
    }
    return escaped;
}

namespace {

// Appends `code` as UTF-8. Returns false for a value that is no Unicode scalar.
bool append_utf8(std::string& out, unsigned long code) {
    if (code >= 0xd800 && code <= 0xdfff) return false;
    if (code < 0x80) {
        out += static_cast<char>(code);
    } else if (code < 0x800) {
        out += static_cast<char>(0xc0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
        out += static_cast<char>(0xe0 | (code >> 12));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (code & 0x3f));
    } else if (code < 0x110000) {
        out += static_cast<char>(0xf0 | (code >> 18));
        out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (code & 0x3f));
    } else {
        return false;
    }
    return true;
}

// Decodes a character reference ("&#252;" or "&#xFC;") at the start of `text` into
// `out`. Returns its length, or 0 when `text` does not start with a valid one.
size_t decode_character_reference(std::string_view text, std::string& out) {
    if (!text.starts_with("&#")) return 0;
    bool hex = text.size() > 2 && (text[2] == 'x' || text[2] == 'X');
    size_t digits_start = hex ? 3 : 2;
    size_t end = text.find(';', digits_start);
    if (end == std::string_view::npos || end == digits_start || end - digits_start > 8) return 0;
    unsigned long code = 0;
    auto digits = text.substr(digits_start, end - digits_start);
    auto [last, error] = std::from_chars(digits.data(), digits.data() + digits.size(), code, hex ? 16 : 10);
    if (error != std::errc() || last != digits.data() + digits.size()) return 0;
    return append_utf8(out, code) ? end + 1 : 0;
}

// Undoes xml_escape and libvirt's own attribute escaping: the five named entities and
// character references, which libvirt writes for non-ASCII letters (&#xFC; for ü).
std::string xml_unescape(std::string_view text) {
    static constexpr std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&apos;", '\''}, {"&quot;", '"'}};
    std::string plain;
    for (size_t i = 0; i < text.size();) {
        if (size_t length = decode_character_reference(text.substr(i), plain)) {
            i += length;
            continue;
        }
        bool replaced = false;
        for (const auto& [entity, character] : kEntities) {
            if (text.substr(i).starts_with(entity)) {
                plain += character;
                i += entity.size();
                replaced = true;
                break;
            }
        }
        if (!replaced) plain += text[i++];
    }
    return plain;
}

}  // namespace

std::string owner_root_of(std::string_view domain_xml) {
    // libvirt keeps the element as given but may rename the prefix, so the search is for
    // the namespace and then the root attribute of that element.
    auto at = domain_xml.find(kOwnerNamespace);
    if (at == std::string_view::npos) return {};
    auto element_end = domain_xml.find('>', at);
    auto element_start = domain_xml.rfind('<', at);
    if (element_end == std::string_view::npos || element_start == std::string_view::npos) return {};
    auto element = domain_xml.substr(element_start, element_end - element_start);
    for (std::string_view quote : {"'", "\""}) {
        std::string key = std::string(" root=") + std::string(quote);
        auto begin = element.find(key);
        if (begin == std::string_view::npos) continue;
        begin += key.size();
        auto end = element.find(quote, begin);
        if (end == std::string_view::npos) return {};
        return xml_unescape(element.substr(begin, end - begin));
    }
    return {};
}

bool uses_small_page_ram(std::string_view accelerator) { return accelerator == "tcg"; }

std::string build_domain_xml(const DomainSpec& spec) {
    if (spec.name.empty()) throw Error("cannot build domain XML: no domain name");
    if (spec.kernel.empty()) throw Error("cannot build domain XML for " + spec.name + ": no kernel");
    if (spec.memory_mib < kMinimumMemoryMib) {
        throw Error(fmt::format("cannot build domain XML for {}: {} MiB is below the minimum of {} MiB", spec.name,
                                spec.memory_mib, kMinimumMemoryMib));
    }

    std::string xml = fmt::format("<domain type='{}'>\n", xml_escape(spec.domain_type));
    xml += fmt::format("  <name>{}</name>\n", xml_escape(spec.name));
    xml += fmt::format("  <memory unit='MiB'>{}</memory>\n", spec.memory_mib);
    if (spec.small_page_ram) {
        xml += "  <!-- Guest RAM in 4 KiB pages of a shared memfd: the host allocates only the pages\n"
               "       the guest touches (see uses_small_page_ram). -->\n"
               "  <memoryBacking>\n    <source type='memfd'/>\n    <access mode='shared'/>\n  </memoryBacking>\n";
    }
    xml += fmt::format("  <vcpu>{}</vcpu>\n", spec.vcpus);
    if (!spec.owner_root.empty()) {
        xml += "  <!-- The state root whose records own this domain: `system prune` of another root\n"
               "       leaves it alone. -->\n";
        xml += fmt::format("  <metadata>\n    <isolab:owner xmlns:isolab='{}' root='{}'/>\n  </metadata>\n",
                           kOwnerNamespace, xml_escape(spec.owner_root.string()));
    }
    xml += os_xml(spec);
    xml += "  <!-- ACPI lets the guest power itself off, which ends the domain. -->\n"
           "  <features>\n    <acpi/>\n  </features>\n";
    if (spec.domain_type == "kvm") xml += "  <cpu mode='host-passthrough'/>\n";
    xml += "  <!-- A guest that stops for any reason is gone: isolab reads the exit code from the\n"
           "       console, and a reboot would run the workload twice. -->\n"
           "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>destroy</on_reboot>\n  <on_crash>destroy</on_crash>\n";
    xml += devices_xml(spec);
    xml += kSeclabelXml;
    xml += "</domain>\n";
    return xml;
}

}  // namespace isolab::vm::libvirt
