// VM lifecycle commands: ps, stop, kill, rm, logs, inspect, stats, console, exec.
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/context.hpp"
#include "runtime/container/status.hpp"
#include "runtime/core/files.hpp"
#include "runtime/image/listing.hpp"
#include "vmdriver/lifecycle.hpp"

namespace isolab::cli {

namespace {

// The STATUS column as `isolab ps` prints it for containers: "Up 3 seconds",
// "Exited (0) 2 seconds ago", "Created".
std::string vm_status_text(const vm::VmRecord& record, std::chrono::system_clock::time_point now) {
    if (record.status == "running") {
        auto started = container::parse_rfc3339(record.started.empty() ? record.created : record.started);
        return "Up " + (started ? container::human_duration(now - *started) : std::string("(unknown time)"));
    }
    if (record.status == "exited") {
        auto finished = container::parse_rfc3339(record.finished);
        std::string code = record.exit_code ? std::to_string(*record.exit_code) : "?";
        return fmt::format("Exited ({}) {}", code,
                           finished ? container::human_duration(now - *finished) + " ago" : std::string());
    }
    return "Created";
}

// The PORTS column: the published ports of a running VM, each marked "(down)" when its
// network holder died and could not be started again.
std::string vm_ports_text(const vm::VmView& view) {
    if (view.record.status != "running") return {};
    std::string text;
    for (const auto& port : view.record.ports) {
        if (!text.empty()) text += ", ";
        text += port;
        if (!view.ports_up) text += " (down)";
    }
    return text;
}

void register_ps(CLI::App& vm_group, Context& context) {
    auto all = std::make_shared<bool>(false);
    auto* ps = vm_group.add_subcommand("ps", "List VMs (running ones unless -a)");
    ps->add_flag("-a,--all", *all, "Show every VM, also exited ones");
    ps->callback([all, &context] {
        auto views = vm::list_vms(context.paths, *all);
        auto now = std::chrono::system_clock::now();
        // Columns as wide as their widest cell: "Less than a second ago" and long names fit.
        std::vector<std::vector<std::string>> rows = {{"NAME", "IMAGE", "FORM", "ACCEL", "STATUS", "CREATED", "PORTS"}};
        for (const auto& view : views) {
            const auto& record = view.record;
            auto created = container::parse_rfc3339(record.created);
            std::string age = created ? container::human_duration(now - *created) + " ago" : record.created;
            rows.push_back({record.name, record.image, record.form, record.accelerator, vm_status_text(record, now), age,
                            vm_ports_text(view)});
        }
        std::fputs(image::format_table(rows).c_str(), stdout);
    });
}

void register_stop(CLI::App& vm_group, Context& context) {
    auto timeout = std::make_shared<unsigned>(10);
    auto names = std::make_shared<std::vector<std::string>>();
    auto* stop = vm_group.add_subcommand("stop", "Press the ACPI power button of running VMs, destroy them after -t");
    stop->add_option("-t,--time", *timeout, "Seconds to wait for the guest to power off before destroying it")
        ->capture_default_str();
    stop->add_option("vm", *names, "VM names")->required();
    stop->callback([timeout, names, &context] {
        for (const auto& name : *names) {
            auto outcome = vm::stop_vm(context.paths, name, std::chrono::seconds(*timeout));
            if (!outcome.graceful) {
                std::fprintf(stderr, "isolab: VM %s did not power off within %u s; destroyed it\n", outcome.name.c_str(),
                             *timeout);
            }
            std::printf("%s\n", outcome.name.c_str());
        }
    });
}

void register_kill(CLI::App& vm_group, Context& context) {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* kill = vm_group.add_subcommand("kill", "Destroy running VMs at once (virDomainDestroy)");
    kill->add_option("vm", *names, "VM names")->required();
    kill->callback([names, &context] {
        for (const auto& name : *names) std::printf("%s\n", vm::kill_vm(context.paths, name).c_str());
    });
}

void register_rm(CLI::App& vm_group, Context& context) {
    auto force = std::make_shared<bool>(false);
    auto names = std::make_shared<std::vector<std::string>>();
    auto* rm = vm_group.add_subcommand("rm", "Remove VMs: their record, console log and guest files");
    rm->add_flag("-f,--force", *force, "Destroy a running VM first");
    rm->add_option("vm", *names, "VM names")->required();
    rm->callback([force, names, &context] {
        for (const auto& name : *names) std::printf("%s\n", vm::remove_vm(context.paths, name, *force).c_str());
    });
}

void register_logs(CLI::App& vm_group, Context& context) {
    auto follow = std::make_shared<bool>(false);
    auto whole = std::make_shared<bool>(false);
    auto name = std::make_shared<std::string>();
    auto* logs = vm_group.add_subcommand("logs", "Print the output of a VM's workload from its console log");
    logs->add_flag("-f,--follow", *follow, "Keep printing new output until the VM stops");
    logs->add_flag("--console", *whole, "Print the whole serial console: firmware, kernel and isolab-init lines too");
    logs->add_option("vm", *name, "VM name")->required();
    logs->callback([follow, whole, name, &context] {
        vm::read_vm_logs(context.paths, *name, *follow, *whole, [](std::string_view bytes) {
            std::fwrite(bytes.data(), 1, bytes.size(), stdout);
            std::fflush(stdout);
        });
    });
}

void register_inspect(CLI::App& vm_group, Context& context) {
    auto name = std::make_shared<std::string>();
    auto* inspect = vm_group.add_subcommand("inspect", "Show a VM's record, state, accelerator, paths and domain XML as JSON");
    inspect->add_option("vm", *name, "VM name")->required();
    inspect->callback([name, &context] { std::fputs(vm::inspect_vm(context.paths, *name).c_str(), stdout); });
}

void register_stats(CLI::App& vm_group, Context& context) {
    auto names = std::make_shared<std::vector<std::string>>();
    auto format = std::make_shared<std::string>("table");
    auto* command = vm_group.add_subcommand("stats", "Show the QEMU PSS, guest RAM and CPU time of running VMs");
    command->add_option("--format", *format, "table, or json for one JSON object a line (sizes in bytes, CPU time in ns)")
        ->check(CLI::IsMember({"table", "json"}))
        ->capture_default_str();
    command->add_option("vm", *names, "VM names")->required();
    command->callback([names, format, &context] {
        bool json = *format == "json";
        // Read every VM before printing, so an unknown name fails without a table header.
        std::vector<vm::VmStats> all;
        for (const auto& name : *names) all.push_back(vm::vm_stats(context.paths, name));
        if (!json) std::printf("%-28s %8s %12s %12s %12s %5s\n", "NAME", "PID", "QEMU PSS", "GUEST RAM", "CPU TIME", "CPUS");
        for (const auto& stats : all) {
            if (json) {
                std::printf("{\"Name\":\"%s\",\"Pid\":%d,\"QemuPss\":%" PRIu64 ",\"GuestMemory\":%" PRIu64
                            ",\"CpuTimeNs\":%" PRIu64 ",\"Cpus\":%u}\n",
                            stats.name.c_str(), stats.qemu_pid, stats.qemu_pss_bytes, stats.guest_memory_bytes,
                            stats.cpu_time_ns, stats.vcpus);
                continue;
            }
            std::printf("%-28s %8d %12s %12s %11.2fs %5u\n", stats.name.c_str(), stats.qemu_pid,
                        human_size(stats.qemu_pss_bytes).c_str(), human_size(stats.guest_memory_bytes).c_str(),
                        static_cast<double>(stats.cpu_time_ns) / 1e9, stats.vcpus);
        }
    });
}

void register_console(CLI::App& vm_group, Context& context) {
    auto name = std::make_shared<std::string>();
    auto* console = vm_group.add_subcommand("console", "Attach the terminal to a VM's serial console (Ctrl-] detaches)");
    console->add_option("vm", *name, "VM name")->required();
    console->callback([name, &context] {
        std::string reason = vm::attach_console(context.paths, *name);
        std::fprintf(stderr, "\nisolab: console of %s closed: %s\n", name->c_str(), reason.c_str());
    });
}

void register_exec(CLI::App& vm_group, Context& context) {
    auto name = std::make_shared<std::string>();
    auto command = std::make_shared<std::vector<std::string>>();
    auto* exec = vm_group.add_subcommand("exec", "Run a command in a running VM (needs a guest agent, which isolab guests lack)");
    exec->add_option("vm", *name, "VM name")->required();
    exec->add_option("command", *command, "Command and arguments");
    exec->positionals_at_end();
    // `command` is captured so the vector CLI11 writes into outlives this function.
    exec->callback([name, command, &context] { vm::exec_in_vm(context.paths, *name); });
}

}  // namespace

void register_vm_lifecycle_commands(CLI::App& vm_group, Context& context) {
    register_ps(vm_group, context);
    register_stop(vm_group, context);
    register_kill(vm_group, context);
    register_rm(vm_group, context);
    register_logs(vm_group, context);
    register_inspect(vm_group, context);
    register_stats(vm_group, context);
    register_console(vm_group, context);
    register_exec(vm_group, context);
}

}  // namespace isolab::cli
