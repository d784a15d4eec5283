#pragma once
// One boot of an isolab guest through libvirt: a transient domain created paused, its
// serial console attached, then resumed and watched until isolab-init reports the exit
// code and the guest powers off. The Domain owner destroys the domain on every exit path.
#include <libvirt/libvirt.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/core/clock.hpp"
#include "runtime/core/error.hpp"
#include "vmdriver/libvirt/connection.hpp"
#include "vmdriver/libvirt/domain_xml.hpp"

namespace isolab::vm::libvirt {

// A transient domain (virDomainCreateXML), destroyed by the destructor while it runs.
class Domain {
public:
    // Creates and starts the domain from `xml` with `flags` (VIR_DOMAIN_START_*). Throws
    // Error; a name already in use gets a hint saying how to remove that domain.
    Domain(Connection& connection, const std::string& name, const std::string& xml, unsigned flags);
    ~Domain();
    Domain(const Domain&) = delete;
    Domain& operator=(const Domain&) = delete;

    void resume();
    // Gives up ownership: the domain keeps running and the caller must virDomainFree it.
    virDomainPtr release();
    // Destroys the domain now (virDomainDestroy) unless it has already stopped.
    void destroy() noexcept;

    virDomainPtr get() const { return domain_; }
    const std::string& name() const { return name_; }

private:
    std::string name_;
    virDomainPtr domain_ = nullptr;
};

// Thrown when a guest does not finish in time; the domain has been destroyed by then.
class BootTimeout : public Error {
public:
    using Error::Error;
};

// Called with each line the workload writes, with its host arrival time.
using OutputLineHandler = std::function<void(const std::string& line, Clock::time_point arrived)>;

struct BootRequest {
    DomainSpec spec;
    std::chrono::milliseconds timeout{300000};  // whole boot, workload and power-off
    OutputLineHandler on_output;                // workload lines; required
    std::function<bool()> interrupted;          // polled every sample; true aborts the boot
    // Polled every sample; true destroys the domain and boot() returns normally with
    // BootOutcome::stopped_on_request set (for workloads that run until stopped).
    std::function<bool()> stop_requested;
    std::uint64_t guest_ram_bytes = 0;          // nonzero: also sample the PSS of the guest RAM mapping
    std::function<void(int qemu_pid)> on_created;  // optional: called once QEMU runs, before resume
};

struct BootOutcome {
    int exit_code = -1;
    std::string init_error;                    // the init's `error` line, if it wrote one
    std::string guest_kernel;                  // from the kernel banner, when printed
    double guest_uptime_at_ready_ms = -1;
    std::uint64_t qemu_pss_peak_bytes = 0;     // 0 when the QEMU process was not found
    // PSS of QEMU's guest RAM mapping in the sample where the total PSS peaked; nothing
    // when not sampled or no mapping of the guest RAM's size was found.
    std::optional<std::uint64_t> guest_ram_pss_at_peak_bytes;
    bool stopped_on_request = false;           // request.stop_requested ended the boot
    int qemu_pid = -1;
    std::vector<std::string> boot_log;         // console lines before workload-start
};

// Boots `request.spec` on `connection`, recording phases into `phases` (the guest's
// phases after the boot, so not in time order):
//   define            domain XML built
//   qemu-process      libvirt forked the process that becomes QEMU (10 ms resolution)
//   create            virDomainCreateXML returned (QEMU started, vCPUs paused)
//   qemu-up           console attached and vCPUs resumed
//   first-serial-byte first console byte on the host (firmware output)
//   kernel-start      host time of init-start minus the guest uptime it reports
//   init-start, workload-start, ready (optional), exit   as isolab-init reports them
//   stopped           the domain is gone (guest power-off seen by libvirt)
// Throws BootTimeout after request.timeout, Error when the guest stops without an exit
// code or the boot is interrupted. The domain never outlives the call.
BootOutcome boot(Connection& connection, const BootRequest& request, PhaseRecorder& phases);

// Returns the pty path of the first serial port in a running domain's live XML
// (<serial type='pty'><source path='/dev/pts/N'/>), or an empty string when it has none.
std::string serial_pty_path(std::string_view xml);

// Returns the name of a virDomainState value: "running", "paused", "shut off", ...
std::string_view domain_state_name(int state);

// Reads the max of the "Pss:" line in /proc/<pid>/smaps_rollup, in bytes; 0 when the
// process is gone.
std::uint64_t read_pss_bytes(int pid);

// Returns the Pss of the guest RAM mapping in the text of /proc/<QEMU pid>/smaps: of the
// mappings that are not executable and either anonymous or a memfd (small-page RAM), the
// smallest at least `guest_ram_bytes` long. QEMU maps the RAM of the pc machine as one
// block. Under TCG its code buffer is a larger anonymous mapping, but executable.
// Nothing when there is none.
std::optional<std::uint64_t> guest_ram_pss_from_smaps(std::string_view smaps, std::uint64_t guest_ram_bytes);

// Returns the PID of a running domain's QEMU process from libvirt's pid file
// (/run/libvirt/qemu/<name>.pid for qemu:///system), or -1 when there is none.
int read_qemu_pid(const std::string& uri, const std::string& name);

// When process `pid` was created (by fork), on Clock, from field 22 of /proc/<pid>/stat:
// clock ticks since boot, so the resolution is 1/sysconf(_SC_CLK_TCK) s (10 ms on Linux).
// Empty when the process is gone.
std::optional<Clock::time_point> process_created_at(int pid);

struct DomainSummary {
    std::string name;
    std::string state;        // "running", "paused", "shut off", ...
    std::uint64_t memory_bytes = 0;
    unsigned vcpus = 0;
    bool persistent = false;
    std::string owner_root;   // the state root named in the domain's <metadata>; empty: none
};

// Lists every domain whose name starts with "isolab-".
std::vector<DomainSummary> list_isolab_domains(Connection& connection);

// Destroys every running "isolab-" domain and undefines persistent ones, except those
// `keep` returns true for. Returns their names. Throws Error naming the first domain that
// could not be removed.
std::vector<std::string> remove_isolab_domains(Connection& connection,
                                               const std::function<bool(const DomainSummary&)>& keep = {});

}  // namespace isolab::vm::libvirt
