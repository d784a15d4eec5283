#include "vmdriver/libvirt/connection.hpp"

#include <libvirt/virterror.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/core/log.hpp"

namespace isolab::vm::libvirt {

namespace {

constexpr const char* kDefaultUri = "qemu:///system";

// Replaces libvirt's default handler, which prints every error to stderr. The error
// stays available through virGetLastError for the thread that caused it.
void discard_error(void*, virErrorPtr error) {
    if (error != nullptr) spdlog::debug("libvirt: {}", error->message ? error->message : "(no message)");
}

void silence_libvirt_errors() {
    static std::once_flag once;
    std::call_once(once, [] {
        // The log itself is dropped before libvirt loads (see loader.cpp).
        virInitialize();
        virSetErrorFunc(nullptr, discard_error);
    });
}

bool is_connection_failure(const virError& error) {
    return error.code == VIR_ERR_NO_CONNECT || error.code == VIR_ERR_SYSTEM_ERROR ||
           error.code == VIR_ERR_RPC || error.domain == VIR_FROM_RPC;
}

bool unreserved_in_path(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~' || c == '/';
}

// A folder path as a URI query value: libvirt cannot parse a URI with a space in it, and
// '&', '=', '#', '%' and '+' would change the query's meaning.
std::string percent_encoded(std::string_view text) {
    std::string encoded;
    for (char c : text) {
        if (unreserved_in_path(c)) {
            encoded += c;
        } else {
            encoded += fmt::format("%{:02X}", static_cast<unsigned char>(c));
        }
    }
    return encoded;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Decodes %XX escapes; anything else, a malformed escape too, stays as it is.
std::string percent_decoded(std::string_view text) {
    std::string decoded;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
            decoded += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
            i += 2;
        } else {
            decoded += text[i];
        }
    }
    return decoded;
}

std::string busy_hint(const virError& error, const std::filesystem::path& root) {
    std::string message = error.message ? error.message : "";
    if (root.empty() || message.find("pid file") == std::string::npos) return {};
    return "another process holds the embedded libvirt driver at " + root.string() +
           "; only one process at a time may use it, so wait for it to end";
}

}  // namespace

std::filesystem::path embedded_root(std::string_view uri) {
    constexpr std::string_view prefix = "qemu:///embed?";
    if (!uri.starts_with(prefix)) return {};
    std::string_view query = uri.substr(prefix.size());
    while (!query.empty()) {
        auto end = query.find('&');
        auto parameter = query.substr(0, end);
        if (parameter.starts_with("root=")) return std::filesystem::path(percent_decoded(parameter.substr(5)));
        if (end == std::string_view::npos) break;
        query.remove_prefix(end + 1);
    }
    return {};
}

std::string embedded_uri(const std::filesystem::path& root) { return "qemu:///embed?root=" + percent_encoded(root.string()); }

namespace {

constexpr std::string_view kEmbeddedQemuConf =
    "# Written by isolab for its embedded libvirt driver: QEMU runs as root, as isolab does.\n"
    "user = \"root\"\n"
    "group = \"root\"\n";

std::filesystem::path embedded_qemu_conf(const std::filesystem::path& root) { return root / "etc" / "qemu.conf"; }

}  // namespace

void prepare_embedded_root(const std::filesystem::path& root) {
    auto config = embedded_qemu_conf(root);
    std::error_code error;
    if (std::filesystem::exists(config, error)) return;
    std::filesystem::create_directories(config.parent_path(), error);
    if (error) throw Error("cannot create " + config.parent_path().string() + ": " + error.message());
    write_file_atomic(config, std::string(kEmbeddedQemuConf));
}

bool embedded_qemu_runs_as_root(std::string_view uri) {
    auto root = embedded_root(uri);
    if (root.empty()) return false;
    try {
        return read_file(embedded_qemu_conf(root)) == kEmbeddedQemuConf;
    } catch (const Error&) {
        return false;
    }
}

