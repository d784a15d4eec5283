// isolab compare and isolab report: measuring a workload as a container and as a VM,
// and rendering results into one HTML page.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "bench/compare.hpp"
#include "bench/progress.hpp"
#include "bench/report.hpp"
#include "lessons/engine/class_report.hpp"
#include "cli/context.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"

namespace isolab::cli {

namespace {

struct CompareArguments {
    bench::CompareOptions options;
    std::string memory = "256M";
    std::string references = "crun,runc,podman,qemu";
    std::string paths = "container,vm";
    bool no_references = false;
    bool json = false;
    std::string output;
};

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> items;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto comma = text.find(',', start);
        auto item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!item.empty()) items.push_back(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return items;
}

void compare(Context& context, CompareArguments& arguments) {
    arguments.options.memory_bytes = parse_size(arguments.memory);
    arguments.options.references = arguments.no_references ? std::vector<std::string>{} : split_list(arguments.references);
    arguments.options.paths = split_list(arguments.paths);
    auto directory = arguments.output.empty() ? bench::default_results_directory() : std::filesystem::path(arguments.output);

    bench::Results results;
    {
        bench::ProgressPrinter progress(stderr, isatty(STDERR_FILENO) != 0);
        results = bench::run_compare(context.store(), arguments.options,
                                     [&progress](const bench::ProgressUpdate& update) { progress.print(update); });
    }
    bench::write_results(results, directory);

    if (arguments.json) {
        std::cout << bench::to_json(results).dump(2) << "\n";
        return;
    }
    std::cout << bench::render_table(results, isatty(STDOUT_FILENO) != 0);
    std::cout << "\nresults: " << (directory / "results.json").string() << "\n";
    std::cout << "report:  " << (directory / "report.html").string() << "\n";
}

void report(const std::vector<std::string>& inputs, const std::string& class_folder, const std::string& output) {
    if (!class_folder.empty()) {
        if (!inputs.empty()) throw Error("report takes results.json files or --class DIR, not both");
        write_file_atomic(output, lessons::class_report_html(class_folder));
        std::cout << output << "\n";
        return;
    }
    if (inputs.empty()) throw Error("report needs results.json files or --class DIR", "see isolab report --help");
    std::vector<bench::Results> all;
    for (const auto& input : inputs) {
        std::error_code error;
        if (std::filesystem::equivalent(input, output, error)) {
            throw Error("the report " + output + " would overwrite its input " + input, "choose another file with -o");
        }
        all.push_back(bench::load_results(input));
    }
    write_file_atomic(output, bench::render_html(all));
    std::cout << output << "\n";
}

}  // namespace

void register_bench_commands(CLI::App& app, Context& context) {
    auto arguments = std::make_shared<CompareArguments>();
    auto* compare_command = app.add_subcommand(
        "compare", "Run a workload N times as a container and as a VM, interleaved, and report startup, memory and disk");
    compare_command->add_option("--workload", arguments->options.workload, "Workload to run: hello, web, cpu, mem or io")
        ->capture_default_str();
    compare_command->add_option("--scenario", arguments->options.scenario_file,
                                "Custom scenario file (YAML or JSON) to run instead of --workload");
    compare_command->add_option("--size", arguments->options.size_mib, "MiB the mem workload holds and the io workload writes")
        ->capture_default_str();
    compare_command->add_option("--scale-max", arguments->options.scale_max,
                                "Also start 1, 2, 4 ... up to this many instances together per isolab path (0: no scale series)")
        ->capture_default_str();
    compare_command->add_option("--paths", arguments->paths, "isolab paths to run, comma separated: container, vm")
        ->capture_default_str();
    compare_command->add_option("--runs", arguments->options.runs, "Counted runs per path")->capture_default_str();
    compare_command->add_option("--warmup", arguments->options.warmup, "Warm-up runs per path, recorded but not counted")
        ->capture_default_str();
    compare_command->add_option("--memory", arguments->memory, "Memory for the container limit and the guest RAM (e.g. 256M)")
        ->capture_default_str();
    compare_command->add_option("--accel", arguments->options.accelerator, "VM accelerator: auto, kvm or tcg")
        ->capture_default_str();
    compare_command->add_option("--connect", arguments->options.connect_uri,
                                "libvirt URI of the VM paths, or embedded for isolab's embedded QEMU driver at "
                                "STATE/libvirt-embedded")
        ->capture_default_str();
    compare_command->add_option("--with", arguments->references,
                                "Reference tools run beside isolab, comma separated: crun, runc, podman, qemu "
                                "(a missing one is recorded with the reason)")
        ->capture_default_str();
    compare_command->add_flag("--no-references", arguments->no_references, "Run only the isolab container and VM");
    compare_command->add_option("--label", arguments->options.label, "Name of this source in merged reports (e.g. a host or student)");
    compare_command->add_flag("--json", arguments->json, "Print results.json to stdout instead of the table");
    compare_command->add_option("-o,--output", arguments->output, "Results folder (default: results/<UTC timestamp>)");
    compare_command->callback([&context, arguments] { compare(context, *arguments); });

    auto inputs = std::make_shared<std::vector<std::string>>();
    auto output = std::make_shared<std::string>("report.html");
    auto class_folder = std::make_shared<std::string>();
    auto* report_command = app.add_subcommand(
        "report", "Render results.json files into one HTML report, or students' lesson records with --class");
    report_command->add_option("results", *inputs, "results.json files (several hosts or students)");
    report_command->add_option("--class", *class_folder,
                               "Folder of students' lesson records (isolab lesson check --all --json) to merge");
    report_command->add_option("-o,--output", *output, "HTML file to write")->capture_default_str();
    report_command->callback([inputs, class_folder, output] { report(*inputs, *class_folder, *output); });
}

}  // namespace isolab::cli
