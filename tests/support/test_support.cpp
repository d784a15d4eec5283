#include "support/test_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include "runtime/container/manage.hpp"
#include "runtime/container/record.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"

namespace isolab::testing {

namespace fs = std::filesystem;

TestRoot::TestRoot() {
    auto pattern = (fs::temp_directory_path() / "isolab-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    // libvirt's QEMU runs as another user and must traverse the folder to the guest files.
    fs::permissions(pattern, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                 fs::perms::others_read | fs::perms::others_exec);
    const char* cache = std::getenv("ISOLAB_TEST_CACHE");
    paths_.root = fs::path(pattern) / "root";
    paths_.cache = cache && *cache ? fs::path(cache) : fs::path("/var/cache/isolab");
    fs::create_directories(paths_.root);
}

TestRoot::~TestRoot() {
    std::error_code ignored;
    fs::remove_all(paths_.root.parent_path(), ignored);
}

namespace {

std::string drain(int fd) {
    std::string text;
    char buffer[4096];
    ssize_t count;
    while ((count = read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(count));
    return text;
}

}  // namespace

CliResult run_isolab(const Paths& paths, const std::vector<std::string>& arguments) {
    auto out_file = fs::temp_directory_path() / ("isolab-out-" + random_hex_id().substr(0, 12));
    auto err_file = out_file;
    err_file += ".err";

    pid_t child = fork();
    if (child < 0) throw std::runtime_error("fork failed");
    if (child == 0) {
        int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null_input = open("/dev/null", O_RDONLY);
        dup2(null_input, 0);
        dup2(out, 1);
        dup2(err, 2);
        setenv("ISOLAB_ROOT", paths.root.c_str(), 1);
        setenv("ISOLAB_CACHE", paths.cache.c_str(), 1);
        std::vector<char*> argv;
        std::string binary = ISOLAB_BINARY;
        argv.push_back(binary.data());
        std::vector<std::string> copies = arguments;
        for (auto& argument : copies) argv.push_back(argument.data());
        argv.push_back(nullptr);
        execv(binary.c_str(), argv.data());
        _exit(127);
    }
    int status = 0;
    waitpid(child, &status, 0);

    CliResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    int out = open(out_file.c_str(), O_RDONLY);
    int err = open(err_file.c_str(), O_RDONLY);
    result.out = drain(out);
    result.err = drain(err);
    close(out);
    close(err);
    fs::remove(out_file);
    fs::remove(err_file);
    return result;
}

bool running_as_root() { return geteuid() == 0; }

bool readable_by(const std::filesystem::path& file, unsigned id) {
    pid_t child = fork();
    if (child < 0) throw std::runtime_error("fork failed");
    if (child == 0) {
        if (setgroups(0, nullptr) != 0 || setresgid(id, id, id) != 0 || setresuid(id, id, id) != 0) _exit(2);
        int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
        _exit(fd >= 0 ? 0 : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 2) throw std::runtime_error("could not change ids to check a file");
    return WEXITSTATUS(status) == 0;
}

std::uint16_t free_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    close(fd);
    return ntohs(address.sin_port);
}

std::vector<std::string> remove_all_containers(const Paths& paths) {
    std::vector<std::string> failures;
    for (const auto& stored : container::list_containers(paths)) {
        try {
            container::remove_container(paths, stored.config.id, true);
        } catch (const Error& error) {
            failures.push_back(stored.config.id + ": " + error.what());
        }
    }
    return failures;
}

}  // namespace isolab::testing
