#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <vector>

#include "cli/context.hpp"
#include "runtime/build/builder.hpp"
#include "runtime/core/error.hpp"

namespace isolab::cli {

namespace {

// Parses --build-arg values: NAME=value, or NAME alone to pass the variable of that name
// from isolab's environment (skipped when it is unset), as docker build does.
std::map<std::string, std::string> parse_build_args(const std::vector<std::string>& values) {
    std::map<std::string, std::string> args;
    for (const auto& value : values) {
        size_t equals = value.find('=');
        std::string name = value.substr(0, equals);
        if (name.empty()) throw Error("invalid --build-arg '" + value + "': the name is empty", "use --build-arg NAME=value");
        if (equals != std::string::npos) {
            args[name] = value.substr(equals + 1);
        } else if (const char* from_environment = std::getenv(name.c_str())) {
            args[name] = from_environment;
        }
    }
    return args;
}

}  // namespace

void register_build_commands(CLI::App& app, Context& context) {
    struct Options {
        std::vector<std::string> tags;
        std::string file;
        std::vector<std::string> build_args;
        std::string target;
        bool no_cache = false;
        std::string compression = "gzip";
        std::string progress = "plain";
        bool quiet = false;
        std::string context;
    };
    auto options = std::make_shared<Options>();

    auto* command = app.add_subcommand("build", "Build an image from a Dockerfile, offline, with RUN steps as containers");
    command->add_option("-t,--tag", options->tags, "NAME[:TAG] of the image; repeat for several tags");
    command->add_option("-f,--file", options->file, "Dockerfile to read (default: CONTEXT/Dockerfile)");
    command->add_option("--build-arg", options->build_args, "Value of an ARG: NAME=value, or NAME to take it from the environment");
    command->add_option("--target", options->target, "Build up to this stage (FROM ... AS NAME)");
    command->add_flag("--no-cache", options->no_cache, "Run every step, ignoring the layer cache");
    command->add_option("--compression", options->compression, "Compression of the new layers: gzip or zstd")
        ->check(CLI::IsMember({"gzip", "zstd"}))
        ->capture_default_str();
    command->add_option("--progress", options->progress, "Progress output: plain or tty (both print one line per event)")
        ->check(CLI::IsMember({"plain", "tty", "auto"}))
        ->capture_default_str();
    command->add_flag("-q,--quiet", options->quiet, "Print only the image id");
    command->add_option("CONTEXT", options->context, "Folder whose files COPY and ADD can read")->required();

    command->callback([options, &context] {
        build::BuildOptions build;
        build.context = options->context;
        build.dockerfile = options->file;
        build.tags = options->tags;
        build.build_args = parse_build_args(options->build_args);
        build.target = options->target;
        build.no_cache = options->no_cache;
        build.compression = image::parse_compression(options->compression);
        build.source_date_epoch = build::source_date_epoch_from_environment();

        // With -q the progress is kept and printed only when the build fails, so the
        // output of a failed RUN step is still shown.
        auto kept_progress = std::make_shared<std::vector<std::string>>();
        if (options->quiet) {
            build.progress = [kept_progress](const std::string& line) { kept_progress->push_back(line); };
        } else {
            build.progress = [](const std::string& line) {
                std::fprintf(stderr, "%s\n", line.c_str());
                std::fflush(stderr);
            };
        }

        try {
            auto result = build::build_image(context.store(), build);
            if (options->quiet) std::cout << result.image.config_digest << "\n";
        } catch (const Error&) {
            for (const auto& line : *kept_progress) std::fprintf(stderr, "%s\n", line.c_str());
            throw;
        }
    });
}

}  // namespace isolab::cli
