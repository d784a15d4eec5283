#include "cli/context.hpp"

namespace isolab::cli {

void register_container_commands(CLI::App& app, Context& context) {
    (void)app;
    (void)context;
}

}  // namespace isolab::cli
