// VM networking and shared folders through libvirtd (qemu:///system) under TCG. A VM on
// the isolab bridge serves HTTP through `vm run -d -p`, gets the containers'
// /etc/resolv.conf, and a container on the same bridge pings it and fetches the page.
// Its published port comes back after its network holder is killed. The guest reads and
// writes host folders over virtio-9p with :ro enforced. `vm rm -f`, or a kill -9 of a
// foreground `vm run`, leaves no tap, lease, listening port or bridge. Needs root; two
// boots in all.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/container/status.hpp"
#include "runtime/core/files.hpp"
#include "runtime/network/attachment.hpp"
#include "runtime/network/ipam.hpp"
#include "http_client.hpp"
#include "support/background_isolab.hpp"
#include "support/test_support.hpp"
#include "support/vm_domain_test.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CliResult;
using testing::contains;
using testing::domain_exists;
using testing::free_port;
using testing::http_get;
using testing::HttpResponse;
using testing::kBootDeadline;
using testing::port_free;
using testing::run_isolab;
using testing::wait_for;

bool link_exists(const std::string& device) { return !device.empty() && fs::exists("/sys/class/net/" + device); }

// The lease of `name` in the state root's ipam.json, as JSON; null when there is none.
json lease_of(const Paths& paths, const std::string& name) {
    auto file = network::ipam_directory(paths) / "ipam.json";
    if (!fs::exists(file)) return nullptr;
    json state = json::parse(read_file(file));
    for (const auto& [network_name, network] : state["networks"].items()) {
        if (network["leases"].contains(name)) return network["leases"][name];
    }
    return nullptr;
}

// Binds 127.0.0.1:`port` and listens on it until destroyed.
class PortBlocker {
public:
    explicit PortBlocker(std::uint16_t port) : fd_(testing::bind_loopback(port)) {
        bound_ = fd_ >= 0 && listen(fd_, 1) == 0;
    }
    ~PortBlocker() {
        if (fd_ >= 0) close(fd_);
    }
    PortBlocker(const PortBlocker&) = delete;
    PortBlocker& operator=(const PortBlocker&) = delete;

    bool bound() const { return bound_; }

private:
    int fd_;
    bool bound_ = false;
};

class VmNetwork : public testing::VmDomainTest {
protected:
    // Kills the network holder `holder` of the running VM `name`, which serves HTTP on the
    // published `port`. While another process binds the port, `vm ps` and `vm inspect`
    // show the port as down. Once it is free, the next `vm` command starts a new holder
    // and the page is served again.
    void expect_holder_restarts(const std::string& name, std::uint16_t port, pid_t holder) {
        const Paths& paths = test_root_.paths();
        std::string published = "127.0.0.1:" + std::to_string(port) + "->80/tcp";
        ASSERT_GT(holder, 0);
        ASSERT_EQ(kill(holder, SIGKILL), 0);
        EXPECT_TRUE(wait_for([&] { return port_free(port); }, std::chrono::seconds(10)))
            << "port " << port << " still bound after its holder was killed";
        {
            PortBlocker blocker(port);
            ASSERT_TRUE(blocker.bound()) << "the test could not bind port " << port;
            std::string down = ps_line(name);
            EXPECT_TRUE(contains(down, published + " (down)")) << down;
            json inspected = json::parse(run_isolab(paths, {"vm", "inspect", name}).out);
            EXPECT_EQ(inspected["NetworkHolder"]["Running"], false) << inspected["NetworkHolder"];
            EXPECT_EQ(inspected["State"]["Status"], "running");
        }

        std::string up = ps_line(name);
        EXPECT_TRUE(contains(up, published)) << up;
        EXPECT_FALSE(contains(up, "(down)")) << up;
        json inspected = json::parse(run_isolab(paths, {"vm", "inspect", name}).out);
        pid_t restarted = inspected["NetworkHolder"].value("Pid", 0);
        EXPECT_NE(restarted, holder) << inspected["NetworkHolder"];
        EXPECT_EQ(inspected["NetworkHolder"]["Running"], true) << inspected["NetworkHolder"];
        EXPECT_EQ(lease_of(paths, name).value("owner_pid", 0), restarted) << "the new holder does not own the lease";
        EXPECT_TRUE(contains(testing::http_get_when_up(port, "/").body, "hello-from-host"))
            << "the published port does not reach the guest after the holder restarted";
    }
};

