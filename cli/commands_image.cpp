#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "cli/confirm.hpp"
#include "cli/context.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"
#include "runtime/image/bootstrap.hpp"
#include "runtime/image/listing.hpp"
#include "runtime/image/prune.hpp"
#include "runtime/image/transfer.hpp"

namespace isolab::cli {

namespace {

void register_images(CLI::App& app, Context& context) {
    struct Options {
        bool quiet = false;
        std::string format = "table";
    };
    auto options = std::make_shared<Options>();
    auto* command = app.add_subcommand("images", "List images (busybox:latest is created on first use)");
    command->add_flag("-q,--quiet", options->quiet, "Print only image ids");
    command->add_option("--format", options->format, "Output format: table or json")
        ->check(CLI::IsMember({"table", "json"}))
        ->capture_default_str();
    command->callback([options, &context] {
        if (options->format == "json") {
            std::cout << image::images_json(context.store()).dump(2) << "\n";
        } else {
            std::cout << image::images_table(context.store(), options->quiet);
        }
    });
}

void register_image_prune(CLI::App& group, Context& context) {
    auto all = std::make_shared<bool>(false);
    auto force = std::make_shared<bool>(false);
    auto* command = group.add_subcommand("prune", "Remove images of unnamed builds (with -a: every image) no container uses");
    command->add_flag("-a,--all", *all, "Remove every image no container uses, not only those of builds without -t");
    command->add_flag("-f,--force", *force, "Do not ask for confirmation");
    command->callback([all, force, &context] {
        if (!*force) {
            std::printf("This removes %s no container uses.\n", *all ? "every image" : "the images of builds without -t");
            if (!confirm_continue("image prune")) return;
        }
        auto result = image::prune_images(context.store(), *all);
        if (!result.lines.empty()) std::printf("Deleted Images:\n");
        for (const auto& line : result.lines) std::printf("%s\n", line.c_str());
        std::printf("Total reclaimed space: %s\n", human_size(result.reclaimed_bytes).c_str());
    });
}

void register_image_bootstrap(CLI::App& group, Context& context) {
    auto options = std::make_shared<image::BootstrapOptions>();
    auto* command = group.add_subcommand(
        "bootstrap", "Create a Debian image (debian:SUITE) with debootstrap --variant=minbase from a Debian mirror");
    command->add_option("IMAGE", options->reference, "debian:SUITE, for example debian:bookworm")->required();
    command->add_option("--mirror", options->mirror, "Debian mirror URL (default: the host's apt source for SUITE)");
    command->add_flag("--refresh", options->refresh, "Download the packages again instead of using the cached ones");
    command->callback([options, &context] {
        options->progress = [](const std::string& line) {
            std::fprintf(stderr, "%s\n", line.c_str());
            std::fflush(stderr);
        };
        std::cout << image::bootstrap_debian(context.store(), *options).config_digest << "\n";
    });
}

void register_inspect(CLI::App& app, Context& context) {
    auto* group = app.add_subcommand("image", "Manage images");
    group->require_subcommand(1);
    auto references = std::make_shared<std::vector<std::string>>();
    auto* command = group->add_subcommand("inspect", "Show images' config, layers and sizes as JSON");
    command->add_option("IMAGE", *references, "Image references or ids")->required();
    command->callback([references, &context] {
        // As docker does, prints the images found and one error line for each other one.
        auto documents = nlohmann::json::array();
        for (const auto& reference : *references) {
            try {
                for (auto& document : image::inspect_json(context.store(), reference)) documents.push_back(std::move(document));
            } catch (const Error& error) {
                context.report(error);
            }
        }
        std::cout << documents.dump(2) << "\n";
    });
    register_image_prune(*group, context);
    register_image_bootstrap(*group, context);
}

void register_tag(CLI::App& app, Context& context) {
    auto references = std::make_shared<std::pair<std::string, std::string>>();
    auto* command = app.add_subcommand("tag", "Give an image another name");
    command->add_option("SOURCE", references->first, "Existing image reference or id")->required();
    command->add_option("TARGET", references->second, "New NAME[:TAG]")->required();
    command->callback([references, &context] { context.store().tag(references->first, references->second); });
}

void register_rmi(CLI::App& app, Context& context) {
    struct Options {
        bool force = false;
        std::vector<std::string> references;
    };
    auto options = std::make_shared<Options>();
    auto* command = app.add_subcommand("rmi", "Remove images (rejected while a container uses the image)");
    command->add_flag("-f,--force", options->force, "Remove every tag of an image given by id");
    command->add_option("IMAGE", options->references, "Image references or ids")->required();
    command->callback([options, &context] {
        for (const auto& reference : options->references) {
            try {
                for (const auto& line : context.store().remove(reference, options->force)) std::cout << line << "\n";
            } catch (const Error& error) {
                std::cout.flush();
                // As with docker rmi -f, a missing image is reported but does not fail the command.
                bool missing = options->force && error.exit_code() == target_error_exit_code && !context.store().find(reference);
                if (missing) {
                    std::fprintf(stderr, "isolab: %s\n", error_line(error).c_str());
                } else {
                    context.report(error);
                }
            }
        }
    });
}

// isolab has no registry client. `pull` exists so that scripts written for Docker, which
// pull before they run, work with the images isolab has, and fail as `docker pull` does
// (exit code 1) for one it lacks.
void register_pull(CLI::App& app, Context& context) {
    auto reference = std::make_shared<std::string>();
    auto* command = app.add_subcommand("pull", "Check that an image is in the local store; isolab pulls from no registry");
    command->add_option("IMAGE", *reference, "Image reference or id")->required();
    command->callback([reference, &context] {
        try {
            auto image = context.store().resolve(*reference);
            std::cout << "Status: Image is up to date for " << image.reference << "\n";
        } catch (const Error& error) {
            if (error.exit_code() != target_error_exit_code) throw;
            throw Error("image '" + *reference + "' not found locally, and isolab pulls from no registry", error.hint(),
                        target_error_exit_code);
        }
    });
}

void register_import(CLI::App& app, Context& context) {
    auto arguments = std::make_shared<std::pair<std::string, std::string>>();
    auto* command = app.add_subcommand("import", "Create a one-layer image from a rootfs tar (plain or compressed)");
    command->add_option("ROOTFS", arguments->first, "Rootfs tar file")->required();
    command->add_option("REFERENCE", arguments->second, "NAME[:TAG] of the new image")->required();
    command->callback([arguments, &context] {
        std::cout << context.store().import_rootfs(arguments->first, arguments->second).config_digest << "\n";
    });
}

void register_history(CLI::App& app, Context& context) {
    auto reference = std::make_shared<std::string>();
    auto* command = app.add_subcommand("history", "Show the steps that built an image");
    command->add_option("IMAGE", *reference, "Image reference or id")->required();
    command->callback([reference, &context] { std::cout << image::history_table(context.store(), *reference); });
}

void register_save(CLI::App& app, Context& context) {
    struct Options {
        std::string output;
        std::string format = "docker-archive";
        std::string reference;
    };
    auto options = std::make_shared<Options>();
    auto* command = app.add_subcommand("save", "Write an image to a tar file that docker, podman and skopeo can load");
    command->add_option("-o,--output", options->output, "Tar file to write")->required();
    command->add_option("--format", options->format, "Archive format: docker-archive or oci-archive")
        ->check(CLI::IsMember({"docker-archive", "oci-archive"}))
        ->capture_default_str();
    command->add_option("IMAGE", options->reference, "Image reference or id")->required();
    command->callback([options, &context] {
        image::save_image(context.store(), options->reference, options->output, image::parse_archive_format(options->format));
    });
}

void register_load(CLI::App& app, Context& context) {
    auto input = std::make_shared<std::string>();
    auto* command = app.add_subcommand("load", "Add the images of a docker-archive or oci-archive tar file");
    command->add_option("-i,--input", *input, "Tar file to read (plain or compressed)")->required();
    command->callback([input, &context] {
        for (const auto& reference : image::load_images(context.store(), *input)) {
            std::cout << "Loaded image: " << reference << "\n";
        }
    });
}

}  // namespace

void register_image_commands(CLI::App& app, Context& context) {
    register_images(app, context);
    register_inspect(app, context);
    register_tag(app, context);
    register_rmi(app, context);
    register_pull(app, context);
    register_import(app, context);
    register_history(app, context);
    register_save(app, context);
    register_load(app, context);
}

}  // namespace isolab::cli
