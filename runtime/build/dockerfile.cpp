#include "runtime/build/dockerfile.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "runtime/core/error.hpp"
#include "runtime/core/text.hpp"

namespace isolab::build {

namespace {

constexpr const char* reference_hint = "see the Dockerfile section of the README for what isolab supports";

// The flags each instruction accepts; any other flag is an error.
const std::map<std::string, std::set<std::string>>& instruction_flags() {
    static const std::map<std::string, std::set<std::string>> flags{
        {"ADD", {"chown", "chmod", "link", "checksum", "keep-git-dir"}},
        {"ARG", {}},
        {"CMD", {}},
        {"COPY", {"from", "chown", "chmod", "link"}},
        {"ENTRYPOINT", {}},
        {"ENV", {}},
        {"EXPOSE", {}},
        {"FROM", {"platform"}},
        {"HEALTHCHECK", {"interval", "timeout", "start-period", "start-interval", "retries"}},
        {"LABEL", {}},
        {"MAINTAINER", {}},
        {"ONBUILD", {}},
        {"RUN", {"network", "mount", "security"}},
        {"SHELL", {}},
        {"STOPSIGNAL", {}},
        {"USER", {}},
        {"VOLUME", {}},
        {"WORKDIR", {}},
    };
    return flags;
}

// Blanks as BuildKit counts them: space, tab, newline, vertical tab, form feed and CR.
bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::string trim_left(std::string_view text) {
    size_t start = 0;
    while (start < text.size() && is_space(text[start])) ++start;
    return std::string(text.substr(start));
}

std::string trim(std::string_view text) {
    std::string left = trim_left(text);
    while (!left.empty() && is_space(left.back())) left.pop_back();
    return left;
}

std::string upper(std::string text) {
    for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return text;
}

bool is_comment(std::string_view line) {
    std::string left = trim_left(line);
    return !left.empty() && left.front() == '#';
}

bool is_blank(std::string_view line) {
    return trim(line).empty();
}

// Removes a trailing escape character (and any spaces or tabs after it) and returns
// whether the line ends the instruction.
bool strip_continuation(std::string& line, char escape) {
    size_t end = line.size();
    while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
    if (end == 0 || line[end - 1] != escape) return true;
    line.resize(end - 1);
    return false;
}

std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string line(text.substr(start, end - start));
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(line);
        start = end + 1;
    }
    if (!lines.empty() && lines.back().empty()) lines.pop_back();
    return lines;
}

struct Directives {
    char escape = '\\';
    std::string syntax;
    size_t first_line = 0;  // index of the first line after the directives
};

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

struct DirectiveLine {
    std::string name;  // lowercase
    std::string value;
};

