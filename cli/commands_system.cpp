#include <cstdio>

#include <unistd.h>

#include <iostream>

#include "bench/doctor.hpp"
#include "cli/confirm.hpp"
#include "cli/context.hpp"
#include "runtime/container/prune.hpp"
#include "runtime/container/system_df.hpp"
#include "runtime/core/error.hpp"
#include "runtime/volume/volume.hpp"
#include "vmdriver/guest/disk.hpp"
#include "vmdriver/vm.hpp"

namespace isolab::cli {

namespace {

void register_doctor(CLI::App& app, Context& context) {
    auto* doctor = app.add_subcommand("doctor", "Check this host for containers and VMs: kernel, cgroups, "
                                                "overlayfs, namespaces, libvirtd, QEMU, KVM, guest kernel");
    auto uri = std::make_shared<std::string>();
    doctor->add_option("--connect", *uri, "libvirt URI (default: ISOLAB_LIBVIRT_URI or qemu:///system)");
    doctor->callback([&context, uri] {
        auto checks = bench::run_doctor(context.paths, *uri);
        std::fputs(bench::format_doctor(checks).c_str(), stdout);
        for (const auto& check : checks) {
            if (!check.ok && check.required) context.exit_code = 1;
        }
    });
}

void print_list(const char* what, const std::vector<std::string>& items) {
    for (const auto& item : items) std::printf("%s %s\n", what, item.c_str());
}

bool confirm_prune(const container::PruneReport& found, bool volumes) {
    std::printf("This removes stopped containers, user-defined networks no container uses, mounts, cgroups, "
                "addresses, bridges and iptables rules left by crashed runs, %sand every libvirt domain named isolab-* but those of running VMs (vm run -d), "
                "and exited VMs.\n",
                volumes ? "anonymous volumes no container uses, " : "");
    print_list("container", found.containers);
    print_list("mount", found.mounts);
    print_list("cgroup", found.cgroups);
    return confirm_continue("system prune");
}

void register_prune(CLI::App& system, Context& context) {
    auto* prune = system.add_subcommand("prune", "Remove stopped containers, unused networks and everything "
                                                 "isolab left behind (mounts, cgroups, isolab-* libvirt domains)");
    auto force = std::make_shared<bool>(false);
    auto volumes = std::make_shared<bool>(false);
    auto uri = std::make_shared<std::string>();
    prune->add_flag("-f,--force", *force, "Do not ask for confirmation");
    prune->add_flag("--volumes", *volumes, "Remove anonymous volumes no container uses too (kept by default)");
    prune->add_option("--connect", *uri, "libvirt URI (default: ISOLAB_LIBVIRT_URI or qemu:///system)");
    prune->callback([&context, force, volumes, uri] {
        if (!*force && !confirm_prune(container::find_container_leftovers(context.paths), *volumes)) return;

        auto removed = container::prune_containers(context.paths);
        print_list("removed container", removed.containers);
        print_list("unmounted", removed.mounts);
        print_list("removed cgroup", removed.cgroups);
        print_list("released address of", removed.leases);
        print_list("removed bridge", removed.bridges);
        print_list("removed iptables rule", removed.rules);
        print_list("removed unfinished volume", volume::prune_unfinished_volumes(context.paths));
        std::vector<std::string> guest_files;
        for (const auto& path : vm::guest::prune_unfinished_guest_files(context.paths)) guest_files.push_back(path.string());
        print_list("removed unfinished guest file", guest_files);
        print_list("removed network", removed.networks);
        // After the containers, so the volumes of the pruned containers are unused.
        if (*volumes) print_list("removed volume", volume::prune_volumes(context.paths, false).names);
        try {
            // libvirtd's domains and records first: a process that has loaded the embedded
            // driver can no longer connect to libvirtd.
            print_list("destroyed domain", vm::prune_domains(*uri, context.paths));
            print_list("removed VM", vm::prune_vms(context.paths));
            print_list("destroyed domain", vm::prune_embedded_domains(context.paths));
        } catch (const Error& error) {
            std::fprintf(stderr, "isolab: libvirt domains not pruned: %s\n", error_line(error).c_str());
            context.exit_code = 1;
        }
    });
}

void register_df(CLI::App& system, Context& context) {
    auto verbose = std::make_shared<bool>(false);
    auto* df = system.add_subcommand("df", "Show the disk space used by images, containers and volumes");
    df->add_flag("-v,--verbose", *verbose, "One line per image, container and volume");
    df->callback([&context, verbose] {
        std::fputs(container::format_disk_space(container::measure_disk_space(context.store()), *verbose).c_str(), stdout);
    });
}

}  // namespace

void register_system_commands(CLI::App& app, Context& context) {
    register_doctor(app, context);
    auto* system = app.add_subcommand("system", "Manage isolab's state on this host");
    system->require_subcommand(1);
    register_prune(*system, context);
    register_df(*system, context);
}

}  // namespace isolab::cli
