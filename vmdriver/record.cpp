#include "vmdriver/record.hpp"

#include <algorithm>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/container/status.hpp"
#include "runtime/core/error.hpp"
#include "vmdriver/libvirt/console.hpp"
#include "vmdriver/libvirt/domain_xml.hpp"

namespace isolab::vm {

namespace fs = std::filesystem;
using nlohmann::json;

VmPaths vm_paths(const Paths& paths, const std::string& name) { return {paths.vms() / name}; }

FileLock lock_vm_records(const Paths& paths) {
    fs::create_directories(paths.vms());
    return FileLock(paths.vms() / "vms.lock");
}

std::string record_to_json(const VmRecord& record) {
    json document = {
        {"name", record.name},
        {"uuid", record.uuid},
        {"image", record.image},
        {"command", record.command},
        {"form", record.form},
        {"accelerator", record.accelerator},
        {"accelerator_reason", record.accelerator_reason},
        {"connect_uri", record.connect_uri},
        {"memory_bytes", record.memory_bytes},
        {"cpus", record.cpus},
        {"detached", record.detached},
        {"auto_remove", record.auto_remove},
        {"created", record.created},
        {"started", record.started},
        {"status", record.status},
        {"exit_code", record.exit_code ? json(*record.exit_code) : json(nullptr)},
        {"finished", record.finished},
        {"stopped_by", record.stopped_by},
        {"error", record.error},
        {"owner_pid", record.owner_pid},
        {"owner_start_ticks", record.owner_start_ticks},
        {"network", record.network},
        {"publish", record.publish},
        {"ports", record.ports},
        {"volumes", record.volumes},
        {"address", record.address},
        {"holder_pid", record.holder_pid},
        {"holder_start_ticks", record.holder_start_ticks},
        {"creator_pid", record.creator_pid},
        {"creator_start_ticks", record.creator_start_ticks},
    };
    return document.dump(2) + "\n";
}

VmRecord record_from_json(const std::string& text) {
    json document = json::parse(text);
    VmRecord record;
    record.name = document.at("name").get<std::string>();
    record.uuid = document.value("uuid", "");
    record.image = document.value("image", "");
    record.command = document.value("command", std::vector<std::string>{});
    record.form = document.value("form", "");
    record.accelerator = document.value("accelerator", "");
    record.accelerator_reason = document.value("accelerator_reason", "");
    record.connect_uri = document.value("connect_uri", "");
    record.memory_bytes = document.value("memory_bytes", std::uint64_t{0});
    record.cpus = document.value("cpus", 1U);
    record.detached = document.value("detached", false);
    record.auto_remove = document.value("auto_remove", false);
    record.created = document.value("created", "");
    record.started = document.value("started", "");
    record.status = document.value("status", "created");
    if (document.contains("exit_code") && document["exit_code"].is_number_integer()) {
        record.exit_code = document["exit_code"].get<int>();
    }
    record.finished = document.value("finished", "");
    record.stopped_by = document.value("stopped_by", "");
    record.error = document.value("error", "");
    record.owner_pid = document.value("owner_pid", 0);
    record.owner_start_ticks = document.value("owner_start_ticks", std::uint64_t{0});
    record.network = document.value("network", "none");
    record.publish = document.value("publish", std::vector<std::string>{});
    record.ports = document.value("ports", std::vector<std::string>{});
    record.volumes = document.value("volumes", std::vector<std::string>{});
    record.address = document.value("address", "");
    record.holder_pid = document.value("holder_pid", 0);
    record.holder_start_ticks = document.value("holder_start_ticks", std::uint64_t{0});
    record.creator_pid = document.value("creator_pid", 0);
    record.creator_start_ticks = document.value("creator_start_ticks", std::uint64_t{0});
    return record;
}

bool abandoned_while_created(const VmRecord& record) {
    if (record.status != "created" || !record.uuid.empty() || record.creator_pid <= 0) return false;
    return !container::process_alive(record.creator_pid, record.creator_start_ticks);
}

void write_record(const VmPaths& paths, const VmRecord& record) {
    write_file_atomic(paths.record(), record_to_json(record), 0600);
}

VmRecord read_record(const VmPaths& paths) {
    std::string text;
    try {
        text = read_file(paths.record());
        return record_from_json(text);
    } catch (const json::exception& error) {
        throw Error(fmt::format("invalid VM record {}: {}", paths.record().string(), error.what()),
                    "remove the folder " + paths.folder.string() + " if the VM is gone");
    }
}

std::vector<VmRecord> read_all_records(const Paths& paths) {
    std::vector<VmRecord> records;
    std::error_code error;
    if (!fs::is_directory(paths.vms(), error)) return records;
    for (const auto& entry : fs::directory_iterator(paths.vms())) {
        VmPaths vm{entry.path()};
        if (!entry.is_directory() || !fs::exists(vm.record())) continue;
        records.push_back(read_record(vm));
    }
    std::sort(records.begin(), records.end(),
              [](const VmRecord& a, const VmRecord& b) { return a.created != b.created ? a.created > b.created : a.name < b.name; });
    return records;
}

VmRecord require_record(const Paths& paths, const std::string& name) {
    std::string full = name.starts_with(libvirt::kDomainPrefix) ? name : std::string(libvirt::kDomainPrefix) + name;
    bool valid = !name.empty() && name.find('/') == std::string::npos && name != "." && name != "..";
    VmPaths vm = vm_paths(paths, full);
    if (!valid || !fs::exists(vm.record())) {
        throw Error(fmt::format("no such VM: {}", name), "list the VMs with `isolab vm ps -a`", 1);
    }
    return read_record(vm);
}

std::optional<int> exit_code_from_console(const fs::path& log) {
    std::ifstream file(log);
    std::optional<int> code;
    std::string line;
    while (std::getline(file, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto event = libvirt::parse_protocol_line(line);
        if (event && event->kind == libvirt::ProtocolEvent::Kind::exit) code = event->exit_code;
    }
    return code;
}

std::string failure_from_console(const fs::path& log) {
    std::ifstream file(log);
    std::string init_error;
    std::optional<libvirt::KernelFailure> kernel_failure;
    std::string line;
    while (std::getline(file, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto event = libvirt::parse_protocol_line(line);
        if (event && event->kind == libvirt::ProtocolEvent::Kind::error) init_error = event->text;
        if (!kernel_failure) kernel_failure = libvirt::parse_kernel_failure(line);
    }
    if (!init_error.empty()) return init_error;
    return kernel_failure ? libvirt::describe_kernel_failure(*kernel_failure) : std::string();
}

}  // namespace isolab::vm
