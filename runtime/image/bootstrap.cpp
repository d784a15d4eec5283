#include "runtime/image/bootstrap.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <sstream>
#include <vector>

#include <spdlog/spdlog.h>

#include "runtime/core/digest.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "runtime/image/busybox.hpp"
#include "runtime/image/layout.hpp"

namespace isolab::image {

namespace fs = std::filesystem;

namespace {

constexpr const char* debootstrap_scripts = "/usr/share/debootstrap/scripts";

std::vector<std::string> split_words(const std::string& text) {
    std::istringstream stream(text);
    std::vector<std::string> words;
    std::string word;
    while (stream >> word) words.push_back(word);
    return words;
}

std::string trim(const std::string& text) {
    size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return "";
    return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::string lowercase(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

// The URI of the first `deb` line for `suite` in a one-line-style sources.list file:
// "deb [option=value ...] URI SUITE COMPONENT...".
std::optional<std::string> mirror_in_list(const std::string& text, const std::string& suite) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        line = line.substr(0, line.find('#'));
        auto words = split_words(line);
        if (words.empty() || words[0] != "deb") continue;
        size_t at = 1;
        if (at < words.size() && words[at].front() == '[') {
            while (at < words.size() && words[at].back() != ']') ++at;
            ++at;
        }
        if (at + 1 < words.size() && words[at + 1] == suite) return words[at];
    }
    return std::nullopt;
}

// The first URI of the first enabled deb822 stanza with Types `deb` and `suite` among
// its Suites, in a .sources file.
std::optional<std::string> mirror_in_sources(const std::string& text, const std::string& suite) {
    std::istringstream lines(text);
    std::string line;
    std::map<std::string, std::string> fields;
    std::string last_field;
    auto stanza_mirror = [&]() -> std::optional<std::string> {
        auto types = split_words(fields["types"]);
        auto uris = split_words(fields["uris"]);
        auto suites = split_words(fields["suites"]);
        bool enabled = lowercase(trim(fields["enabled"])) != "no";
        bool is_deb = std::find(types.begin(), types.end(), "deb") != types.end();
        bool has_suite = std::find(suites.begin(), suites.end(), suite) != suites.end();
        if (enabled && is_deb && has_suite && !uris.empty()) return uris.front();
        return std::nullopt;
    };
    while (std::getline(lines, line)) {
        if (!line.empty() && line.front() == '#') continue;
        if (trim(line).empty()) {
            if (auto mirror = stanza_mirror()) return mirror;
            fields.clear();
            continue;
        }
        if (std::isspace(static_cast<unsigned char>(line.front()))) {
            if (!last_field.empty()) fields[last_field] += " " + trim(line);  // a continuation line
            continue;
        }
        size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        last_field = lowercase(trim(line.substr(0, colon)));
        fields[last_field] = trim(line.substr(colon + 1));
    }
    return stanza_mirror();
}

// The last line of debootstrap's output that reports an error ("E: ..."), else its last
// non-empty line, so a failure fits on one line.
std::string failure_line(const std::string& output) {
    std::istringstream lines(output);
    std::string line, last, last_error;
    while (std::getline(lines, line)) {
        line = trim(line);
        if (line.empty()) continue;
        last = line;
        if (line.rfind("E: ", 0) == 0) last_error = line;
    }
    return last_error.empty() ? last : last_error;
}

void run_debootstrap(const std::vector<std::string>& argv, const std::string& step) {
    std::string command;
    for (const auto& word : argv) command += (command.empty() ? "" : " ") + word;
    spdlog::debug("running {}", command);
    auto result = run_command(argv);
    if (result.exit_code != 0) {
        throw Error("debootstrap failed to " + step + " (exit " + std::to_string(result.exit_code) +
                        "): " + failure_line(result.output),
                    "check the mirror URL and the network to it, or give another with --mirror URL");
    }
}

// Removes a file unless it was renamed into place.
struct PartialFile {
    fs::path path;
    ~PartialFile() {
        std::error_code ignored;
        fs::remove(path, ignored);
    }
};

}  // namespace

std::optional<std::string> bootstrap_suite(const std::string& reference) {
    std::string normalized;
    try {
        normalized = normalize_reference(reference);
    } catch (const Error&) {
        return std::nullopt;
    }
    for (const char* prefix : {"debian:", "docker.io/library/debian:", "docker.io/debian:"}) {
        if (normalized.rfind(prefix, 0) != 0) continue;
        std::string suite = normalized.substr(std::string(prefix).size());
        bool letters = !suite.empty() && std::all_of(suite.begin(), suite.end(), [](char c) { return c >= 'a' && c <= 'z'; });
        if (letters && suite != "latest") return suite;
    }
    return std::nullopt;
}

std::optional<std::string> bootstrap_hint(const std::string& reference) {
    if (!bootstrap_suite(reference)) return std::nullopt;
    return "isolab never pulls from a registry: create it from a Debian mirror with `isolab image bootstrap " +
           normalize_reference(reference) + "`, or load a saved copy with `isolab load -i FILE`";
}

std::optional<std::string> find_apt_mirror(const fs::path& apt_dir, const std::string& suite) {
    if (fs::exists(apt_dir / "sources.list")) {
        if (auto mirror = mirror_in_list(read_file(apt_dir / "sources.list"), suite)) return mirror;
    }
    std::vector<fs::path> files;
    if (fs::is_directory(apt_dir / "sources.list.d")) {
        for (const auto& entry : fs::directory_iterator(apt_dir / "sources.list.d")) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
        std::optional<std::string> mirror;
        if (file.extension() == ".list") mirror = mirror_in_list(read_file(file), suite);
        if (file.extension() == ".sources") mirror = mirror_in_sources(read_file(file), suite);
        if (mirror) return mirror;
    }
    return std::nullopt;
}

Image bootstrap_debian(Store& store, const BootstrapOptions& options) {
    auto progress = [&](const std::string& line) {
        if (options.progress) options.progress(line);
    };
    auto suite = bootstrap_suite(options.reference);
    if (!suite) {
        throw Error("cannot bootstrap '" + options.reference + "': only debian:SUITE images can be bootstrapped",
                    "name a Debian suite, for example `isolab image bootstrap debian:bookworm`");
    }
    if (!program_available("debootstrap")) {
        throw Error("debootstrap is not installed", "install it with `apt-get install debootstrap` or scripts/setup");
    }
    if (!fs::exists(fs::path(debootstrap_scripts) / *suite)) {
        throw Error("debootstrap does not know the suite '" + *suite + "'",
                    "give a suite listed in " + std::string(debootstrap_scripts) + ", for example bookworm");
    }

    std::string mirror = options.mirror;
    if (mirror.empty()) mirror = find_apt_mirror("/etc/apt", *suite).value_or("");
    if (mirror.empty()) {
        throw Error("no apt source for " + *suite + " in /etc/apt/sources.list or /etc/apt/sources.list.d",
                    "give the mirror with --mirror, for example --mirror http://deb.debian.org/debian");
    }
    bool known_scheme = mirror.rfind("http://", 0) == 0 || mirror.rfind("https://", 0) == 0 || mirror.rfind("file:///", 0) == 0;
    if (!known_scheme) {
        throw Error("invalid mirror '" + mirror + "': debootstrap reads http://, https:// or file:/// URLs",
                    "give a URL such as http://deb.debian.org/debian");
    }

    std::string architecture = trim(run_checked({"dpkg", "--print-architecture"}));
    fs::path cache_dir = store.paths().cache / "debootstrap";
    fs::create_directories(cache_dir);
    // One tarball per suite, architecture and mirror: another mirror may serve other versions.
    fs::path tarball = cache_dir / (*suite + "-" + architecture + "-minbase-" +
                                    digest_hex(sha256_digest(mirror)).substr(0, 12) + ".tgz");
    fs::create_directories(store.paths().tmp());
    TemporaryDirectory work(store.paths().tmp(), "bootstrap-");
    std::vector<std::string> common{"debootstrap", "--variant=minbase", "--arch=" + architecture};

    if (options.refresh || !fs::exists(tarball)) {
        progress("downloading the " + *suite + " minbase packages from " + mirror);
        // Written beside the tarball and renamed, so an interrupted download is never used.
        PartialFile partial{cache_dir / (tarball.filename().string() + ".partial-" + random_hex_id().substr(0, 12))};
        auto download = common;
        download.insert(download.end(), {"--make-tarball=" + partial.path.string(), *suite, (work.path() / "download").string(), mirror});
        run_debootstrap(download, "download the packages");
        fs::rename(partial.path, tarball);
        fs::remove_all(work.path() / "download");
    } else {
        progress("using the packages downloaded before: " + tarball.string());
    }

    progress("installing " + *suite + " with debootstrap --variant=minbase");
    // debootstrap mounts /proc and /sys in the target while it installs. A private mount
    // namespace drops those mounts when debootstrap exits, on every path, so removing the
    // temporary folder can never reach into a mount.
    fs::path rootfs = work.path() / "rootfs";
    auto install = common;
    install.insert(install.begin(), {"unshare", "--mount", "--propagation", "private"});
    install.insert(install.end(), {"--unpack-tarball=" + tarball.string(), *suite, rootfs.string(), mirror});
    run_debootstrap(install, "install " + *suite);

    // Left out, as in Docker's Debian images: the device nodes debootstrap created in
    // /dev (a container gets its own /dev), apt's package lists, which `apt-get update`
    // fetches again, and the .deb files --unpack-tarball leaves in apt's cache.
    progress("storing the root file system as one layer");
    fs::path layer_tar = work.path() / "rootfs.tar";
    run_checked({"tar", "--create", "--file", layer_tar.string(), "--numeric-owner", "--xattrs",
                 "--xattrs-include=security.capability", "--directory", rootfs.string(), "--exclude=./dev/*",
                 "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./var/lib/apt/lists/*_*",
                 "--exclude=./var/cache/apt/*.bin", "--exclude=./var/cache/apt/archives/*.deb", "."});

    RunConfig run_config;
    run_config.env = {default_path_env};
    run_config.cmd = {"bash"};
    std::string created_by = "isolab image bootstrap " + options.reference + " (debootstrap --variant=minbase " + *suite +
                             " " + mirror + ")";
    return store.import_rootfs(layer_tar, normalize_reference(options.reference), run_config, created_by);
}

}  // namespace isolab::image