// "# name = value" with any blanks around '#', the name and '=', or nothing when `line` is
// not of that form. Scanned by hand: libstdc++'s std::regex recurses once per character
// and overflowed the stack on a directive line of 60,000 characters.
std::optional<DirectiveLine> parse_directive(const std::string& line) {
    size_t at = 0;
    auto skip_spaces = [&] {
        while (at < line.size() && is_space(line[at])) ++at;
    };
    skip_spaces();
    if (at == line.size() || line[at] != '#') return std::nullopt;
    ++at;
    skip_spaces();
    if (at == line.size() || !is_letter(line[at])) return std::nullopt;
    size_t name_start = at;
    while (at < line.size() && (is_letter(line[at]) || is_digit(line[at]) || line[at] == '_' || line[at] == '-')) ++at;
    DirectiveLine directive{line.substr(name_start, at - name_start), {}};
    skip_spaces();
    if (at == line.size() || line[at] != '=') return std::nullopt;
    ++at;
    skip_spaces();
    size_t end = line.size();
    while (end > at && is_space(line[end - 1])) --end;
    directive.value = line.substr(at, end - at);
    if (directive.value.empty()) return std::nullopt;  // "# escape=" is a comment, as in Docker
    std::transform(directive.name.begin(), directive.name.end(), directive.name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return directive;
}

// Reads the parser directives at the top of the file. A line that looks like a directive
// but names an unknown one is a comment and ends the directives, as in Docker.
Directives read_directives(const std::vector<std::string>& lines, const std::string& file) {
    Directives result;
    std::set<std::string> seen;
    for (; result.first_line < lines.size(); ++result.first_line) {
        auto directive = parse_directive(lines[result.first_line]);
        if (!directive) break;
        const std::string& name = directive->name;
        const std::string& value = directive->value;
        int line = static_cast<int>(result.first_line) + 1;
        if (name != "escape" && name != "syntax" && name != "check") break;
        if (!seen.insert(name).second) {
            throw Error(at_line(file, line, "the parser directive '" + name + "' is given twice"),
                        "keep one '# " + name + "=' line at the top of the file");
        }
        if (name == "escape") {
            if (value != "\\" && value != "`") {
                throw Error(at_line(file, line, "invalid escape character '" + value + "'"),
                            "use '# escape=\\' or '# escape=`'");
            }
            result.escape = value.front();
        } else if (name == "syntax") {
            result.syntax = value;
        }
    }
    return result;
}

// Splits leading `--name[=value]` words off `rest`.
std::vector<std::string> take_flags(std::string& rest) {
    std::vector<std::string> flags;
    while (rest.rfind("--", 0) == 0) {
        size_t end = rest.find_first_of(" \t");
        flags.push_back(rest.substr(0, end));
        rest = end == std::string::npos ? std::string() : trim_left(rest.substr(end));
    }
    return flags;
}

void check_flags(const Instruction& instruction, const std::string& file) {
    const auto& allowed = instruction_flags().at(instruction.keyword);
    for (const auto& flag : instruction.flags) {
        std::string name = flag.substr(2, flag.find('=') == std::string::npos ? std::string::npos : flag.find('=') - 2);
        if (!allowed.count(name)) {
            throw Error(at_line(file, instruction.line, "unknown flag " + flag.substr(0, flag.find('=')) + " for " +
                                                            instruction.keyword),
                        reference_hint);
        }
    }
}

std::optional<std::vector<std::string>> parse_exec_form(const std::string& arguments) {
    if (arguments.empty() || arguments.front() != '[') return std::nullopt;
    try {
        auto json = nlohmann::json::parse(arguments);
        if (!json.is_array()) return std::nullopt;
        std::vector<std::string> words;
        for (const auto& item : json) {
            if (!item.is_string()) return std::nullopt;
            words.push_back(item.get<std::string>());
        }
        return words;
    } catch (const nlohmann::json::exception&) {
        // Docker runs text that is not a valid JSON array in shell form.
        return std::nullopt;
    }
}

// The words of a shell-form line as BuildKit splits it to look for here-documents: runs
// of characters between unquoted blanks, with quotes and backslashes kept as written.
std::vector<std::string> raw_shell_words(const std::string& line) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (size_t at = 0; at < line.size(); ++at) {
        char c = line[at];
        if (quote == 0 && is_space(c)) {
            if (in_word) words.push_back(std::move(word));
            word.clear();
            in_word = false;
            continue;
        }
        in_word = true;
        word += c;
        if (c == '\\' && quote != '\'' && at + 1 < line.size()) {
            word += line[++at];
        } else if (quote == 0 && (c == '\'' || c == '"')) {
            quote = c;
        } else if (c == quote) {
            quote = 0;
        }
    }
    if (in_word) words.push_back(std::move(word));
    return words;
}

// A word of raw_shell_words that opens a here-document, as BuildKit reads it: optional
// file descriptor digits, "<<", an optional "-" (strip leading tabs), then the delimiter,
// which holds no '<'. Quotes in the delimiter are removed and turn expansion off.
std::optional<Heredoc> parse_heredoc_word(const std::string& word) {
    size_t at = 0;
    while (at < word.size() && is_digit(word[at])) ++at;
    if (word.compare(at, 2, "<<") != 0) return std::nullopt;
    at += 2;
    Heredoc heredoc;
    heredoc.strip_tabs = at < word.size() && word[at] == '-';
    if (heredoc.strip_tabs) ++at;
    if (word.find('<', at) != std::string::npos) return std::nullopt;  // "<<<" is a here-string
    char quote = 0;
    for (; at < word.size(); ++at) {
        char c = word[at];
        if (quote == 0 && (c == '\'' || c == '"')) {
            quote = c;
            heredoc.expand = false;
        } else if (c == quote) {
            quote = 0;
        } else if (c == '\\' && quote != '\'' && at + 1 < word.size()) {
            heredoc.name += word[++at];
        } else {
            heredoc.name += c;
        }
    }
    if (heredoc.name.empty()) return std::nullopt;
    return heredoc;
}

// The here-documents a shell-form RUN, COPY or ADD line opens. Hand-written rather than a
// std::regex for the reason given at parse_directive.
std::vector<Heredoc> find_heredocs(const std::string& arguments) {
    std::vector<Heredoc> heredocs;
    for (const auto& word : raw_shell_words(arguments)) {
        if (auto heredoc = parse_heredoc_word(word)) heredocs.push_back(std::move(*heredoc));
    }
    return heredocs;
}

// Reads the bodies of `heredocs` from lines[next...], in order, and returns the index of
// the first line after the last delimiter.
size_t read_heredoc_bodies(std::vector<Heredoc>& heredocs, const std::vector<std::string>& lines, size_t next,
                           const std::string& file, int instruction_line) {
    for (auto& heredoc : heredocs) {
        bool closed = false;
        while (next < lines.size()) {
            std::string line = lines[next++];
            if (heredoc.strip_tabs) line.erase(0, line.find_first_not_of('\t') == std::string::npos ? line.size()
                                                                                                   : line.find_first_not_of('\t'));
            if (line == heredoc.name) {
                closed = true;
                break;
            }
            heredoc.content += line + "\n";
        }
        if (!closed) {
            throw Error(at_line(file, instruction_line, "the here-document <<" + printable(heredoc.name) + " is not terminated"),
                        "end it with a line holding only " + printable(heredoc.name));
        }
    }
    return next;
}

