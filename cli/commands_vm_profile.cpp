// `isolab vm boot-profile`: the start-up optimisations of a VM, measured one at a time.
#include <memory>
#include <string>
#include <vector>

#include "bench/boot_profile.hpp"
#include "cli/context.hpp"
#include "vmdriver/libvirt/domain_xml.hpp"

namespace isolab::cli {

namespace {

struct BootProfileArguments {
    std::string image;
    std::vector<std::string> command;
    unsigned runs = 3;
    std::vector<std::string> variants;
    std::string accelerator = "auto";
    std::string connect_uri;
    std::string memory = "256M";
    std::string form = "initramfs";
    std::string chart;
    double pause_seconds = 0;
};

}  // namespace

void register_vm_boot_profile(CLI::App& vm_group, Context& context) {
    auto arguments = std::make_shared<BootProfileArguments>();
    auto* profile = vm_group.add_subcommand(
        "boot-profile",
        "Boot IMAGE with each start-up optimisation switched on one at a time (bare QEMU), then through libvirt, "
        "and print the start-to-ready time of each step");
    profile->add_option("--runs", arguments->runs, "Boots of each step; the steps take turns run by run")
        ->capture_default_str();
    profile->add_option("--only", arguments->variants,
                        "Steps to run, comma-separated: default, pvh-vmlinux, uncompressed-initramfs, "
                        "trimmed-devices, trimmed-cmdline, small-pages, libvirt, libvirt-embedded (default: all but "
                        "libvirt-embedded)")
        ->delimiter(',')
        ->allow_extra_args(false);
    profile->add_option("--accel", arguments->accelerator, "Accelerator: kvm, tcg, or auto (as vm run chooses it)")
        ->capture_default_str();
    profile->add_option("--connect", arguments->connect_uri,
                        "libvirt URI for the libvirt step (default: ISOLAB_LIBVIRT_URI, else qemu:///system)");
    profile->add_option("-m,--memory", arguments->memory, "Guest RAM, e.g. 256M")->capture_default_str();
    profile->add_option("--form", arguments->form,
                        "Root filesystem form of every step: initramfs, or disk (a fresh qcow2 overlay per boot)")
        ->capture_default_str();
    profile->add_option("--pause", arguments->pause_seconds,
                        "Seconds to wait before each boot, so that each starts on an idle host as a user's first VM "
                        "does (default: 0, back to back)");
    profile->add_option("-o,--output", arguments->chart, "Write an SVG bar chart of the medians to this file");
    profile->add_option("image", arguments->image, "Image reference or id prefix")->required();
    profile->add_option("command", arguments->command, "Command to run in the guest; it must exit 0 (default: true)");
    profile->positionals_at_end();

    profile->callback([arguments, &context] {
        bench::BootProfileOptions options;
        options.image = arguments->image;
        if (!arguments->command.empty()) options.command = arguments->command;
        options.runs = arguments->runs;
        options.variants = arguments->variants;
        options.accelerator = vm::parse_accelerator(arguments->accelerator);
        options.connect_uri = arguments->connect_uri;
        options.memory_bytes = vm::libvirt::parse_memory_size(arguments->memory);
        options.form = vm::guest::parse_root_form(arguments->form);
        options.chart = arguments->chart;
        options.pause_seconds = arguments->pause_seconds;
        bench::boot_profile_command(context.store(), options);
    });
}

}  // namespace isolab::cli
