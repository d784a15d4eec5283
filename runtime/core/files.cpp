#include "runtime/core/files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <utility>

#include <fmt/format.h>

#include "runtime/core/error.hpp"

namespace isolab {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
    std::ifstream stream(path, std::ios::binary);
    if (!stream) throw_errno("cannot read " + path.string());
    std::ostringstream content;
    content << stream.rdbuf();
    return content.str();
}

void write_file_atomic(const fs::path& path, std::string_view content, unsigned mode, Durability durability) {
    // rename() would replace whatever is at `path`: a device such as /dev/full, a FIFO or a
    // symbolic link. Only a regular file (or nothing) may be replaced.
    struct stat existing {};
    if (lstat(path.c_str(), &existing) == 0 && !S_ISREG(existing.st_mode)) {
        throw Error(path.string() + " exists and is not a regular file", "give the path of a new or regular file");
    }
    if (path.filename().empty()) throw Error("invalid output path '" + path.string() + "'", "give a file path");

    auto temporary = path;
    temporary += ".tmp-" + random_hex_id().substr(0, 12);
    int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) throw_errno("cannot create " + temporary.string());

    size_t written = 0;
    while (written < content.size()) {
        ssize_t count = write(fd, content.data() + written, content.size() - written);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) {
            int saved = errno;
            close(fd);
            unlink(temporary.c_str());
            throw_errno(saved, "cannot write " + temporary.string());
        }
        written += static_cast<size_t>(count);
    }
    bool flush = durability == Durability::crash_safe;
    if ((flush && fsync(fd) != 0) || close(fd) != 0) {
        int saved = errno;
        unlink(temporary.c_str());
        throw_errno(saved, "cannot flush " + temporary.string());
    }
    if (rename(temporary.c_str(), path.c_str()) != 0) {
        int saved = errno;
        unlink(temporary.c_str());
        throw_errno(saved, "cannot rename " + temporary.string() + " to " + path.string());
    }
    if (!flush) return;
    int folder = open(path.parent_path().empty() ? "." : path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (folder >= 0) {
        fsync(folder);
        close(folder);
    }
}

namespace {

template <typename Measure>
std::uint64_t sum_over_tree(const fs::path& root, Measure measure) {
    struct stat info {};
    if (lstat(root.c_str(), &info) != 0) return 0;
    std::set<std::pair<dev_t, ino_t>> seen;
    std::uint64_t total = 0;
    auto account = [&](const struct stat& entry) {
        if (entry.st_nlink > 1 && !S_ISDIR(entry.st_mode)) {
            if (!seen.insert({entry.st_dev, entry.st_ino}).second) return;
        }
        total += measure(entry);
    };
    account(info);
    if (!S_ISDIR(info.st_mode)) return total;

    std::error_code error;
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, error);
         !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
        struct stat entry {};
        if (lstat(it->path().c_str(), &entry) == 0) account(entry);
    }
    return total;
}

}  // namespace

std::uint64_t disk_usage(const fs::path& path) {
    return sum_over_tree(path, [](const struct stat& entry) {
        return static_cast<std::uint64_t>(entry.st_blocks) * 512;
    });
}

std::uint64_t apparent_size(const fs::path& path) {
    return sum_over_tree(path, [](const struct stat& entry) -> std::uint64_t {
        return S_ISREG(entry.st_mode) ? static_cast<std::uint64_t>(entry.st_size) : 0;
    });
}

std::string random_hex_id() {
    std::array<unsigned char, 32> bytes{};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
        if (fd >= 0) close(fd);
        throw_errno("cannot read /dev/urandom");
    }
    close(fd);
    std::string id;
    for (unsigned char byte : bytes) id += fmt::format("{:02x}", byte);
    return id;
}

std::string human_size(std::uint64_t bytes) {
    static constexpr std::array<const char*, 6> units{"B", "kB", "MB", "GB", "TB", "PB"};
    double value = static_cast<double>(bytes);
    size_t unit = 0;
    while (value >= 1000 && unit + 1 < units.size()) {
        value /= 1000;
        ++unit;
    }
    if (unit == 0) return fmt::format("{} B", bytes);
    return fmt::format("{:.3g} {}", value, units[unit]);
}

std::uint64_t parse_size(std::string_view text) {
    auto invalid = [&] {
        return Error("invalid size '" + std::string(text) + "'",
                     "use a number of bytes with an optional unit b, k, m or g (binary), e.g. 64m");
    };
    if (text.empty()) throw invalid();
    std::uint64_t number = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error != std::errc() || end == text.data()) throw invalid();
    std::string_view suffix(end, static_cast<size_t>(text.data() + text.size() - end));
    std::uint64_t multiplier = 1;
    // "GiB" and "GB" both mean 2^30 here, as in Docker's -m option.
    if (suffix.size() == 3 && suffix.substr(1) == "iB") suffix.remove_suffix(2);
    if (suffix.size() == 2 && (suffix[1] == 'b' || suffix[1] == 'B')) suffix.remove_suffix(1);
    if (suffix.empty() || suffix == "b" || suffix == "B") {
        multiplier = 1;
    } else if (suffix == "k" || suffix == "K") {
        multiplier = 1ULL << 10;
    } else if (suffix == "m" || suffix == "M") {
        multiplier = 1ULL << 20;
    } else if (suffix == "g" || suffix == "G") {
        multiplier = 1ULL << 30;
    } else if (suffix == "t" || suffix == "T") {
        multiplier = 1ULL << 40;
    } else {
        throw invalid();
    }
    if (number > UINT64_MAX / multiplier) throw invalid();
    return number * multiplier;
}

FileLock::FileLock(const fs::path& path) {
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) throw_errno("cannot open lock " + path.string());
    while (flock(fd_, LOCK_EX) != 0) {
        if (errno != EINTR) {
            int saved = errno;
            close(fd_);
            throw_errno(saved, "cannot lock " + path.string());
        }
    }
}

FileLock::~FileLock() {
    // Unlocks explicitly: a child forked meanwhile may share the open file, and close()
    // alone would leave the lock held until the child closes its copy too.
    if (fd_ < 0) return;
    flock(fd_, LOCK_UN);
    close(fd_);
}

TemporaryDirectory::TemporaryDirectory(const fs::path& parent, std::string_view prefix) {
    fs::create_directories(parent);
    auto pattern = (parent / (std::string(prefix) + "XXXXXX")).string();
    if (mkdtemp(pattern.data()) == nullptr) throw_errno("cannot create a folder in " + parent.string());
    path_ = pattern;
}

TemporaryDirectory::~TemporaryDirectory() {
    if (!owned_) return;
    std::error_code ignored;
    fs::remove_all(path_, ignored);
}

fs::path TemporaryDirectory::release() {
    owned_ = false;
    return path_;
}

}  // namespace isolab
