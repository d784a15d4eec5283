// Building the runners of a compare: the isolab paths and the reference tools by name.
#include <algorithm>

#include "bench/compare.hpp"
#include "bench/scenario.hpp"
#include "bench/workload_image.hpp"
#include "runtime/core/error.hpp"
#include "vmdriver/vm.hpp"

namespace isolab::bench {

std::vector<std::unique_ptr<Runner>> make_reference_runners(const std::vector<std::string>& names,
                                                            image::Store& store, const RunnerSettings& settings) {
    std::vector<std::unique_ptr<Runner>> runners;
    for (const auto& name : names) {
        if (name == "crun" || name == "runc") {
            runners.push_back(make_oci_runner(name, store, settings));
        } else if (name == "podman") {
            runners.push_back(make_podman_runner(store, settings));
        } else if (name == "qemu") {
            runners.push_back(make_qemu_runner(store, settings));
        } else {
            throw Error("unknown reference '" + name + "' in --with", "choose from crun, runc, podman, qemu");
        }
    }
    return runners;
}

Results run_compare(image::Store& store, const CompareOptions& requested, const ProgressHandler& progress) {
    validate_compare_options(requested);
    CompareOptions options = requested;
    if (options.connect_uri == "embedded") options.connect_uri = vm::embedded_driver_uri(store.paths());
    auto workload = options.scenario_file.empty() ? find_workload(options.workload, options.size_mib)
                                                  : load_scenario(options.scenario_file);
    RunnerSettings settings;
    settings.memory_bytes = options.memory_bytes;
    settings.accelerator = vm::parse_accelerator(options.accelerator);
    settings.connect_uri = options.connect_uri;
    ensure_workload_image(store, workload);

    auto wanted = [&options](const char* name) {
        return std::find(options.paths.begin(), options.paths.end(), name) != options.paths.end();
    };
    std::vector<std::unique_ptr<Runner>> runners;
    if (wanted("container")) runners.push_back(make_container_runner(store, settings));
    if (wanted("vm")) runners.push_back(make_vm_runner(store, settings));
    for (auto& reference : make_reference_runners(options.references, store, settings)) {
        runners.push_back(std::move(reference));
    }
    return run_compare_with(std::move(runners), options, workload, progress);
}

}  // namespace isolab::bench
