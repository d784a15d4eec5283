// VM commands: run and kernel; the lifecycle commands are in commands_vm_lifecycle.cpp.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/context.hpp"
#include "cli/phase_table.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "vmdriver/libvirt/domain_xml.hpp"
#include "vmdriver/network/holder.hpp"
#include "vmdriver/vm.hpp"

namespace isolab::cli {

namespace {

struct VmRunArguments {
    bool remove = false;
    bool detach = false;
    std::string memory = "256M";
    unsigned cpus = 1;
    std::string accelerator = "auto";
    std::string connect_uri;
    std::string name;
    std::string form = "initramfs";
    bool phases = false;
    unsigned timeout_seconds = 300;
    std::vector<std::string> env;
    std::string network = "bridge";
    std::vector<std::string> publish;
    std::vector<std::string> volumes;
    std::string image;
    std::vector<std::string> command;
};

// "NAME=value" as given; a bare "NAME" takes its value from this process's environment
// and is skipped when unset, as `docker run -e NAME` does.
std::vector<std::string> environment_entries(const std::vector<std::string>& options) {
    std::vector<std::string> entries;
    for (const auto& option : options) {
        if (option.find('=') != std::string::npos) {
            entries.push_back(option);
            continue;
        }
        if (const char* value = std::getenv(option.c_str())) entries.push_back(option + "=" + value);
    }
    return entries;
}

vm::VmOptions to_vm_options(const VmRunArguments& arguments) {
    vm::VmOptions options;
    options.image = arguments.image;
    options.command = arguments.command;
    options.env = environment_entries(arguments.env);
    options.name = arguments.name;
    options.memory_bytes = vm::libvirt::parse_memory_size(arguments.memory);
    options.cpus = arguments.cpus;
    options.accelerator = vm::parse_accelerator(arguments.accelerator);
    options.connect_uri = arguments.connect_uri;
    options.form = vm::guest::parse_root_form(arguments.form);
    options.timeout = std::chrono::seconds(arguments.timeout_seconds);
    options.auto_remove = arguments.remove;
    options.keep_record = true;
    options.network = arguments.network;
    options.publish = arguments.publish;
    options.volumes = arguments.volumes;
    // The phases of `vm run --phases` start with this process, as a user waits for it.
    options.requested_at = vm::this_process_start();
    return options;
}

void print_vm_phases(const vm::VmResult& result) {
    print_phase_table(result.phases);
    std::fprintf(stderr, "domain %s, machine %s, guest kernel %s\n", result.name.c_str(), result.machine.c_str(),
                 result.guest_kernel.c_str());
    std::fprintf(stderr, "accelerator %s: %s\n", result.accelerator.used.c_str(), result.accelerator.reason.c_str());
    if (result.guest_uptime_at_ready_ms >= 0) {
        std::fprintf(stderr, "guest uptime at ready: %.1f ms\n", result.guest_uptime_at_ready_ms);
    }
    std::fprintf(stderr, "guest memory %s, QEMU PSS peak %s (%s)\n", human_size(result.memory_bytes).c_str(),
                 human_size(result.qemu_pss_peak_bytes).c_str(), result.pss_definition.c_str());
    std::fprintf(stderr, "kernel %s, initramfs %s\n", human_size(result.kernel_bytes).c_str(),
                 human_size(result.initramfs_bytes).c_str());
}

void register_run(CLI::App& vm_group, Context& context) {
    auto arguments = std::make_shared<VmRunArguments>();
    auto* run = vm_group.add_subcommand("run", "Boot IMAGE as a virtual machine, run COMMAND in it, return its exit code");
    run->add_flag("-d,--detach", arguments->detach,
                  "Leave the VM running in the background and print its name; its console goes to a log for `vm logs`");
    run->add_flag("--rm", arguments->remove,
                  "Remove the VM's record, console log and guest files once it exits");
    run->add_option("-m,--memory", arguments->memory,
                    fmt::format("Guest RAM, a whole number of MiB, e.g. 256M or 1G (at least {}M)",
                                vm::libvirt::kMinimumMemoryMib))
        ->capture_default_str();
    run->add_option("--cpus", arguments->cpus, "Number of virtual CPUs")->capture_default_str();
    run->add_option("--accel", arguments->accelerator,
                    "Accelerator: kvm, tcg, or auto (KVM when a probe guest boots under it, else TCG)")
        ->capture_default_str();
    run->add_option("--connect", arguments->connect_uri,
                    "libvirt URI (default: ISOLAB_LIBVIRT_URI, else qemu:///system)");
    run->add_option("--name", arguments->name, "Domain name, prefixed with isolab- (default: isolab-<12 hex>)");
    run->add_option("--form", arguments->form, "Root filesystem form: initramfs or disk")->capture_default_str();
    run->add_flag("--phases", arguments->phases, "Print the start-up phases and footprint on stderr");
    run->add_option("--timeout", arguments->timeout_seconds, "Destroy a foreground VM after this many seconds")
        ->capture_default_str();
    run->add_option("-e,--env", arguments->env, "Set NAME=value, or pass NAME from this environment (repeatable)")
        ->allow_extra_args(false);
    run->add_option("--network", arguments->network,
                    "Network: bridge (a virtio NIC on isolab0, as containers), none, or a network of `isolab network "
                    "create`")
        ->capture_default_str();
    run->add_option("-p,--publish", arguments->publish,
                    "Publish a guest port, [IP:]HOST_PORT:GUEST_PORT[/tcp|/udp], through a proxy on the host (repeatable)")
        ->allow_extra_args(false);
    run->add_option("-v,--volume", arguments->volumes,
                    "Share a host folder, HOST_FOLDER:GUEST_PATH[:ro], over virtio-9p (repeatable)")
        ->allow_extra_args(false);
    run->add_option("image", arguments->image, "Image reference or id prefix")->required();
    run->add_option("command", arguments->command, "Command and arguments (default: the image's Entrypoint and Cmd)");
    // Everything after IMAGE belongs to the command, including words starting with '-'.
    run->positionals_at_end();

    run->callback([arguments, &context] {
        if (arguments->detach) {
            if (arguments->phases) throw Error("--phases needs a foreground run: a detached VM is not watched", "drop -d or --phases");
            std::printf("%s\n", vm::run_detached(context.store(), to_vm_options(*arguments)).name.c_str());
            return;
        }
        auto result = vm::run(context.store(), to_vm_options(*arguments));
        if (!result.init_error.empty()) std::fprintf(stderr, "isolab: guest init: %s\n", result.init_error.c_str());
        if (arguments->phases) print_vm_phases(result);
        context.exit_code = result.exit_code;
    });
}

void register_kernel(CLI::App& vm_group, Context& context) {
    auto* kernel = vm_group.add_subcommand("kernel", "Show the guest kernel (downloading it on first use)");
    kernel->callback([&context] {
        auto info = vm::guest_kernel(context.paths);
        std::printf("release      %s\n", info.release.c_str());
        std::printf("boot image   %s (%s, %s)\n", info.boot_image.c_str(), info.boot_format.c_str(),
                    human_size(info.boot_image_bytes).c_str());
        std::printf("bzImage      %s (%s)\n", info.bzimage.c_str(), human_size(info.bzimage_bytes).c_str());
        if (!info.fallback_reason.empty()) std::printf("why bzImage  %s\n", info.fallback_reason.c_str());
        if (!info.modules_dir.empty()) std::printf("modules      %s\n", info.modules_dir.c_str());
    });
}

// Run by `vm run -d` in a process of its own; hidden from --help.
void register_network_holder(CLI::App& app, Context& context) {
    auto* holder = app.add_subcommand(vm::network_holder_command, "Own a detached VM's network until its QEMU exits");
    holder->group("");
    auto ready_fd = std::make_shared<int>(-1);
    auto name = std::make_shared<std::string>();
    auto adopt = std::make_shared<bool>(false);
    holder->add_option("--ready-fd", *ready_fd, "Descriptor to report on")->required();
    holder->add_flag("--adopt", *adopt, "Take over the lease of a running VM whose holder died");
    holder->add_option("name", *name, "VM name")->required();
    holder->callback([&context, ready_fd, name, adopt] {
        context.exit_code = vm::run_network_holder(context.paths, *name, *ready_fd, *adopt);
    });
}

}  // namespace

// `vm boot-profile`, in commands_vm_profile.cpp.
void register_vm_boot_profile(CLI::App& vm_group, Context& context);

void register_vm_commands(CLI::App& app, Context& context) {
    register_network_holder(app, context);
    auto* vm_group = app.add_subcommand("vm", "Run images as virtual machines through libvirt");
    vm_group->require_subcommand(1);
    register_run(*vm_group, context);
    register_kernel(*vm_group, context);
    register_vm_lifecycle_commands(*vm_group, context);
    register_vm_boot_profile(*vm_group, context);
}

}  // namespace isolab::cli