void check_arguments(const Instruction& instruction, const std::string& file) {
    if (instruction.arguments.empty() && instruction.heredocs.empty()) {
        throw Error(at_line(file, instruction.line, instruction.keyword + " needs at least one argument"), reference_hint);
    }
    if (instruction.keyword == "SHELL" && !instruction.exec_form) {
        throw Error(at_line(file, instruction.line, "SHELL needs the JSON form"), "e.g. SHELL [\"/bin/sh\", \"-c\"]");
    }
    if (instruction.keyword == "SHELL" && instruction.exec_form->empty()) {
        throw Error(at_line(file, instruction.line, "SHELL needs at least one word"), "e.g. SHELL [\"/bin/sh\", \"-c\"]");
    }
}

}  // namespace

std::optional<std::string> Instruction::flag(std::string_view name) const {
    std::string prefix = "--" + std::string(name);
    for (const auto& flag : flags) {
        if (flag == prefix) return std::string();
        if (flag.rfind(prefix + "=", 0) == 0) return flag.substr(prefix.size() + 1);
    }
    return std::nullopt;
}

std::string at_line(const std::string& file, int line, const std::string& message) {
    return file + ":" + std::to_string(line) + ": " + message;
}

Dockerfile parse_dockerfile(std::string_view text, const std::string& file) {
    if (auto nul = text.find('\0'); nul != std::string_view::npos) {
        auto line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(nul), '\n'));
        throw Error(at_line(file, line, "the file has a NUL byte"),
                    "a Dockerfile is text: remove the byte, or convert a UTF-16 file to UTF-8");
    }
    auto lines = split_lines(without_utf8_bom(text));
    Directives directives = read_directives(lines, file);
    Dockerfile dockerfile;
    dockerfile.file = file;
    dockerfile.escape = directives.escape;
    dockerfile.syntax = directives.syntax;

    size_t index = directives.first_line;
    while (index < lines.size()) {
        if (is_blank(lines[index]) || is_comment(lines[index])) {
            ++index;
            continue;
        }
        Instruction instruction;
        instruction.line = static_cast<int>(index) + 1;
        std::string logical = trim_left(lines[index++]);
        bool ended = strip_continuation(logical, dockerfile.escape);
        // Comment lines and blank lines inside a continued instruction are dropped.
        while (!ended && index < lines.size()) {
            std::string next = lines[index++];
            if (is_comment(next) || is_blank(next)) continue;
            ended = strip_continuation(next, dockerfile.escape);
            logical += next;
        }
        instruction.text = trim(logical);

        size_t keyword_end = instruction.text.find_first_of(" \t\v\f\r");
        instruction.keyword = upper(instruction.text.substr(0, keyword_end));
        if (!instruction_flags().count(instruction.keyword)) {
            throw Error(at_line(file, instruction.line, "unknown instruction " + instruction.text.substr(0, keyword_end)),
                        reference_hint);
        }
        std::string rest = keyword_end == std::string::npos ? std::string() : trim_left(instruction.text.substr(keyword_end));
        if (instruction.keyword != "ONBUILD") instruction.flags = take_flags(rest);
        instruction.arguments = trim(rest);
        check_flags(instruction, file);

        instruction.exec_form = parse_exec_form(instruction.arguments);
        bool takes_heredocs = instruction.keyword == "RUN" || instruction.keyword == "COPY" || instruction.keyword == "ADD";
        if (takes_heredocs && !instruction.exec_form) {
            instruction.heredocs = find_heredocs(instruction.arguments);
            index = read_heredoc_bodies(instruction.heredocs, lines, index, file, instruction.line);
        }
        check_arguments(instruction, file);
        dockerfile.instructions.push_back(std::move(instruction));
    }

    if (dockerfile.instructions.empty()) {
        throw Error(file + ": the file has no instructions", "start it with FROM IMAGE");
    }
    for (const auto& instruction : dockerfile.instructions) {
        if (instruction.keyword == "FROM") break;
        if (instruction.keyword != "ARG") {
            throw Error(at_line(file, instruction.line, instruction.keyword + " comes before the first FROM"),
                        "only ARG may come before FROM");
        }
    }
    if (std::none_of(dockerfile.instructions.begin(), dockerfile.instructions.end(),
                     [](const Instruction& instruction) { return instruction.keyword == "FROM"; })) {
        throw Error(file + ": the file has no FROM instruction", "start it with FROM IMAGE");
    }
    return dockerfile;
}

}  // namespace isolab::build
