#pragma once
// Parsing a Dockerfile into instructions, following Docker's Dockerfile reference. Parser
// directives (`# syntax=`, `# escape=`) count only before the first comment, empty line
// or instruction. Comment lines are dropped, also inside a continued instruction. Lines
// continue with the escape character, RUN, COPY and ADD take here-documents, and
// instructions come in exec (JSON) or shell form. Variables are not substituted here,
// because their values are only known while building (see words.hpp).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace isolab::build {

// A here-document (`<<EOF` ... `EOF`) attached to a RUN, COPY or ADD instruction.
struct Heredoc {
    std::string name;           // the delimiter word, without quotes
    std::string content;        // the lines between the instruction and the delimiter, each ending in "\n"
    bool expand = true;         // false when the delimiter was quoted: no variable substitution
    bool strip_tabs = false;    // `<<-EOF`: leading tabs removed from each line
};

struct Instruction {
    std::string keyword;        // upper case: "RUN"
    std::string text;           // the whole logical line, continuation lines joined
    std::vector<std::string> flags;   // leading `--name=value` words, as written
    std::string arguments;      // what follows the keyword and the flags, trimmed
    std::optional<std::vector<std::string>> exec_form;  // set when `arguments` is a JSON array of strings
    std::vector<Heredoc> heredocs;
    int line = 0;               // 1-based line of the keyword

    // Returns the value of `--name=value`, or nullopt when the flag is absent.
    std::optional<std::string> flag(std::string_view name) const;
};

struct Dockerfile {
    std::string file;           // the name errors cite, e.g. "Dockerfile"
    char escape = '\\';
    std::string syntax;         // the `# syntax=` directive, recorded but not acted on
    std::vector<Instruction> instructions;
};

// Parses `text`. Throws Error("<file>:<line>: ...") for an unknown instruction, an
// instruction without arguments, a repeated or invalid parser directive, an unknown flag,
// an unterminated here-document, or a file whose first instruction other than ARG is not
// FROM.
Dockerfile parse_dockerfile(std::string_view text, const std::string& file);

// Returns "<file>:<line>: <message>", the form every Dockerfile error uses.
std::string at_line(const std::string& file, int line, const std::string& message);

}  // namespace isolab::build