std::string connection_hint(const virError& error, const std::string& uri) {
    std::string_view message = error.message != nullptr ? error.message : "";
    // By default libvirt's QEMU driver, libvirtd's and the embedded one alike, hands
    // QEMU's log and the console log to virtlogd, so no VM starts without it.
    if (is_connection_failure(error) && message.find("virtlogd") != std::string_view::npos) {
        return "virtlogd is not running, and libvirt writes each VM's logs through it: start it with "
               "scripts/start-libvirtd or virtlogd -d";
    }
    if (is_connection_failure(error) && !uri.empty()) {
        if (!uri.starts_with("qemu") && !uri.starts_with("test:")) {
            return "isolab's VMs need a QEMU driver URI such as qemu:///system, qemu:///session, "
                   "qemu+ssh://HOST/system or qemu:///embed?root=DIR";
        }
        // A host after "://" means libvirtd runs elsewhere, where isolab cannot start it.
        auto scheme_end = uri.find("://");
        if (scheme_end != std::string::npos && uri.size() > scheme_end + 3 && uri[scheme_end + 3] != '/') {
            return "check that libvirtd runs on that host and that its transport (ssh, tcp or tls) accepts this host";
        }
        return "libvirtd is not running or not reachable at " + uri +
               " (start it: scripts/start-libvirtd, or libvirtd -d)";
    }
    if (error.code == VIR_ERR_OPERATION_DENIED || error.code == VIR_ERR_AUTH_FAILED) {
        return "run isolab as root or pick a URI you may use with --connect";
    }
    return {};
}

std::string resolve_uri(std::string_view requested) {
    if (!requested.empty()) return std::string(requested);
    const char* environment = std::getenv("ISOLAB_LIBVIRT_URI");
    if (environment != nullptr && *environment != '\0') return environment;
    return kDefaultUri;
}

void ensure_event_loop() {
    static std::once_flag once;
    std::call_once(once, [] {
        silence_libvirt_errors();
        if (virEventRegisterDefaultImpl() < 0) throw_last_error("cannot register libvirt's event loop");
        // The loop runs for the life of the process: libvirt has no call to stop it, and
        // streams and callbacks of any connection may depend on it.
        std::thread([] {
            while (true) virEventRunDefaultImpl();
        }).detach();
        spdlog::debug("libvirt event loop started");
    });
}

void throw_last_error(const std::string& what, const std::string& uri) {
    virErrorPtr last = virGetLastError();
    if (last == nullptr) throw Error(what + ": unknown libvirt error");
    std::string message = last->message ? last->message : "unknown libvirt error";
    std::string hint = connection_hint(*last, uri);
    virResetLastError();
    throw Error(what + ": " + message, hint);
}

namespace {

// Once a process has loaded the embedded QEMU driver, libvirt sends every qemu URI to it,
// and not to the remote driver. The embedded driver rejects a URI without a root.
std::atomic<bool> embedded_driver_loaded = false;

}  // namespace

Connection::Connection(std::string uri) : uri_(std::move(uri)) {
    ensure_event_loop();
    auto root = embedded_root(uri_);
    if (root.empty() && embedded_driver_loaded) {
        throw Error("cannot connect to libvirt at " + uri_ + ": this process has loaded libvirt's embedded QEMU driver, "
                    "which takes over the qemu URIs",
                    "use libvirtd and the embedded driver in separate isolab runs");
    }
    if (!root.empty()) {
        // libvirt 9.0 starts its capability probe with "-qmp unix:<root>/...,server=on"
        // without escaping, and QEMU then reads ',' and '=' in the root as option syntax.
        if (root.string().find_first_of(",=") != std::string::npos) {
            throw Error("invalid embedded driver root " + root.string() +
                            ": libvirt passes it to QEMU's -qmp option unescaped, where ',' and '=' break the VM start",
                        "choose a root folder without ',' or '=' (for the default root, a state root ISOLAB_ROOT "
                        "without them)");
        }
        prepare_embedded_root(root);
        embedded_driver_loaded = true;
    }
    // The root as given may hold spaces, which libvirt's URI parser rejects.
    std::string open_uri = root.empty() ? uri_ : embedded_uri(root);
    connection_ = virConnectOpen(open_uri.c_str());
    if (connection_ == nullptr) {
        virErrorPtr last = virGetLastError();
        std::string hint = last != nullptr ? busy_hint(*last, root) : std::string();
        if (!hint.empty()) {
            std::string message = last->message ? last->message : "";
            virResetLastError();
            throw Error("cannot open the embedded libvirt driver at " + root.string() + ": " + message, hint);
        }
        throw_last_error("cannot connect to libvirt at " + uri_, uri_);
    }
    spdlog::debug("connected to libvirt at {}", uri_);
}

Connection::~Connection() {
    if (connection_ != nullptr) virConnectClose(connection_);
}

}  // namespace isolab::vm::libvirt
