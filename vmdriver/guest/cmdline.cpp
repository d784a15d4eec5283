#include "vmdriver/guest/cmdline.hpp"

#include "runtime/core/error.hpp"

namespace isolab::vm::guest {

CmdlineProfile parse_cmdline_profile(const std::string& text) {
    if (text == "default") return CmdlineProfile::default_boot;
    if (text == "trimmed") return CmdlineProfile::trimmed;
    throw Error("invalid kernel command line profile '" + text + "'", "use default or trimmed");
}

RootForm parse_root_form(const std::string& text) {
    if (text == "initramfs") return RootForm::initramfs;
    if (text == "disk") return RootForm::disk;
    throw Error("invalid --form '" + text + "'", "use initramfs or disk");
}

std::vector<std::string> kernel_parameters(const CmdlineOptions& options) {
    std::vector<std::string> parameters;

    // The first serial port is the console: isolab-init's protocol lines and the
    // workload's output arrive there (QEMU -serial, libvirt <serial>).
    parameters.emplace_back("console=ttyS0");
    // Kernel messages go out through an emulated UART one byte at a time, which under
    // TCG costs tens of milliseconds per screenful. quiet keeps warnings and errors.
    if (options.quiet) parameters.emplace_back("quiet");
    // A guest panic reboots at once instead of hanging; QEMU -no-reboot and libvirt's
    // on_reboot=destroy turn that reboot into the end of the VM.
    parameters.emplace_back("panic=-1");
    // Both forms boot an initramfs whose /init is isolab-init. In the disk form the init
    // loads the virtio and ext4 modules and mounts /dev/vda itself (the device is named
    // in /.isolab/root-device), so no root= is needed: the kernel never mounts a root.
    parameters.emplace_back("rdinit=/init");
    // isolab-init gives eth0 this static address and route; the kernel ignores unknown
    // parameters that contain a dot. The Debian kernel lacks CONFIG_IP_PNP, so ip= would
    // do nothing.
    if (!options.address.empty()) {
        parameters.push_back("isolab.ip=" + options.address);
        if (!options.gateway.empty()) parameters.push_back("isolab.gateway=" + options.gateway);
    }

    if (options.profile == CmdlineProfile::default_boot) return parameters;

    // The TSC of a QEMU guest is trusted: skips the clocksource watchdog that would
    // otherwise verify it against a slower timer.
    parameters.emplace_back("tsc=reliable");
    // Skips the check that the timer interrupt works through the IO-APIC, which waits
    // for ticks and is slow under emulation.
    parameters.emplace_back("no_timer_check");
    // No PS/2 mouse, keyboard or PnP probing: the guest has no input devices, and the
    // i8042 probe waits for timeouts.
    parameters.emplace_back("i8042.noaux");
    parameters.emplace_back("i8042.nokbd");
    parameters.emplace_back("i8042.nopnp");
    // Registers one 8250 UART instead of probing the default four ports.
    parameters.emplace_back("8250.nr_uarts=1");
    // Skips the crypto algorithm self-tests run when each algorithm registers.
    parameters.emplace_back("cryptomgr.notests");
    // Under TCG the CPU has no TSC-deadline timer, so the kernel calibrates the local APIC
    // timer against the PIT for a tenth of a second (25 ticks). Without the local timer the
    // kernel ticks from the PIT or HPET and wakes other vCPUs by IPI. Measured on bare QEMU,
    // 1 vCPU, 256 MiB: about 100 ms less to /init, and `sleep 2` in the guest still takes
    // 2.0 s. Under KVM the guest gets the host's CPU (host-passthrough), whose TSC-deadline
    // timer needs no calibration.
    if (options.tcg) parameters.emplace_back("noapictimer");
    // A kernel that finds one CPU rewrites the lock prefix of every atomic instruction in
    // its own code. Under TCG each write to code that was already translated throws
    // translations away, and the step took about 150 ms of a 1.5 s boot (bare QEMU, 1 vCPU).
    // The lock prefixes stay, as on a guest with more vCPUs: 200,000 read and write system
    // calls in the guest took 0.36 s either way. KVM guests keep the rewrite (not measured).
    if (options.tcg) parameters.emplace_back("noreplace-smp");
    return parameters;
}

std::string kernel_cmdline(const CmdlineOptions& options) {
    std::string line;
    for (const auto& parameter : kernel_parameters(options)) {
        if (!line.empty()) line += ' ';
        line += parameter;
    }
    return line;
}

}  // namespace isolab::vm::guest
