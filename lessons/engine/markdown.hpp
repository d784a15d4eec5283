#pragma once
// Commands in a lesson text. Fenced blocks tagged sh, shell or bash hold commands the
// student types, one per line (a trailing backslash continues a line, # starts a
// comment). Blocks with any other tag (text, yaml, dockerfile, ...) show output, files or
// examples and hold no commands.
#include <string>
#include <vector>

namespace isolab::lessons {

struct FencedCommand {
    int line = 0;         // 1-based line in the markdown where the command starts
    std::string command;  // continuation lines joined with a space
};

std::vector<FencedCommand> fenced_commands(const std::string& markdown);

// For a command starting with `isolab` (optionally after `sudo`, `time`, `{`, `(`, `!` or
// `VAR=value` assignments), the subcommand words before the first option, at most two:
// "isolab vm run busybox uname -r" gives {"vm", "run"}. Empty for any other command.
std::vector<std::string> isolab_subcommand(const std::string& command);

}  // namespace isolab::lessons
