// The built-in workloads. hello runs in the busybox image itself; web, cpu, mem and io
// run in images built from busybox with one script each (and a page for web), so the
// container and the VM run the same image and the same script.
#include <string>

#include "bench/results.hpp"
#include "bench/workload.hpp"
#include "runtime/core/error.hpp"

namespace isolab::bench {

namespace {

// The readiness line with the uptime the VM path anchors guest phases to, then the
// kernel release.
constexpr const char* announce_ready = "read up rest </proc/uptime; echo \"isolab-ready uptime=$up\"; uname -r\n";

// Milliseconds of /proc/uptime (10 ms resolution). awk does the arithmetic because
// ash would read "0.05" without its dot as an octal number.
constexpr const char* uptime_ms_function = "uptime_ms() { awk '{ printf \"%d\", $1 * 1000 }' /proc/uptime; }\n";

// The device, filesystem type and mount point holding a folder: the longest mount point
// of /proc/mounts that is a prefix of it.
constexpr const char* mount_of_function =
    "mount_of() { awk -v d=\"$1/\" '{ p = ($2 == \"/\") ? \"/\" : $2 \"/\"; "
    "if (index(d, p) == 1 && length(p) >= best) { best = length(p); m = $1 \" (\" $3 \") mounted on \" $2 } } "
    "END { print m }' /proc/mounts; }\n";

Workload built_workload(const std::string& name) {
    Workload workload;
    workload.name = name;
    workload.image = "isolab-bench-" + name + ":latest";
    workload.ready_prefix = "isolab-ready";
    return workload;
}

Workload hello_workload() {
    Workload workload;
    workload.name = "hello";
    workload.image = "busybox";
    workload.command = {"/bin/sh", "-c", "read up rest </proc/uptime; echo \"isolab-ready uptime=$up\"; uname -r"};
    workload.ready_prefix = "isolab-ready";
    return workload;
}

// busybox httpd in the foreground; ready when the host gets HTTP 200 for "/".
Workload web_workload() {
    auto workload = built_workload("web");
    workload.image_files = {
        {"/isolab/web.sh", "#!/bin/sh\n# Prints the kernel release, then serves /www on port 80 until stopped.\n"
                           "uname -r\nexec httpd -f -p 80 -h /www\n"},
        {"/www/index.html", "<!doctype html><title>isolab</title><p>isolab web workload</p>\n"},
    };
    workload.command = {"/bin/sh", "/isolab/web.sh"};
    workload.readiness = ReadinessKind::http_path;
    workload.port = 80;
    workload.http_path = "/";
    workload.stop_after_ready = true;
    return workload;
}

// SHA-256 of 128 MiB of zeros: the same computation on every path, timed inside.
Workload cpu_workload() {
    auto workload = built_workload("cpu");
    workload.image_files = {
        {"/isolab/cpu.sh", std::string("#!/bin/sh\n# Hashes 128 MiB of zeros and prints the time it took.\n") +
                               announce_ready + uptime_ms_function +
                               "start=$(uptime_ms)\n"
                               "dd if=/dev/zero bs=1048576 count=128 2>/dev/null | sha256sum >/dev/null\n"
                               "end=$(uptime_ms)\n"
                               "echo \"isolab-figure " + figure::cpu_run + "=$((end - start))\"\n"},
    };
    workload.command = {"/bin/sh", "/isolab/cpu.sh"};
    workload.reported_figures = {figure::cpu_run};
    return workload;
}

// Holds SIZE MiB in a shell variable (touched: every byte written by tr), reports ready
// and idles while the host samples memory.
Workload mem_workload(int size_mib) {
    auto workload = built_workload("mem");
    workload.image_files = {
        {"/isolab/mem.sh", std::string("#!/bin/sh\n# Usage: mem.sh MIB SECONDS. Holds MIB MiB, then idles SECONDS.\n") +
                               "data=$(head -c $(($1 * 1048576)) /dev/zero | tr '\\0' x)\n" + announce_ready +
                               "sleep \"$2\"\n"
                               "# Uses the data after the idle time, so the shell keeps it until then.\n"
                               "[ ${#data} -eq $(($1 * 1048576)) ] || exit 1\n"},
    };
    workload.command = {"/bin/sh", "/isolab/mem.sh", std::to_string(size_mib), "2"};
    return workload;
}

// Writes SIZE MiB with fsync and reads them back, into each LABEL=DIR that exists.
Workload io_workload(int size_mib) {
    auto workload = built_workload("io");
    workload.image_files = {
        {"/isolab/io.sh",
         std::string("#!/bin/sh\n"
                     "# Usage: io.sh MIB LABEL=DIR... Writes MIB MiB (fsync at the end) into each DIR and reads\n"
                     "# them back, printing the times and where the file went; a DIR that does not exist (the\n"
                     "# VM has no volume) is skipped.\n") +
             announce_ready + uptime_ms_function + mount_of_function +
             "size=$1\nshift\n"
             "for target in \"$@\"; do\n"
             "    label=${target%%=*}\n"
             "    dir=${target#*=}\n"
             "    if [ ! -d \"$dir\" ]; then echo \"isolab-note io $label: skipped, $dir does not exist\"; continue; fi\n"
             "    start=$(uptime_ms)\n"
             "    dd if=/dev/zero of=\"$dir/isolab-io\" bs=1048576 count=\"$size\" conv=fsync 2>/dev/null || exit 1\n"
             "    written=$(uptime_ms)\n"
             "    dd if=\"$dir/isolab-io\" of=/dev/null bs=1048576 2>/dev/null || exit 1\n"
             "    read=$(uptime_ms)\n"
             "    echo \"isolab-figure io_${label}_write_ms=$((written - start))\"\n"
             "    echo \"isolab-figure io_${label}_read_ms=$((read - written))\"\n"
             "    echo \"isolab-note io $label: wrote $dir/isolab-io on $(mount_of \"$dir\")\"\n"
             "done\n"},
        {"/var/isolab-io/.keep", ""},
    };
    workload.command = {"/bin/sh", "/isolab/io.sh", std::to_string(size_mib), "rootfs=/var/isolab-io",
                        "volume=/isolab-volume"};
    workload.volume_target = "/isolab-volume";
    workload.reported_figures = {figure::io_rootfs_write, figure::io_rootfs_read, figure::io_volume_write,
                                 figure::io_volume_read};
    return workload;
}

}  // namespace

std::vector<std::string> workload_names() { return {"hello", "web", "cpu", "mem", "io"}; }

Workload find_workload(const std::string& name, int size_mib) {
    if (name == "hello") return hello_workload();
    if (name == "web") return web_workload();
    if (name == "cpu") return cpu_workload();
    if (name == "mem") return mem_workload(size_mib);
    if (name == "io") return io_workload(size_mib);
    std::string known;
    for (const auto& candidate : workload_names()) known += (known.empty() ? "" : ", ") + candidate;
    throw Error("unknown workload '" + name + "'", "known workloads: " + known + ", or --scenario FILE");
}

}  // namespace isolab::bench
