#pragma once
// Domains that outlive the isolab process that started them (`vm run -d`): starting one
// without auto-destroy, and finding, stopping and describing it later by its UUID.
#include <libvirt/libvirt.h>

#include <cstdint>
#include <optional>
#include <string>

#include "vmdriver/libvirt/connection.hpp"
#include "vmdriver/libvirt/domain_xml.hpp"

namespace isolab::vm::libvirt {

// A domain looked up by UUID, freed by the destructor.
class DomainReference {
public:
    DomainReference(Connection& connection, const std::string& uuid);
    ~DomainReference();
    DomainReference(const DomainReference&) = delete;
    DomainReference& operator=(const DomainReference&) = delete;

    // False when libvirt knows no domain with that UUID (a transient domain that stopped).
    bool exists() const { return domain_ != nullptr; }
    virDomainPtr get() const { return domain_; }

private:
    virDomainPtr domain_ = nullptr;
};

struct DomainStatus {
    std::string state;               // "running", "paused", "shut off", ...
    bool active = false;
    std::uint64_t cpu_time_ns = 0;   // virDomainGetInfo cpuTime: vCPU time used, all vCPUs
    std::uint64_t memory_bytes = 0;  // guest RAM in use as libvirt reports it
    std::uint64_t max_memory_bytes = 0;
    unsigned vcpus = 0;
};

// Starts `spec` as a transient domain that keeps running after this process exits and
// returns its UUID. The console is not attached: with spec.console_log set, virtlogd
// writes it to that file. Throws Error (with a removal hint when the name is taken).
std::string start_detached(Connection& connection, const DomainSpec& spec);

// Returns the domain's status, or nothing when the domain is gone.
std::optional<DomainStatus> domain_status(Connection& connection, const std::string& uuid);

// Returns the live domain XML, or an empty string when the domain is gone.
std::string live_domain_xml(Connection& connection, const std::string& uuid);

// Presses the ACPI power button (virDomainShutdownFlags with VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN).
// Returns false when the domain is already gone.
bool request_shutdown(Connection& connection, const std::string& uuid);

// Destroys the domain (virDomainDestroy). Returns false when it was already gone.
bool destroy_domain(Connection& connection, const std::string& uuid);

// Returns the UUID of the domain named `name`, or an empty string when there is none.
std::string domain_uuid(Connection& connection, const std::string& name);

struct DomainDescription {
    std::string summary;     // for error messages, e.g. "running, transient, UUID ..."
    std::string owner_root;  // the state root in the domain's <metadata>; empty: none
};

// Describes the domain named `name`, or nothing when no such domain exists.
std::optional<DomainDescription> describe_domain(Connection& connection, const std::string& name);

}  // namespace isolab::vm::libvirt
