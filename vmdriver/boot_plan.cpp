#include "vmdriver/boot_plan.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/core/error.hpp"
#include "vmdriver/guest/cmdline.hpp"

namespace isolab::vm {

std::vector<BootVariant> boot_profile_variants() {
    std::vector<BootVariant> variants;
    BootVariant step{.name = "default",
                     .change = "bzImage, gzip initramfs, QEMU's default devices, plain command line"};
    variants.push_back(step);

    step.name = "pvh-vmlinux";
    step.change = "the uncompressed vmlinux through the PVH entry point";
    step.pvh_vmlinux = true;
    variants.push_back(step);

    step.name = "uncompressed-initramfs";
    step.change = "an uncompressed cpio initramfs";
    step.uncompressed_initramfs = true;
    variants.push_back(step);

    step.name = "trimmed-devices";
    step.change = "-nodefaults: no VGA, NIC, IDE, floppy or parallel port";
    step.trimmed_devices = true;
    variants.push_back(step);

    step.name = "trimmed-cmdline";
    step.change = "the trimmed kernel command line with quiet";
    step.trimmed_cmdline = true;
    variants.push_back(step);

    step.name = kTunedQemuStep;
    step.change = "guest RAM from a memfd in 4 KiB pages, no transparent huge pages (TCG only)";
    step.small_page_ram = true;
    variants.push_back(step);

    step.name = "libvirt";
    step.change = "the same guest through libvirt (isolab vm run)";
    step.path = BootPath::libvirt;
    variants.push_back(step);

    step.name = "libvirt-embedded";
    step.change = "the same through libvirt's embedded QEMU driver (no libvirtd, QEMU as root)";
    step.embedded_driver = true;
    variants.push_back(step);
    return variants;
}

std::vector<BootVariant> select_variants(const std::vector<std::string>& names) {
    auto all = boot_profile_variants();
    // One process cannot use libvirtd after it has loaded the embedded driver, so the
    // embedded step runs only when asked for, and never beside the libvirt step.
    if (names.empty()) {
        std::erase_if(all, [](const BootVariant& variant) { return variant.embedded_driver; });
        return all;
    }
    auto named = [&](const char* name) { return std::find(names.begin(), names.end(), name) != names.end(); };
    if (named("libvirt") && named("libvirt-embedded")) {
        throw Error("cannot profile the steps libvirt and libvirt-embedded in one run",
                    "profile them in two runs: one process cannot use libvirtd after loading the embedded driver");
    }

    std::string known;
    for (const auto& variant : all) known += (known.empty() ? "" : ", ") + variant.name;
    for (const auto& name : names) {
        bool found = std::any_of(all.begin(), all.end(), [&](const BootVariant& variant) { return variant.name == name; });
        if (!found) throw Error(fmt::format("unknown boot-profile variant '{}'", name), "choose from " + known);
    }
    std::erase_if(all, [&](const BootVariant& variant) {
        return std::find(names.begin(), names.end(), variant.name) == names.end();
    });
    return all;
}

std::filesystem::path variant_kernel(const BootVariant& variant, const ProfileFiles& files) {
    if (variant.pvh_vmlinux && !files.vmlinux.empty()) return files.vmlinux;
    return files.bzimage;
}

std::filesystem::path variant_initramfs(const BootVariant& variant, const ProfileFiles& files) {
    return variant.uncompressed_initramfs ? files.initramfs_plain : files.initramfs_gzip;
}

std::string variant_cmdline(const BootVariant& variant, bool tcg) {
    if (variant.trimmed_cmdline) {
        return guest::kernel_cmdline({.profile = guest::CmdlineProfile::trimmed, .quiet = true, .tcg = tcg});
    }
    return guest::kernel_cmdline({.profile = guest::CmdlineProfile::default_boot, .quiet = false});
}

std::string qemu_machine_option(const std::string& accelerator, bool small_pages) {
    std::string option = std::string(libvirt::kDefaultMachine) + ",accel=" + accelerator;
    if (small_pages) option += ",memory-backend=pc.ram";
    return option;
}

std::vector<std::string> qemu_ram_arguments(std::uint64_t memory_mib, bool small_pages) {
    std::vector<std::string> arguments{"-m", std::to_string(memory_mib)};
    if (small_pages) {
        // The backend libvirt generates for <source type='memfd'/> with shared access.
        arguments.insert(arguments.end(),
                         {"-object", fmt::format("memory-backend-memfd,id=pc.ram,size={}M,share=on", memory_mib)});
    }
    return arguments;
}

std::vector<std::string> qemu_boot_arguments(const BootVariant& variant, const ProfileFiles& files,
                                             const ProfileMachine& machine) {
    bool small_pages = variant.small_page_ram && libvirt::uses_small_page_ram(machine.accelerator);
    std::vector<std::string> arguments{"qemu-system-x86_64", "-name", "isolab-boot-profile", "-machine",
                                       qemu_machine_option(machine.accelerator, small_pages)};
    if (machine.accelerator == "kvm") arguments.insert(arguments.end(), {"-cpu", "host"});
    auto ram = qemu_ram_arguments(machine.memory_mib, small_pages);
    arguments.insert(arguments.end(), ram.begin(), ram.end());
    arguments.insert(arguments.end(), {"-smp", std::to_string(machine.cpus)});
    // Without -nodefaults QEMU adds a VGA card, an e1000 NIC with its option ROM, an IDE
    // CD-ROM, a floppy controller and a parallel port, which firmware and kernel probe.
    if (variant.trimmed_devices) arguments.insert(arguments.end(), {"-nodefaults", "-no-user-config"});
    std::string cmdline = variant_cmdline(variant, machine.accelerator == "tcg");
    arguments.insert(arguments.end(), {"-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
                                       "-kernel", variant_kernel(variant, files).string(), "-initrd",
                                       variant_initramfs(variant, files).string(), "-append", cmdline});
    if (!files.disk.empty()) {
        // The device libvirt makes of isolab's <disk>: a qcow2 node on a file node, on one
        // virtio-blk PCI function. JSON, unlike -drive, takes any path with commas as it is.
        nlohmann::json node{{"driver", "qcow2"},
                            {"node-name", "vda"},
                            {"file", {{"driver", "file"}, {"filename", files.disk.string()}}}};
        arguments.insert(arguments.end(), {"-blockdev", node.dump(), "-device", "virtio-blk-pci,drive=vda"});
    }
    return arguments;
}

}  // namespace isolab::vm
