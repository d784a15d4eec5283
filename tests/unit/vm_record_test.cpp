// VM records (vms/<name>/vm.json), the exit code read back from a console log, and the
// console log element of the domain XML as libvirt's test:///default driver reads it.
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>

#include <string>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "support/test_support.hpp"
#include "vmdriver/libvirt/connection.hpp"
#include "vmdriver/libvirt/domain_xml.hpp"
#include "vmdriver/record.hpp"

namespace isolab::vm {
namespace {

namespace fs = std::filesystem;

VmRecord sample_record() {
    VmRecord record;
    record.name = "isolab-web";
    record.uuid = "5a1b2c3d-0000-4000-8000-000000000001";
    record.image = "busybox";
    record.command = {"sh", "-c", "echo \"quoted\" & more"};
    record.form = "disk";
    record.accelerator = "tcg";
    record.accelerator_reason = "KVM probe timed out";
    record.connect_uri = "qemu:///system";
    record.memory_bytes = 512ULL << 20;
    record.cpus = 2;
    record.detached = true;
    record.auto_remove = true;
    record.created = "2026-12-05T01:02:03Z";
    record.started = "2026-12-05T01:02:50Z";
    record.status = "exited";
    record.exit_code = 3;
    record.finished = "2026-12-05T01:03:04Z";
    record.stopped_by = "stop-timeout";
    return record;
}

TEST(VmRecord, JsonRoundTripKeepsEveryField) {
    VmRecord read = record_from_json(record_to_json(sample_record()));
    VmRecord expected = sample_record();
    EXPECT_EQ(read.name, expected.name);
    EXPECT_EQ(read.uuid, expected.uuid);
    EXPECT_EQ(read.command, expected.command);
    EXPECT_EQ(read.form, expected.form);
    EXPECT_EQ(read.accelerator_reason, expected.accelerator_reason);
    EXPECT_EQ(read.memory_bytes, expected.memory_bytes);
    EXPECT_EQ(read.cpus, expected.cpus);
    EXPECT_TRUE(read.detached);
    EXPECT_TRUE(read.auto_remove);
    EXPECT_EQ(read.status, "exited");
    ASSERT_TRUE(read.exit_code.has_value());
    EXPECT_EQ(*read.exit_code, 3);
    EXPECT_EQ(read.created, expected.created);
    EXPECT_EQ(read.started, expected.started);
    EXPECT_EQ(read.finished, expected.finished);
    EXPECT_EQ(read.stopped_by, "stop-timeout");
}

TEST(VmRecord, JsonRoundTripKeepsNetwork) {
    VmRecord record = sample_record();
    record.network = "bridge";
    record.publish = {"127.0.0.1:8080:80"};
    record.ports = {"127.0.0.1:8080->80/tcp"};
    record.volumes = {"/srv/a b,c:/data:ro"};
    record.address = "10.89.0.2";
    record.holder_pid = 4242;
    record.holder_start_ticks = 987654321;
    VmRecord read = record_from_json(record_to_json(record));
    EXPECT_EQ(read.network, "bridge");
    EXPECT_EQ(read.publish, record.publish);
    EXPECT_EQ(read.ports, record.ports);
    EXPECT_EQ(read.volumes, record.volumes);
    EXPECT_EQ(read.address, "10.89.0.2");
    EXPECT_EQ(read.holder_pid, 4242);
    EXPECT_EQ(read.holder_start_ticks, 987654321U);
}

TEST(VmRecord, OldRecordHasNoNetwork) {
    VmRecord read = record_from_json(R"({"name": "isolab-old", "status": "exited"})");
    EXPECT_EQ(read.network, "none");
    EXPECT_EQ(read.holder_pid, 0);
    EXPECT_TRUE(read.address.empty());
}

TEST(VmRecord, RunningRecordHasNoExitCode) {
    VmRecord running = sample_record();
    running.status = "running";
    running.exit_code.reset();
    EXPECT_FALSE(record_from_json(record_to_json(running)).exit_code.has_value());
}

TEST(VmRecord, RequireRecordAcceptsNameWithoutPrefix) {
    testing::TestRoot root;
    VmPaths vm = vm_paths(root.paths(), "isolab-web");
    fs::create_directories(vm.folder);
    write_record(vm, sample_record());
    EXPECT_EQ(require_record(root.paths(), "web").name, "isolab-web");
    EXPECT_EQ(require_record(root.paths(), "isolab-web").name, "isolab-web");
}

TEST(VmRecord, RequireRecordRejectsUnknownAndPathNames) {
    testing::TestRoot root;
    for (const char* name : {"missing", "../isolab-web", ""}) {
        try {
            require_record(root.paths(), name);
            ADD_FAILURE() << "accepted '" << name << "'";
        } catch (const Error& error) {
            EXPECT_NE(std::string(error.what()).find("no such VM"), std::string::npos) << error.what();
            EXPECT_EQ(error.exit_code(), 1);
        }
    }
}

TEST(VmRecord, ExitCodeFromConsoleTakesLastExitLine) {
    testing::TestRoot root;
    fs::path log = root.root() / "console.log";
    write_file_atomic(log,
                      "\x1b" "c\x1b[2JBooting from ROM..\r\n"
                      "isolab-init: phase workload-start uptime_ms=812\r\n"
                      "isolab-init: exit code=7 uptime_ms=900\r\n");
    auto code = exit_code_from_console(log);
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 7);
}

TEST(VmRecord, ExitCodeMissingWithoutExitLine) {
    testing::TestRoot root;
    fs::path log = root.root() / "console.log";
    write_file_atomic(log, "isolab-init: phase workload-start uptime_ms=812\r\nstill running\r\n");
    EXPECT_FALSE(exit_code_from_console(log).has_value());
    EXPECT_FALSE(exit_code_from_console(root.root() / "absent.log").has_value());
}

TEST(VmRecord, ConsoleLogElementAcceptedByLibvirt) {
    libvirt::DomainSpec spec;
    spec.name = libvirt::make_domain_name("");
    spec.kernel = "/boot/vmlinuz";
    spec.initrd = "/var/lib/isolab/vms/isolab-web/initramfs.cpio";
    spec.console_log = "/var/lib/isolab root, a&b/vms/isolab-web/console.log";
    std::string xml = libvirt::build_domain_xml(spec);

    libvirt::Connection connection("test:///default");
    virDomainPtr domain = virDomainDefineXML(connection.get(), xml.c_str());
    ASSERT_NE(domain, nullptr) << "libvirt rejected the XML:\n" << xml;
    char* description = virDomainGetXMLDesc(domain, 0);
    std::string text = description != nullptr ? description : "";
    free(description);
    virDomainUndefine(domain);
    virDomainFree(domain);
    EXPECT_NE(text.find("<log file='/var/lib/isolab root, a&amp;b/vms/isolab-web/console.log' append='off'/>"),
              std::string::npos)
        << text;
}

TEST(VmRecord, NoConsoleLogElementByDefault) {
    libvirt::DomainSpec spec;
    spec.name = "isolab-plain";
    spec.kernel = "/boot/vmlinuz";
    EXPECT_EQ(libvirt::build_domain_xml(spec).find("<log "), std::string::npos);
}

}  // namespace
}  // namespace isolab::vm
