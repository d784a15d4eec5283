#pragma once
// What every command callback shares: the paths, the exit code to return, and the
// image store, opened on first use.
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "runtime/core/error.hpp"
#include "runtime/core/paths.hpp"
#include "runtime/image/store.hpp"

namespace isolab::cli {

struct Context {
    Paths paths = Paths::from_environment();
    int exit_code = 0;

    // Prints `error` on one line and keeps the exit code of the first error, for commands
    // that go on with their other arguments after one fails, as docker's `rm` and
    // `inspect` do.
    void report(const Error& error) {
        std::fprintf(stderr, "isolab: %s\n", error.one_line().c_str());
        if (exit_code == 0) exit_code = error.exit_code();
    }

    image::Store& store() {
        if (!store_) store_ = std::make_unique<image::Store>(paths);
        return *store_;
    }

private:
    std::unique_ptr<image::Store> store_;
};

// Each commands_*.cpp file adds one group of subcommands. A callback parses nothing
// itself beyond CLI11's options and calls one library function.
void register_image_commands(CLI::App& app, Context& context);
void register_build_commands(CLI::App& app, Context& context);
void register_container_commands(CLI::App& app, Context& context);
void register_exec_commands(CLI::App& app, Context& context);
void register_volume_commands(CLI::App& app, Context& context);
void register_network_commands(CLI::App& app, Context& context);
void register_lifecycle_commands(CLI::App& app, Context& context);
void register_vm_commands(CLI::App& app, Context& context);
// `vm ps`, `vm stop`, ...: added to the `vm` group by register_vm_commands.
void register_vm_lifecycle_commands(CLI::App& vm_group, Context& context);
void register_bench_commands(CLI::App& app, Context& context);
void register_lesson_commands(CLI::App& app, Context& context);
void register_system_commands(CLI::App& app, Context& context);
void register_compose_commands(CLI::App& app, Context& context);
void register_oci_commands(CLI::App& app, Context& context);

}  // namespace isolab::cli