TEST_F(VmNetwork, DetachedHttpContainerAndSharedFolders) {
    const Paths& paths = test_root_.paths();
    // Folders the test creates itself: libvirt-qemu may enter the parent, write to the
    // read-write folder and read the read-only one.
    TemporaryDirectory host(fs::temp_directory_path(), "isolab-vmnet-");
    fs::permissions(host.path(), fs::perms(0755));
    fs::path writable = host.path() / "rw folder, with comma";
    fs::path read_only = host.path() / "ro folder";
    fs::create_directories(writable);
    fs::create_directories(read_only);
    fs::permissions(writable, fs::perms(0777));
    fs::permissions(read_only, fs::perms(0755));
    write_file_atomic(read_only / "message.txt", "hello-from-host\n");

    std::uint16_t port = free_port();
    std::string name = new_name("net");
    std::string script =
        "mkdir -p /www && cat /mnt/ro/message.txt > /www/index.html"
        " && echo guest-wrote > /mnt/rw/from-guest.txt"
        " && cat /etc/resolv.conf > /mnt/rw/resolv.conf"
        // A guest root may remount read-write; QEMU must still reject the write.
        " && { mount -o remount,rw /mnt/ro; true; }"
        " && { if echo x > /mnt/ro/denied.txt; then echo ro-writable; else echo ro-denied; fi; } > /mnt/rw/ro-result.txt"
        " && echo ready-marker && exec httpd -f -p 80 -h /www";
    CliResult started = run_isolab(paths, {"vm", "run", "-d", "--accel", "tcg", "--name", name, "-p",
                                           "127.0.0.1:" + std::to_string(port) + ":80", "-v",
                                           writable.string() + ":/mnt/rw", "-v", read_only.string() + ":/mnt/ro:ro",
                                           "busybox", "sh", "-c", script});
    ASSERT_EQ(started.exit_code, 0) << started.err;

    CliResult inspect = run_isolab(paths, {"vm", "inspect", name});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    json document = json::parse(inspect.out);
    std::string address = document["NetworkSettings"]["IPAddress"].get<std::string>();
    std::string bridge = document["NetworkSettings"]["Bridge"].get<std::string>();
    EXPECT_FALSE(address.empty()) << inspect.out;
    json lease = lease_of(paths, name);
    ASSERT_FALSE(lease.is_null()) << "no lease in ipam.json for " << name;
    std::string tap = lease["device"].get<std::string>();
    EXPECT_TRUE(tap.starts_with("isolab")) << tap;
    EXPECT_EQ(lease.value("kind", ""), "vm") << lease;
    EXPECT_TRUE(link_exists(tap)) << "no tap device " << tap;
    EXPECT_TRUE(fs::exists("/sys/class/net/" + tap + "/master/bridge")) << tap << " is not a bridge port";
    EXPECT_TRUE(contains(document["DomainXML"].get<std::string>(), "<source bridge='" + bridge + "'/>"));
    pid_t holder = document.value("NetworkHolderPid", 0);
    EXPECT_GT(holder, 0) << "no network holder recorded: " << inspect.out;

    bool ready = wait_for([&] { return contains(run_isolab(paths, {"vm", "logs", name}).out, "ready-marker"); },
                          kBootDeadline);
    ASSERT_TRUE(ready) << "the guest never started its web server:\n"
                       << run_isolab(paths, {"vm", "logs", "--console", name}).out;

    // The host reaches the guest's port 80 through the published port.
    HttpResponse response;
    wait_for([&] { return contains((response = http_get(port, "/")).body, "hello-from-host"); }, std::chrono::seconds(30));
    EXPECT_EQ(response.status, 200);
    EXPECT_TRUE(contains(response.body, "hello-from-host")) << response.body;

    // The guest wrote into the read-write folder and could not write into the :ro one.
    EXPECT_EQ(read_file(writable / "from-guest.txt"), "guest-wrote\n");
    EXPECT_EQ(read_file(writable / "ro-result.txt"), "ro-denied\n");
    EXPECT_FALSE(fs::exists(read_only / "denied.txt"));

    // The guest has the resolv.conf a container on the bridge gets.
    ASSERT_TRUE(fs::exists(writable / "resolv.conf")) << "the guest has no /etc/resolv.conf";
    std::string guest_resolv = read_file(writable / "resolv.conf");
    EXPECT_EQ(guest_resolv, network::bridge_resolv_conf());
    EXPECT_TRUE(contains(guest_resolv, "nameserver ")) << guest_resolv;

    // A container on the same bridge reaches the VM by ICMP and TCP.
    CliResult container = run_isolab(paths, {"run", "--rm", "busybox", "sh", "-c",
                                             "ping -c 1 -W 10 " + address + " && wget -q -O - http://" + address + "/"});
    EXPECT_EQ(container.exit_code, 0) << container.out << container.err;
    EXPECT_TRUE(contains(container.out, "1 packets received")) << container.out;
    EXPECT_TRUE(contains(container.out, "hello-from-host")) << container.out;

    expect_holder_restarts(name, port, holder);
    holder = json::parse(run_isolab(paths, {"vm", "inspect", name}).out).value("NetworkHolderPid", 0);

    CliResult removed = run_isolab(paths, {"vm", "rm", "-f", name});
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_FALSE(domain_exists(name));
    EXPECT_FALSE(link_exists(tap)) << "vm rm -f left the tap device " << tap;
    EXPECT_TRUE(lease_of(paths, name).is_null()) << "vm rm -f left the lease";
    EXPECT_TRUE(port_free(port)) << "vm rm -f left port " << port << " bound";
    EXPECT_FALSE(link_exists(bridge)) << "vm rm -f left the bridge " << bridge << " without users";
    EXPECT_FALSE(holder > 0 && container::process_alive(holder, 0)) << "the network holder " << holder << " still runs";
}

