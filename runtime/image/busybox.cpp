#include "runtime/image/busybox.hpp"

#include <elf.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "runtime/core/error.hpp"
#include "runtime/core/process.hpp"

namespace isolab::image {

namespace fs = std::filesystem;

namespace {

constexpr const char* install_hint = "install busybox-static (apt-get install busybox-static) or set ISOLAB_BUSYBOX to a static busybox";

constexpr const char* passwd_content =
    "root:x:0:0:root:/root:/bin/sh\n"
    "user:x:1000:1000:user:/home/user:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

constexpr const char* group_content =
    "root:x:0:\n"
    "user:x:1000:\n"
    "nogroup:x:65534:\n";

TarEntry directory(const std::string& path, unsigned mode = 0755, uid_t uid = 0, gid_t gid = 0) {
    TarEntry entry;
    entry.type = TarEntry::Type::directory;
    entry.path = path;
    entry.mode = mode;
    entry.uid = uid;
    entry.gid = gid;
    return entry;
}

TarEntry text_file(const std::string& path, std::string content) {
    TarEntry entry;
    entry.path = path;
    entry.content = std::move(content);
    return entry;
}

std::vector<std::string> applet_paths(const fs::path& binary) {
    std::string listing = run_checked({binary.string(), "--list-full"});
    std::vector<std::string> paths;
    std::istringstream lines(listing);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.empty() || line == "bin/busybox") continue;
        if (line.front() == '/' || line.find("..") != std::string::npos) {
            throw Error(binary.string() + " --list-full printed an unexpected path '" + line + "'", install_hint);
        }
        paths.push_back(line);
    }
    if (paths.empty()) throw Error(binary.string() + " --list-full listed no applets", install_hint);
    return paths;
}

}  // namespace

fs::path busybox_binary() {
    const char* overridden = std::getenv("ISOLAB_BUSYBOX");
    return overridden && *overridden ? fs::path(overridden) : fs::path("/bin/busybox");
}

void check_static_binary(const fs::path& binary) {
    std::ifstream stream(binary, std::ios::binary);
    if (!stream) throw Error("busybox not found at " + binary.string(), install_hint);

    Elf64_Ehdr header{};
    stream.read(reinterpret_cast<char*>(&header), sizeof header);
    bool is_elf64 = stream && std::equal(header.e_ident, header.e_ident + SELFMAG, ELFMAG) && header.e_ident[EI_CLASS] == ELFCLASS64;
    if (!is_elf64) throw Error(binary.string() + " is not a 64-bit ELF executable", install_hint);

    for (unsigned i = 0; i < header.e_phnum; ++i) {
        Elf64_Phdr program{};
        stream.seekg(static_cast<std::streamoff>(header.e_phoff + i * header.e_phentsize));
        stream.read(reinterpret_cast<char*>(&program), sizeof program);
        if (!stream) throw Error(binary.string() + " has a truncated ELF program header table", install_hint);
        if (program.p_type == PT_INTERP) {
            throw Error(binary.string() + " is dynamically linked, so it cannot run in an image without libraries",
                        install_hint);
        }
    }
}

std::string busybox_version(const fs::path& binary) {
    auto result = run_command({binary.string()});
    std::string first_line = result.output.substr(0, result.output.find('\n'));
    auto multi_call = first_line.find(" multi-call binary");
    if (multi_call != std::string::npos) first_line.erase(multi_call);
    if (first_line.rfind("BusyBox", 0) != 0) return "BusyBox";
    return first_line;
}

std::vector<TarEntry> busybox_rootfs(const fs::path& binary) {
    std::vector<TarEntry> entries;
    std::set<std::string> directories;
    auto add_parents = [&](const std::string& path) {
        for (fs::path parent = fs::path(path).parent_path(); !parent.empty(); parent = parent.parent_path()) {
            directories.insert(parent.string());
        }
    };

    TarEntry busybox;
    busybox.path = "bin/busybox";
    busybox.mode = 0755;
    busybox.source = binary;
    entries.push_back(busybox);

    for (const auto& applet : applet_paths(binary)) {
        TarEntry link;
        link.type = TarEntry::Type::symlink;
        link.path = applet;
        link.mode = 0777;
        link.link_target = fs::path("bin/busybox").lexically_relative(fs::path(applet).parent_path()).string();
        add_parents(applet);
        entries.push_back(link);
    }

    entries.push_back(text_file("etc/passwd", passwd_content));
    entries.push_back(text_file("etc/group", group_content));
    entries.push_back(directory("tmp", 01777));
    entries.push_back(directory("root", 0700));
    entries.push_back(directory("home/user", 0755, 1000, 1000));
    for (const char* mount_point : {"proc", "sys", "dev"}) entries.push_back(directory(mount_point, 0755));
    add_parents("bin/busybox");
    add_parents("etc/passwd");
    add_parents("home/user");
    for (const auto& path : directories) entries.push_back(directory(path));
    return entries;
}

}  // namespace isolab::image
