#include "vmdriver/libvirt/running.hpp"

#include <libvirt/virterror.h>

#include <cstdlib>

#include <fmt/format.h>

#include "runtime/core/log.hpp"
#include "vmdriver/libvirt/domain.hpp"

namespace isolab::vm::libvirt {

DomainReference::DomainReference(Connection& connection, const std::string& uuid) {
    domain_ = virDomainLookupByUUIDString(connection.get(), uuid.c_str());
    if (domain_ == nullptr) {
        virErrorPtr last = virGetLastError();
        bool missing = last == nullptr || last->code == VIR_ERR_NO_DOMAIN;
        if (!missing) throw_last_error("cannot look up domain " + uuid, connection.uri());
        virResetLastError();
    }
}

DomainReference::~DomainReference() {
    if (domain_ != nullptr) virDomainFree(domain_);
}

std::string start_detached(Connection& connection, const DomainSpec& spec) {
    std::string xml = build_domain_xml(spec);
    spdlog::debug("domain XML for {}:\n{}", spec.name, xml);
    // No VIR_DOMAIN_START_AUTODESTROY: the domain must outlive this connection.
    Domain domain(connection, spec.name, xml, 0);
    char uuid[VIR_UUID_STRING_BUFLEN] = {};
    if (virDomainGetUUIDString(domain.get(), uuid) < 0) throw_last_error("cannot read the UUID of " + spec.name);
    virDomainFree(domain.release());
    return uuid;
}

std::optional<DomainStatus> domain_status(Connection& connection, const std::string& uuid) {
    DomainReference domain(connection, uuid);
    if (!domain.exists()) return std::nullopt;
    virDomainInfo info{};
    if (virDomainGetInfo(domain.get(), &info) < 0) {
        virErrorPtr last = virGetLastError();
        if (last != nullptr && last->code == VIR_ERR_NO_DOMAIN) {
            virResetLastError();
            return std::nullopt;
        }
        throw_last_error("cannot read the state of domain " + uuid, connection.uri());
    }
    DomainStatus status;
    status.state = std::string(domain_state_name(info.state));
    status.active = virDomainIsActive(domain.get()) == 1;
    status.cpu_time_ns = info.cpuTime;
    status.memory_bytes = std::uint64_t{info.memory} * 1024;
    status.max_memory_bytes = std::uint64_t{info.maxMem} * 1024;
    status.vcpus = info.nrVirtCpu;
    virResetLastError();
    return status;
}

std::string live_domain_xml(Connection& connection, const std::string& uuid) {
    DomainReference domain(connection, uuid);
    if (!domain.exists()) return {};
    char* xml = virDomainGetXMLDesc(domain.get(), 0);
    if (xml == nullptr) throw_last_error("cannot read the XML of domain " + uuid, connection.uri());
    std::string text = xml;
    free(xml);
    return text;
}

bool request_shutdown(Connection& connection, const std::string& uuid) {
    DomainReference domain(connection, uuid);
    if (!domain.exists() || virDomainIsActive(domain.get()) != 1) {
        virResetLastError();
        return false;
    }
    if (virDomainShutdownFlags(domain.get(), VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) < 0) {
        throw_last_error("cannot send the ACPI power button event to domain " + uuid, connection.uri());
    }
    return true;
}

bool destroy_domain(Connection& connection, const std::string& uuid) {
    DomainReference domain(connection, uuid);
    if (!domain.exists() || virDomainIsActive(domain.get()) != 1) {
        virResetLastError();
        return false;
    }
    if (virDomainDestroy(domain.get()) < 0) {
        virErrorPtr last = virGetLastError();
        if (last != nullptr && (last->code == VIR_ERR_NO_DOMAIN || last->code == VIR_ERR_OPERATION_INVALID)) {
            virResetLastError();  // it stopped between the check and the call
            return false;
        }
        throw_last_error("cannot destroy domain " + uuid, connection.uri());
    }
    spdlog::debug("destroyed domain {}", uuid);
    return true;
}

std::string domain_uuid(Connection& connection, const std::string& name) {
    virDomainPtr domain = virDomainLookupByName(connection.get(), name.c_str());
    if (domain == nullptr) {
        virResetLastError();
        return {};
    }
    char uuid[VIR_UUID_STRING_BUFLEN] = {};
    int status = virDomainGetUUIDString(domain, uuid);
    virDomainFree(domain);
    virResetLastError();
    return status == 0 ? std::string(uuid) : std::string();
}

std::optional<DomainDescription> describe_domain(Connection& connection, const std::string& name) {
    virDomainPtr domain = virDomainLookupByName(connection.get(), name.c_str());
    if (domain == nullptr) {
        virResetLastError();
        return std::nullopt;
    }
    virDomainInfo info{};
    std::string state = virDomainGetInfo(domain, &info) == 0 ? std::string(domain_state_name(info.state)) : "unknown";
    char uuid[VIR_UUID_STRING_BUFLEN] = {};
    virDomainGetUUIDString(domain, uuid);
    bool persistent = virDomainIsPersistent(domain) == 1;
    std::string owner;
    if (char* xml = virDomainGetXMLDesc(domain, 0)) {
        owner = owner_root_of(xml);
        free(xml);
    }
    virDomainFree(domain);
    virResetLastError();
    return DomainDescription{fmt::format("{}, {}, UUID {}", state, persistent ? "persistent" : "transient", uuid),
                             owner};
}

}  // namespace isolab::vm::libvirt
