#include <cstdio>

#include "bench/doctor.hpp"
#include "cli/context.hpp"

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
            if (!check.ok && check.name != "kvm") context.exit_code = 1;
        }
    });
}

}  // namespace

void register_system_commands(CLI::App& app, Context& context) {
    register_doctor(app, context);
}

}  // namespace isolab::cli
