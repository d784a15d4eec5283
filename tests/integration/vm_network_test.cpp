// VM networking and shared folders through libvirtd (qemu:///system) under TCG. A VM on
// the isolab bridge serves HTTP through `vm run -d -p`, and a container on the same
// bridge pings it and fetches the page. The guest reads and writes host folders over
// virtio-9p with :ro enforced. `vm rm -f`, or a kill -9 of a foreground `vm run`, leaves
// no tap, lease, listening port or bridge. Needs root; two boots in all.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
#include "runtime/network/ipam.hpp"
#include "http_client.hpp"
#include "libvirt_domains.hpp"
#include "support/test_support.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CliResult;
using testing::run_isolab;
using testing::domain_exists;
using testing::free_port;
using testing::port_free;
using testing::wait_for;

// Generous, because creating a domain alone took 44 s under TCG on a loaded two-core host.
constexpr std::chrono::seconds kBootDeadline{180};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Sends an HTTP/1.0 GET for / to 127.0.0.1:`port` once and returns the whole response;
// empty when none came.
std::string http_get(std::uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::string response;
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
        std::string request = "GET / HTTP/1.0\r\n\r\n";
        send(fd, request.data(), request.size(), MSG_NOSIGNAL);
        char buffer[4096];
        for (ssize_t count; (count = recv(fd, buffer, sizeof buffer, 0)) > 0;) response.append(buffer, static_cast<size_t>(count));
    }
    close(fd);
    return response;
}

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

class VmNetwork : public testing::VmDomainTest {
protected:
    testing::TestRoot test_root_;
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
    std::string response;
    wait_for([&] { return contains(response = http_get(port), "hello-from-host"); }, std::chrono::seconds(30));
    EXPECT_TRUE(contains(response, "200 OK")) << response;
    EXPECT_TRUE(contains(response, "hello-from-host")) << response;

    // The guest wrote into the read-write folder and could not write into the :ro one.
    EXPECT_EQ(read_file(writable / "from-guest.txt"), "guest-wrote\n");
    EXPECT_EQ(read_file(writable / "ro-result.txt"), "ro-denied\n");
    EXPECT_FALSE(fs::exists(read_only / "denied.txt"));

    // A container on the same bridge reaches the VM by ICMP and TCP.
    CliResult container = run_isolab(paths, {"run", "--rm", "busybox", "sh", "-c",
                                             "ping -c 1 -W 10 " + address + " && wget -q -O - http://" + address + "/"});
    EXPECT_EQ(container.exit_code, 0) << container.out << container.err;
    EXPECT_TRUE(contains(container.out, "1 packets received")) << container.out;
    EXPECT_TRUE(contains(container.out, "hello-from-host")) << container.out;

    CliResult removed = run_isolab(paths, {"vm", "rm", "-f", name});
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_FALSE(domain_exists(name));
    EXPECT_FALSE(link_exists(tap)) << "vm rm -f left the tap device " << tap;
    EXPECT_TRUE(lease_of(paths, name).is_null()) << "vm rm -f left the lease";
    EXPECT_TRUE(port_free(port)) << "vm rm -f left port " << port << " bound";
    EXPECT_FALSE(link_exists(bridge)) << "vm rm -f left the bridge " << bridge << " without users";
    EXPECT_FALSE(holder > 0 && container::process_alive(holder, 0)) << "the network holder " << holder << " still runs";
}

// Starts `isolab vm run` in the foreground as a child process and returns its pid.
pid_t start_foreground(const Paths& paths, const std::vector<std::string>& arguments) {
    pid_t child = fork();
    if (child == 0) {
        setenv("ISOLAB_ROOT", paths.root.c_str(), 1);
        setenv("ISOLAB_CACHE", paths.cache.c_str(), 1);
        int null = open("/dev/null", O_RDWR);
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        std::vector<std::string> words = {ISOLAB_BINARY};
        words.insert(words.end(), arguments.begin(), arguments.end());
        std::vector<char*> argv;
        for (auto& word : words) argv.push_back(word.data());
        argv.push_back(nullptr);
        execv(ISOLAB_BINARY, argv.data());
        _exit(127);
    }
    return child;
}

TEST_F(VmNetwork, KilledForegroundRunReleasesNetwork) {
    const Paths& paths = test_root_.paths();
    std::uint16_t port = free_port();
    std::string name = new_name("fgkill");
    pid_t child = start_foreground(paths, {"vm", "run", "--accel", "tcg", "--name", name, "-p",
                                           "127.0.0.1:" + std::to_string(port) + ":80", "busybox", "sleep", "600"});
    ASSERT_GT(child, 0);

    // The lease names the QEMU process once the domain exists.
    json lease;
    bool attached = wait_for(
        [&] {
            lease = lease_of(paths, name);
            return !lease.is_null() && lease.value("pid", 0) > 0;
        },
        kBootDeadline);
    if (!attached) {
        kill(child, SIGKILL);
        waitpid(child, nullptr, 0);
        FAIL() << "the foreground VM never recorded its QEMU process in its lease";
    }
    std::string tap = lease["device"].get<std::string>();
    EXPECT_TRUE(link_exists(tap)) << tap;
    EXPECT_FALSE(port_free(port)) << "the published port is not bound";

    ASSERT_EQ(kill(child, SIGKILL), 0);
    waitpid(child, nullptr, 0);
    // libvirtd destroys an auto-destroy domain when its connection closes.
    EXPECT_TRUE(wait_for([&] { return !domain_exists(name); }, std::chrono::seconds(60))) << "the domain outlived kill -9";
    EXPECT_TRUE(port_free(port)) << "port " << port << " still bound after kill -9";

    CliResult ps = run_isolab(paths, {"vm", "ps", "-a"});
    EXPECT_EQ(ps.exit_code, 0) << ps.err;
    EXPECT_TRUE(lease_of(paths, name).is_null()) << "vm ps kept the stale lease";
    EXPECT_FALSE(link_exists(tap)) << "tap " << tap << " left after kill -9";
    auto ipam = json::parse(read_file(network::ipam_directory(paths) / "ipam.json"));
    std::string bridge = ipam["networks"]["bridge"].value("bridge", "");
    EXPECT_FALSE(link_exists(bridge)) << "bridge " << bridge << " left after kill -9";
}

}  // namespace
}  // namespace isolab
