// The plain-language reading of a compare: sentences computed from the figures.
#include <algorithm>

#include <fmt/format.h>

#include "bench/report.hpp"
#include "runtime/core/files.hpp"

namespace isolab::bench {

std::string format_figure(double value, const std::string& unit) {
    if (unit == "bytes") return human_size(value < 0 ? 0 : static_cast<std::uint64_t>(value));
    if (unit == "ms") return fmt::format("{:.1f} ms", value);
    return fmt::format("{:.3g} {}", value, unit);
}

namespace {

// "38x longer" / "2.5x shorter", or "about as long" within 5 percent.
std::string compare_words(double ratio, const char* more, const char* less) {
    if (ratio > 0.95 && ratio < 1.05) return "about as much";
    if (ratio >= 1) return fmt::format("{:.1f}x {}", ratio, more);
    return fmt::format("{:.1f}x {}", 1 / ratio, less);
}

std::string startup_sentence(const PathResult& container, const PathResult& vm) {
    auto container_ms = container.median(figure::startup);
    auto vm_ms = vm.median(figure::startup);
    if (!container_ms || !vm_ms || *container_ms <= 0) return {};

    auto sentence = fmt::format(
        "The VM needed {} time than the container to become ready ({} against {}, medians): the container "
        "starts the workload directly on the host's kernel, the VM first starts QEMU and boots a kernel.",
        compare_words(*vm_ms / *container_ms, "more", "less"), format_figure(*vm_ms, "ms"),
        format_figure(*container_ms, "ms"));
    if (auto uptime = vm.median(figure::guest_uptime_at_ready)) {
        sentence += fmt::format(" Of that, {} passed inside the guest between kernel start and readiness; the rest "
                                "({}) was spent on the host before the kernel ran (libvirt, QEMU, firmware).",
                                format_figure(*uptime, "ms"), format_figure(std::max(0.0, *vm_ms - *uptime), "ms"));
    }
    return sentence;
}

std::string accelerator_sentence(const PathResult& vm) {
    auto used = vm.accelerator();
    if (used.empty()) return {};
    auto reason = vm.accelerator_reason().empty() ? "" : " (" + vm.accelerator_reason() + ")";
    std::replace(reason.begin(), reason.end(), '\n', ' ');
    if (used == "tcg") {
        return "The VM ran under TCG" + reason +
               ": QEMU translated every guest instruction in software, so the guest kernel was emulated and its "
               "boot is much slower than it would be with KVM.";
    }
    return "The VM ran under " + used + reason +
           ": guest instructions ran directly on the CPU, so the start-up cost is mostly the kernel boot itself.";
}

std::string memory_sentence(const PathResult& container, const PathResult& vm) {
    auto container_bytes = container.median(figure::memory_peak);
    auto vm_bytes = vm.median(figure::memory_peak);
    if (!container_bytes || !vm_bytes || *container_bytes <= 0) return {};

    auto sentence = fmt::format(
        "The QEMU process cost the host {} (PSS peak), {} than the container's cgroup peak of {}",
        format_figure(*vm_bytes, "bytes"), compare_words(*vm_bytes / *container_bytes, "more", "less"),
        format_figure(*container_bytes, "bytes"));
    if (auto configured = vm.median(figure::guest_memory); configured && *configured > 0) {
        sentence += fmt::format("; the guest was given {}, and QEMU's PSS reached {:.0f}% of it", format_figure(*configured, "bytes"),
                                100.0 * *vm_bytes / *configured);
    }
    return sentence + ". A container adds no kernel of its own: its processes share the host's.";
}

std::string disk_sentence(const PathResult& container, const PathResult& vm) {
    auto container_bytes = container.median(figure::disk);
    auto vm_bytes = vm.median(figure::disk);
    if (!container_bytes || !vm_bytes || *container_bytes <= 0) return {};
    return fmt::format(
        "On disk the VM needs its own kernel and an initramfs packed from the image ({}), the container needs the "
        "image and its upper dir ({}): {}.",
        format_figure(*vm_bytes, "bytes"), format_figure(*container_bytes, "bytes"),
        compare_words(*vm_bytes / *container_bytes, "more for the VM", "less for the VM"));
}

std::string kernel_sentence(const Results& results, const PathResult& container, const PathResult& vm) {
    auto container_kernel = container.kernel();
    auto vm_kernel = vm.kernel();
    if (container_kernel.empty() || vm_kernel.empty()) return {};

    std::string container_part = container_kernel == results.host.kernel
                                     ? "the host's own kernel, because a container is only a group of host processes"
                                     : "which differs from the host's " + results.host.kernel;
    std::string vm_part = vm_kernel == results.host.kernel ? "the same release as the host" : "its own guest kernel";
    return "Inside the container `uname -r` printed " + container_kernel + ", " + container_part +
           "; inside the VM it printed " + vm_kernel + ", " + vm_part + ".";
}

std::string outlier_sentence(const Results& results) {
    std::size_t flagged = 0;
    for (const auto& path : results.paths) {
        for (const auto& [key, summary] : path.summaries) flagged += summary.outliers.size();
    }
    if (flagged == 0) return {};
    return fmt::format("{} figure values were flagged as outliers ({}); they are kept in every statistic.", flagged,
                       outlier_rule);
}

std::vector<std::string> reference_sentences(const Results& results) {
    std::vector<std::string> sentences;
    for (const auto& ratio : results.ratios) {
        if (ratio.figure != figure::startup) continue;
        const auto* reference = results.find_path(ratio.reference);
        if (!reference || reference->role != "reference") continue;
        sentences.push_back(fmt::format("isolab's {} took {} than {} to become ready ({:.2f}x).", ratio.path,
                                        compare_words(ratio.value, "more time", "less time"), ratio.reference,
                                        ratio.value));
    }
    for (const auto& path : results.paths) {
        if (!path.available) sentences.push_back(path.name + " was not measured: " + path.missing_reason + ".");
    }
    return sentences;
}

}  // namespace

std::vector<std::string> plain_reading(const Results& results) {
    std::vector<std::string> sentences;
    auto add = [&sentences](std::string sentence) {
        if (!sentence.empty()) sentences.push_back(std::move(sentence));
    };

    const auto* container = results.find_path("container");
    const auto* vm = results.find_path("vm");
    if (container && vm) {
        add(startup_sentence(*container, *vm));
        add(accelerator_sentence(*vm));
        add(memory_sentence(*container, *vm));
        add(disk_sentence(*container, *vm));
        add(kernel_sentence(results, *container, *vm));
    }
    add(outlier_sentence(results));
    for (auto& sentence : reference_sentences(results)) add(std::move(sentence));
    return sentences;
}

}  // namespace isolab::bench
