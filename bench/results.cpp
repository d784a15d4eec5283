#include "bench/results.hpp"

#include <algorithm>
#include <ctime>
#include <fstream>

#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"

namespace isolab::bench {

using nlohmann::json;

const std::vector<FigureDefinition>& figure_catalog() {
    static const std::vector<FigureDefinition> catalog = {
        {figure::startup, "startup", "ms",
         "host monotonic clock from the start request to the arrival of the workload's readiness line"},
        {figure::guest_uptime_at_ready, "guest uptime at ready", "ms",
         "the guest kernel's uptime when the workload printed its readiness line (kernel start = 0)"},
        {figure::memory_peak, "memory peak", "bytes", "peak memory the path cost the host while the workload ran"},
        {figure::guest_memory, "guest RAM configured", "bytes", "RAM given to the guest; an upper bound, not usage"},
        {figure::disk, "disk", "bytes", "bytes on the host's disk needed to run the workload"},
        {figure::disk_image, "disk: image", "bytes", "the image as stored (compressed layers, config, manifest)"},
        {figure::disk_upper, "disk: upper dir", "bytes", "bytes allocated in the container's overlayfs upper dir"},
        {figure::disk_kernel, "disk: kernel", "bytes", "the guest kernel file"},
        {figure::disk_initramfs, "disk: initramfs", "bytes", "the guest initramfs built from the image"},
        {figure::disk_base, "disk: qcow2 base", "bytes",
         "bytes allocated on the host by the image's cached qcow2 disk base, which every VM of the image shares"},
        {figure::disk_overlay, "disk: qcow2 overlay", "bytes",
         "bytes allocated on the host by the VM's own qcow2 overlay on that base when the guest ended"},
        {figure::memory_working_set, "memory working set", "bytes",
         "largest memory use sampled every 50 ms from readiness until the workload stopped, inactive file "
         "cache excluded"},
        {figure::memory_pss, "memory PSS", "bytes",
         "largest sum of the PSS (proportional set size) of the path's processes, sampled like the working set"},
        {figure::memory_guest_ram_touched, "memory: guest RAM touched", "bytes",
         "VM paths: PSS of the hypervisor's guest RAM mapping, the guest RAM pages the guest has touched, in the "
         "sample where the hypervisor's total PSS peaked"},
        {figure::memory_vmm_overhead, "memory: VMM overhead", "bytes",
         "VM paths: the hypervisor's peak PSS less the guest RAM touched: its own code, heap, device and "
         "emulator memory"},
        {figure::cpu_run, "CPU run", "ms",
         "the workload's own time for SHA-256 of 128 MiB of zeros (dd | sha256sum), from /proc/uptime "
         "inside (10 ms resolution)"},
        {figure::io_rootfs_write, "io: rootfs write", "ms",
         "the workload's own time to write the io size to its root filesystem with dd, fsync included"},
        {figure::io_rootfs_read, "io: rootfs read", "ms",
         "the workload's own time to read that file back right after writing it, so mostly from the page cache"},
        {figure::io_volume_write, "io: volume write", "ms",
         "the workload's own time to write the io size to a volume with dd, fsync included"},
        {figure::io_volume_read, "io: volume read", "ms",
         "the workload's own time to read that file back right after writing it, so mostly from the page cache"},
    };
    return catalog;
}

const std::vector<FigureDefinition>& scale_figure_catalog() {
    static const std::vector<FigureDefinition> catalog = {
        {scale_figure::all_ready, "all ready", "ms",
         "host monotonic clock from the start request of the N instances, started together, until the last "
         "one met the readiness rule"},
        {scale_figure::memory_total, "memory total", "bytes", "sum of the memory peaks of the N instances"},
        {scale_figure::disk_total, "disk total", "bytes",
         "bytes on the host's disk for the N instances: what they share counted once, what each adds counted "
         "for each"},
    };
    return catalog;
}

const FigureDefinition& figure_definition(const std::string& key) {
    for (const auto& definition : figure_catalog()) {
        if (definition.key == key) return definition;
    }
    throw Error("unknown figure '" + key + "'");
}

namespace {

std::string first_non_empty(const std::vector<RunSample>& runs, std::string RunSample::*field) {
    for (const auto& run : runs) {
        if (!(run.*field).empty()) return run.*field;
    }
    return {};
}

}  // namespace

std::string PathResult::kernel() const { return first_non_empty(runs, &RunSample::kernel); }
std::string PathResult::accelerator() const { return first_non_empty(runs, &RunSample::accelerator); }
std::string PathResult::accelerator_reason() const { return first_non_empty(runs, &RunSample::accelerator_reason); }
std::string PathResult::cgroup_version() const { return first_non_empty(runs, &RunSample::cgroup_version); }

std::optional<double> PathResult::median(const std::string& figure_key) const {
    auto found = summaries.find(figure_key);
    if (found == summaries.end() || found->second.count == 0) return std::nullopt;
    return found->second.median;
}

const PathResult* Results::find_path(const std::string& name) const {
    for (const auto& path : paths) {
        if (path.name == name) return &path;
    }
    return nullptr;
}

namespace {

void summarize_figures(PathResult& path) {
    path.summaries.clear();
    for (const auto& definition : figure_catalog()) {
        std::vector<double> values;
        for (const auto& run : path.runs) {
            auto found = run.figures.find(definition.key);
            if (!run.warmup && found != run.figures.end()) values.push_back(found->second);
        }
        if (!values.empty()) path.summaries[definition.key] = summarize(values);
    }
}

void summarize_phases(PathResult& path) {
    std::vector<std::string> order;
    std::map<std::string, std::vector<double>> times;
    std::map<std::string, std::string> clocks;
    for (const auto& run : path.runs) {
        if (run.warmup) continue;
        for (const auto& phase : run.phases) {
            if (!times.contains(phase.name)) order.push_back(phase.name);
            times[phase.name].push_back(phase.at_ms);
            clocks[phase.name] = phase.clock;
        }
    }

    path.median_phases.clear();
    for (const auto& name : order) {
        path.median_phases.push_back({name, quantile(times[name], 0.5), clocks[name]});
    }
    std::stable_sort(path.median_phases.begin(), path.median_phases.end(),
                     [](const PhaseSample& a, const PhaseSample& b) { return a.at_ms < b.at_ms; });
}

void add_ratio(Results& results, const PathResult& path, const PathResult& reference, const std::string& key) {
    auto numerator = path.median(key);
    auto denominator = reference.median(key);
    if (!numerator || !denominator || *denominator <= 0) return;
    results.ratios.push_back({key, path.name, reference.name, *numerator / *denominator});
}

void compute_ratios(Results& results) {
    results.ratios.clear();
    const std::vector<std::string> keys = {figure::startup, figure::memory_peak, figure::disk};

    const auto* container = results.find_path("container");
    const auto* vm = results.find_path("vm");
    if (container && vm) {
        for (const auto& key : keys) add_ratio(results, *vm, *container, key);
    }
    for (const auto& reference : results.paths) {
        if (reference.role != "reference" || !reference.available) continue;
        const auto* counterpart = results.find_path(reference.counterpart);
        if (!counterpart) continue;
        for (const auto& key : keys) add_ratio(results, *counterpart, reference, key);
    }
}

}  // namespace

void compute_derived(Results& results) {
    for (auto& path : results.paths) {
        summarize_figures(path);
        summarize_phases(path);
    }
    compute_ratios(results);
}

// JSON ---------------------------------------------------------------------------------

namespace {

json summary_to_json(const Summary& summary) {
    return {{"count", summary.count},   {"median", summary.median}, {"min", summary.min},
            {"max", summary.max},       {"p95", summary.p95},       {"mean", summary.mean},
            {"standard_deviation", summary.standard_deviation},     {"outlier_runs", summary.outliers}};
}

json phase_to_json(const PhaseSample& phase) {
    return {{"name", phase.name}, {"at_ms", phase.at_ms}, {"clock", phase.clock}};
}

json run_to_json(const RunSample& run) {
    json document = {{"index", run.index}, {"warmup", run.warmup}, {"exit_code", run.exit_code},
                     {"figures", run.figures}, {"kernel", run.kernel}, {"phases", json::array()}};
    for (const auto& phase : run.phases) document["phases"].push_back(phase_to_json(phase));
    if (!run.accelerator.empty()) {
        document["accelerator"] = {{"used", run.accelerator}, {"reason", run.accelerator_reason}};
    }
    if (!run.cgroup_version.empty()) document["cgroup_version"] = run.cgroup_version;
    if (!run.notes.empty()) document["notes"] = run.notes;
    return document;
}

// Figures of one path with unit, definitions and summary, keyed by figure.
json path_figures_to_json(const PathResult& path) {
    json figures = json::object();
    for (const auto& [key, summary] : path.summaries) {
        const auto& definition = figure_definition(key);
        auto specific = path.definitions.find(key);
        figures[key] = {{"unit", definition.unit},
                        {"definition", specific != path.definitions.end() ? specific->second : definition.definition},
                        {"summary", summary_to_json(summary)}};
    }
    return figures;
}

json path_to_json(const PathResult& path) {
    json document = {{"name", path.name},
                     {"role", path.role},
                     {"counterpart", path.counterpart},
                     {"runtime", path.runtime},
                     {"available", path.available},
                     {"missing_reason", path.missing_reason},
                     {"started_means", path.started_means},
                     {"definitions", path.definitions},
                     {"kernel", path.kernel()},
                     {"cgroup_version", path.cgroup_version()},
                     {"figures", path_figures_to_json(path)},
                     {"median_phases", json::array()},
                     {"runs", json::array()}};
    if (!path.accelerator().empty()) {
        document["accelerator"] = {{"used", path.accelerator()}, {"reason", path.accelerator_reason()}};
    } else {
        document["accelerator"] = nullptr;
    }
    for (const auto& phase : path.median_phases) document["median_phases"].push_back(phase_to_json(phase));
    for (const auto& run : path.runs) document["runs"].push_back(run_to_json(run));
    return document;
}

json host_to_json(const HostInfo& host) {
    return {{"cpu_model", host.cpu_model},         {"cpu_count", host.cpu_count},
            {"memory_total_bytes", host.memory_total_bytes},
            {"kernel", host.kernel},               {"os", host.os},
            {"cgroup_version", host.cgroup_version},
            {"qemu_version", host.qemu_version},   {"libvirt_version", host.libvirt_version},
            {"isolab_version", host.isolab_version}, {"tool_versions", host.tool_versions}};
}

json settings_to_json(const Settings& settings) {
    return {{"workload", settings.workload}, {"image", settings.image}, {"command", settings.command},
            {"readiness", settings.readiness}, {"runs", settings.runs}, {"warmup", settings.warmup},
            {"memory_bytes", settings.memory_bytes}, {"accelerator_requested", settings.accelerator_requested},
            {"connect_uri", settings.connect_uri}, {"order", settings.order}, {"size_mib", settings.size_mib},
            {"scenario_file", settings.scenario_file}, {"scale_instances", settings.scale_instances}};
}

json definitions_to_json(const std::vector<FigureDefinition>& definitions) {
    json catalog = json::object();
    for (const auto& definition : definitions) {
        catalog[definition.key] = {{"label", definition.label}, {"unit", definition.unit},
                                   {"definition", definition.definition}};
    }
    return catalog;
}

json scale_to_json(const std::vector<ScaleSeries>& scale) {
    json document = {{"figure_catalog", definitions_to_json(scale_figure_catalog())}, {"series", json::array()}};
    for (const auto& series : scale) {
        json points = json::array();
        for (const auto& point : series.points) {
            points.push_back({{"instances", point.instances}, {"available", point.available},
                              {"missing_reason", point.missing_reason}, {"figures", point.figures}});
        }
        document["series"].push_back({{"path", series.path}, {"definitions", series.definitions}, {"points", points}});
    }
    return document;
}


}  // namespace

json to_json(const Results& results) {
    json document = {{"schema_version", results.schema_version},
                     {"created", results.created},
                     {"label", results.label},
                     {"host", host_to_json(results.host)},
                     {"settings", settings_to_json(results.settings)},
                     {"statistics", {{"counted_runs", "runs with warmup=false; warm-up runs are recorded only"},
                                     {"median", "50th percentile, linear interpolation"},
                                     {"p95", "95th percentile, linear interpolation (Hyndman-Fan type 7)"},
                                     {"standard_deviation", "sample standard deviation (n - 1)"},
                                     {"outlier_rule", outlier_rule}}},
                     {"figure_catalog", definitions_to_json(figure_catalog())},
                     {"paths", json::array()},
                     {"ratios", json::array()},
                     {"scale", scale_to_json(results.scale)}};
    for (const auto& path : results.paths) document["paths"].push_back(path_to_json(path));
    for (const auto& ratio : results.ratios) {
        document["ratios"].push_back({{"figure", ratio.figure}, {"path", ratio.path},
                                      {"reference", ratio.reference}, {"value", ratio.value}});
    }
    return document;
}

namespace {

PhaseSample phase_from_json(const json& document) {
    return {document.at("name").get<std::string>(), document.at("at_ms").get<double>(),
            document.value("clock", "host")};
}

RunSample run_from_json(const json& document) {
    RunSample run;
    run.index = document.at("index").get<std::size_t>();
    run.warmup = document.value("warmup", false);
    run.exit_code = document.value("exit_code", -1);
    run.figures = document.at("figures").get<std::map<std::string, double>>();
    run.kernel = document.value("kernel", "");
    for (const auto& phase : document.value("phases", json::array())) run.phases.push_back(phase_from_json(phase));
    if (document.contains("accelerator") && document["accelerator"].is_object()) {
        run.accelerator = document["accelerator"].value("used", "");
        run.accelerator_reason = document["accelerator"].value("reason", "");
    }
    run.cgroup_version = document.value("cgroup_version", "");
    run.notes = document.value("notes", std::vector<std::string>{});
    return run;
}

PathResult path_from_json(const json& document) {
    PathResult path;
    path.name = document.at("name").get<std::string>();
    path.role = document.value("role", "isolab");
    path.counterpart = document.value("counterpart", "");
    path.runtime = document.value("runtime", "");
    path.available = document.value("available", true);
    path.missing_reason = document.value("missing_reason", "");
    path.started_means = document.value("started_means", "");
    path.definitions = document.value("definitions", std::map<std::string, std::string>{});
    for (const auto& run : document.value("runs", json::array())) path.runs.push_back(run_from_json(run));
    return path;
}

HostInfo host_from_json(const json& document) {
    HostInfo host;
    host.cpu_model = document.value("cpu_model", "");
    host.cpu_count = document.value("cpu_count", 0U);
    host.memory_total_bytes = document.value("memory_total_bytes", std::uint64_t{0});
    host.kernel = document.value("kernel", "");
    host.os = document.value("os", "");
    host.cgroup_version = document.value("cgroup_version", "");
    host.qemu_version = document.value("qemu_version", "");
    host.libvirt_version = document.value("libvirt_version", "");
    host.isolab_version = document.value("isolab_version", "");
    host.tool_versions = document.value("tool_versions", std::map<std::string, std::string>{});
    return host;
}

Settings settings_from_json(const json& document) {
    Settings settings;
    settings.workload = document.value("workload", "");
    settings.image = document.value("image", "");
    settings.command = document.value("command", std::vector<std::string>{});
    settings.readiness = document.value("readiness", "");
    settings.runs = document.value("runs", 0);
    settings.warmup = document.value("warmup", 0);
    settings.memory_bytes = document.value("memory_bytes", std::uint64_t{0});
    settings.accelerator_requested = document.value("accelerator_requested", "");
    settings.connect_uri = document.value("connect_uri", "");
    settings.order = document.value("order", "");
    settings.size_mib = document.value("size_mib", 0);
    settings.scenario_file = document.value("scenario_file", "");
    settings.scale_instances = document.value("scale_instances", std::vector<int>{});
    return settings;
}

std::vector<ScaleSeries> scale_from_json(const json& document) {
    std::vector<ScaleSeries> scale;
    for (const auto& entry : document.value("series", json::array())) {
        ScaleSeries series;
        series.path = entry.at("path").get<std::string>();
        series.definitions = entry.value("definitions", std::map<std::string, std::string>{});
        for (const auto& point_document : entry.value("points", json::array())) {
            ScalePoint point;
            point.instances = point_document.at("instances").get<int>();
            point.available = point_document.value("available", true);
            point.missing_reason = point_document.value("missing_reason", "");
            point.figures = point_document.value("figures", std::map<std::string, double>{});
            series.points.push_back(std::move(point));
        }
        scale.push_back(std::move(series));
    }
    return scale;
}

}  // namespace

Results results_from_json(const json& document) {
    if (!document.is_object() || !document.contains("schema_version")) {
        throw Error("not an isolab results file: no schema_version", "pass the results.json that isolab compare wrote");
    }
    if (!document["schema_version"].is_number_integer()) {
        throw Error("invalid results file: schema_version is not an integer", "pass the results.json that isolab compare wrote");
    }
    Results results;
    results.schema_version = document.at("schema_version").get<int>();
    if (results.schema_version > results_schema_version) {
        throw Error("results schema version " + std::to_string(results.schema_version) + " is newer than " +
                        std::to_string(results_schema_version) + ", the newest this isolab reads",
                    "use a newer isolab to read it");
    }
    try {
        if (!document.at("paths").is_array()) throw Error("invalid results file: paths is not an array");
        results.created = document.value("created", "");
        results.label = document.value("label", "");
        results.host = host_from_json(document.at("host"));
        results.settings = settings_from_json(document.at("settings"));
        for (const auto& path : document.at("paths")) results.paths.push_back(path_from_json(path));
        if (document.contains("scale")) results.scale = scale_from_json(document.at("scale"));
    } catch (const json::exception& error) {
        throw Error(std::string("invalid results file: ") + error.what());
    }
    compute_derived(results);
    return results;
}

Results load_results(const std::string& path) {
    std::ifstream file(path);
    if (!file) throw Error("cannot read results file " + path, "pass the path of a results.json");
    auto document = json::parse(file, nullptr, false);
    if (document.is_discarded()) throw Error(path + " is not valid JSON");
    try {
        return results_from_json(document);
    } catch (const Error& error) {
        throw Error(path + ": " + error.what(), error.hint());
    }
}


}  // namespace isolab::bench
