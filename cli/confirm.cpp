#include "cli/confirm.hpp"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "runtime/core/error.hpp"

namespace isolab::cli {

bool confirm_continue(const std::string& command) {
    if (!isatty(STDIN_FILENO)) throw Error(command + " needs confirmation", "run it with --force to remove without asking");
    std::printf("Are you sure you want to continue? [y/N] ");
    std::fflush(stdout);
    std::string answer;
    std::getline(std::cin, answer);
    return answer == "y" || answer == "Y" || answer == "yes";
}

}  // namespace isolab::cli