TEST_F(VmNetwork, KilledForegroundRunReleasesNetwork) {
    const Paths& paths = test_root_.paths();
    std::uint16_t port = free_port();
    std::string name = new_name("fgkill");
    // Started in the foreground; its destructor kills it if an assertion ends the test early.
    testing::BackgroundIsolab run(paths, {"vm", "run", "--accel", "tcg", "--name", name, "-p",
                                          "127.0.0.1:" + std::to_string(port) + ":80", "busybox", "sh", "-c",
                                          "echo foreground-marker; sleep 600"});
    ASSERT_GT(run.pid(), 0);

    // Other `vm` commands list the foreground VM as `docker ps` lists a foreground container.
    bool logged = wait_for([&] { return contains(run_isolab(paths, {"vm", "logs", name}).out, "foreground-marker"); },
                           kBootDeadline);
    ASSERT_TRUE(logged) << "the foreground VM's output never reached vm logs:\n"
                        << run_isolab(paths, {"vm", "ps", "-a"}).out;
    std::string running = ps_line(name);
    EXPECT_TRUE(contains(running, "Up ")) << running;
    EXPECT_TRUE(contains(running, "127.0.0.1:" + std::to_string(port) + "->80/tcp")) << running;
    CliResult inspect = run_isolab(paths, {"vm", "inspect", name});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    json document = json::parse(inspect.out);
    EXPECT_EQ(document["State"]["Status"], "running");
    EXPECT_EQ(document["State"]["DomainState"], "running");
    EXPECT_FALSE(document["NetworkSettings"]["IPAddress"].get<std::string>().empty()) << inspect.out;

    // The lease names the QEMU process once the domain exists.
    json lease = lease_of(paths, name);
    ASSERT_FALSE(lease.is_null()) << "no lease for the foreground VM";
    EXPECT_GT(lease.value("pid", 0), 0) << lease;
    std::string tap = lease["device"].get<std::string>();
    EXPECT_TRUE(link_exists(tap)) << tap;
    EXPECT_FALSE(port_free(port)) << "the published port is not bound";

    ASSERT_EQ(kill(run.pid(), SIGKILL), 0);
    EXPECT_EQ(run.wait_exit(), 128 + SIGKILL);
    // libvirtd destroys an auto-destroy domain when its connection closes.
    EXPECT_TRUE(wait_for([&] { return !domain_exists(name); }, std::chrono::seconds(60))) << "the domain outlived kill -9";
    EXPECT_TRUE(port_free(port)) << "port " << port << " still bound after kill -9";

    // The owner is gone and no exit code was reported, so the record shows code 255.
    std::string exited = ps_line(name);
    EXPECT_TRUE(contains(exited, "Exited (255)")) << exited;
    EXPECT_TRUE(lease_of(paths, name).is_null()) << "vm ps kept the stale lease";
    EXPECT_FALSE(link_exists(tap)) << "tap " << tap << " left after kill -9";
    auto ipam = json::parse(read_file(network::ipam_directory(paths) / "ipam.json"));
    std::string bridge = ipam["networks"]["bridge"].value("bridge", "");
    EXPECT_FALSE(link_exists(bridge)) << "bridge " << bridge << " left after kill -9";
    EXPECT_TRUE(contains(run_isolab(paths, {"vm", "logs", name}).out, "foreground-marker")) << "log lost after kill -9";

    // `system prune` removes the exited VM with the guest files the killed run left.
    // test:///default, so the prune destroys no domain of another state root on this host.
    CliResult prune = run_isolab(paths, {"system", "prune", "--force", "--connect", "test:///default"});
    EXPECT_EQ(prune.exit_code, 0) << prune.err;
    EXPECT_FALSE(fs::exists(paths.vms() / name)) << "system prune left the VM's folder";
    EXPECT_TRUE(ps_line(name).empty()) << "vm ps -a still lists a pruned VM";
}

}  // namespace
}  // namespace isolab
