#include <gtest/gtest.h>

#include "runtime/build/dockerfile.hpp"
#include "runtime/build/words.hpp"
#include "runtime/core/error.hpp"

namespace isolab::build {
namespace {

Dockerfile parse(const std::string& text) {
    return parse_dockerfile(text, "Dockerfile");
}

// Returns the error message of parsing `text`, or "" when it parses.
std::string parse_error(const std::string& text) {
    try {
        parse(text);
    } catch (const Error& error) {
        return error.what();
    }
    return "";
}

TEST(DockerfileParser, InstructionsAndLines) {
    auto file = parse("FROM busybox\n\n# a comment\nrun echo hi\nCMD [\"sh\"]\n");
    ASSERT_EQ(file.instructions.size(), 3u);
    EXPECT_EQ(file.instructions[0].keyword, "FROM");
    EXPECT_EQ(file.instructions[0].line, 1);
    EXPECT_EQ(file.instructions[1].keyword, "RUN");
    EXPECT_EQ(file.instructions[1].arguments, "echo hi");
    EXPECT_EQ(file.instructions[1].line, 4);
    EXPECT_FALSE(file.instructions[1].exec_form);
    ASSERT_TRUE(file.instructions[2].exec_form);
    EXPECT_EQ(*file.instructions[2].exec_form, std::vector<std::string>{"sh"});
}

TEST(DockerfileParser, HashInsideLineIsArgument) {
    auto file = parse("FROM busybox\nRUN echo a # not a comment\n");
    EXPECT_EQ(file.instructions[1].arguments, "echo a # not a comment");
}

TEST(DockerfileParser, LineContinuation) {
    auto file = parse("FROM busybox\nRUN echo one \\\n    two \\  \n  three\nENV A=1\n");
    ASSERT_EQ(file.instructions.size(), 3u);
    EXPECT_EQ(file.instructions[1].arguments, "echo one     two   three");
    EXPECT_EQ(file.instructions[2].line, 5);
}

TEST(DockerfileParser, CommentLinesInsideContinuationDropped) {
    auto file = parse("FROM busybox\nRUN echo one \\\n# dropped\n  # dropped too\n\n  && echo two\n");
    ASSERT_EQ(file.instructions.size(), 2u);
    EXPECT_EQ(file.instructions[1].arguments, "echo one   && echo two");
}

// A Dockerfile for Windows-style paths: the backtick continues lines, a backslash is an
// ordinary character, and comment lines inside the continued RUN are dropped.
TEST(DockerfileParser, BacktickEscapeWithCommentsInRun) {
    auto file = parse(
        "# escape=`\n"
        "\n"
        "FROM busybox\n"
        "RUN echo C:\\dir\\ `\n"
        "    # first step done\n"
        "    && echo second `\n"
        "  # another comment\n"
        "    && echo third\n"
        "COPY a\\b /x\n");
    EXPECT_EQ(file.escape, '`');
    ASSERT_EQ(file.instructions.size(), 3u);
    EXPECT_EQ(file.instructions[1].arguments, "echo C:\\dir\\     && echo second     && echo third");
    EXPECT_EQ(file.instructions[2].arguments, "a\\b /x");
    EXPECT_EQ(file.instructions[2].line, 9);
    // With the backtick as escape character, the backslash stays in substituted words.
    EXPECT_EQ(expand_words(file.instructions[2].arguments, {}, file.escape), (std::vector<std::string>{"a\\b", "/x"}));
}

TEST(DockerfileParser, BackslashDoesNotContinueWithBacktickEscape) {
    auto file = parse("# escape=`\nFROM busybox\nRUN echo a\\\nRUN echo b\n");
    ASSERT_EQ(file.instructions.size(), 3u);
    EXPECT_EQ(file.instructions[1].arguments, "echo a\\");
}

TEST(DockerfileParser, SyntaxDirectiveRecorded) {
    auto file = parse("# syntax=docker/dockerfile:1\n# escape=\\\nFROM busybox\n");
    EXPECT_EQ(file.syntax, "docker/dockerfile:1");
    EXPECT_EQ(file.escape, '\\');
}

TEST(DockerfileParser, DirectiveAfterCommentIsComment) {
    auto file = parse("# hello\n# escape=`\nFROM busybox\nRUN echo a \\\n b\n");
    EXPECT_EQ(file.escape, '\\');
    EXPECT_EQ(file.instructions[1].arguments, "echo a  b");
}

TEST(DockerfileParser, DirectiveAfterInstructionIsComment) {
    auto file = parse("FROM busybox\n# escape=`\nRUN echo a \\\n b\n");
    EXPECT_EQ(file.escape, '\\');
    ASSERT_EQ(file.instructions.size(), 2u);
}

TEST(DockerfileParser, RepeatedDirectiveRejected) {
    EXPECT_EQ(parse_error("# escape=`\n# escape=\\\nFROM busybox\n"),
              "Dockerfile:2: the parser directive 'escape' is given twice");
}

TEST(DockerfileParser, DirectiveBlanksAndCase) {
    auto file = parse("  #  Escape =  `  \nFROM busybox\n");
    EXPECT_EQ(file.escape, '`');
}

TEST(DockerfileParser, DirectiveLookalikesAreComments) {
    auto no_equals = parse("# escape `\n# escape=`\nFROM busybox\n");
    EXPECT_EQ(no_equals.escape, '\\');
    auto digit_first = parse("# 1escape=`\n# escape=`\nFROM busybox\n");
    EXPECT_EQ(digit_first.escape, '\\');
}

TEST(DockerfileParser, LongDirectiveLineParses) {
    std::string value(60000, 'a');
    auto file = parse("# syntax=" + value + "\nFROM busybox\n");
    EXPECT_EQ(file.syntax, value);
    ASSERT_EQ(file.instructions.size(), 1u);
}

TEST(DockerfileParser, InvalidEscapeRejected) {
    EXPECT_EQ(parse_error("# escape=x\nFROM busybox\n"), "Dockerfile:1: invalid escape character 'x'");
}

TEST(DockerfileParser, UnknownInstructionNamesLine) {
    EXPECT_EQ(parse_error("FROM busybox\n\nFETCH http://x\n"), "Dockerfile:3: unknown instruction FETCH");
    EXPECT_EQ(parse_error(std::string("FROM busybox\n\nRUN a\0b\n", 22)), "Dockerfile:3: the file has a NUL byte");
}

TEST(DockerfileParser, MissingArgumentsNamesLine) {
    EXPECT_EQ(parse_error("FROM busybox\nRUN\n"), "Dockerfile:2: RUN needs at least one argument");
}

TEST(DockerfileParser, InstructionBeforeFromRejected) {
    EXPECT_EQ(parse_error("ARG V=1\nRUN echo\nFROM busybox\n"), "Dockerfile:2: RUN comes before the first FROM");
}

TEST(DockerfileParser, EmptyFileRejected) {
    EXPECT_EQ(parse_error("# only a comment\n\n"), "Dockerfile: the file has no instructions");
}

TEST(DockerfileParser, ArgBeforeFromAllowed) {
    auto file = parse("ARG BASE=busybox\nFROM ${BASE}\n");
    ASSERT_EQ(file.instructions.size(), 2u);
    EXPECT_EQ(file.instructions[0].keyword, "ARG");
}

TEST(DockerfileParser, UnknownFlagRejected) {
    EXPECT_EQ(parse_error("FROM busybox\nCOPY --owner=1 a /b\n"), "Dockerfile:2: unknown flag --owner for COPY");
}

TEST(DockerfileParser, FlagsSplitFromArguments) {
    auto file = parse("FROM busybox\nCOPY --from=build --chown=1:2 /a /b\n");
    const auto& copy = file.instructions[1];
    EXPECT_EQ(copy.flags, (std::vector<std::string>{"--from=build", "--chown=1:2"}));
    EXPECT_EQ(copy.flag("from"), "build");
    EXPECT_FALSE(copy.flag("chmod"));
    EXPECT_EQ(copy.arguments, "/a /b");
}

TEST(DockerfileParser, InvalidJsonIsShellForm) {
    auto file = parse("FROM busybox\nCMD [\"sh\", -c]\n");
    EXPECT_FALSE(file.instructions[1].exec_form);
    EXPECT_EQ(file.instructions[1].arguments, "[\"sh\", -c]");
}

TEST(DockerfileParser, ShellNeedsJson) {
    EXPECT_EQ(parse_error("FROM busybox\nSHELL /bin/bash -c\n"), "Dockerfile:2: SHELL needs the JSON form");
}

TEST(DockerfileParser, RunHeredoc) {
    auto file = parse("FROM busybox\nRUN <<EOF\necho one\n# kept: inside a here-document\necho two\nEOF\nCMD x\n");
    ASSERT_EQ(file.instructions.size(), 3u);
    const auto& run = file.instructions[1];
    ASSERT_EQ(run.heredocs.size(), 1u);
    EXPECT_EQ(run.heredocs[0].name, "EOF");
    EXPECT_EQ(run.heredocs[0].content, "echo one\n# kept: inside a here-document\necho two\n");
    EXPECT_TRUE(run.heredocs[0].expand);
    EXPECT_EQ(file.instructions[2].line, 7);
}

TEST(DockerfileParser, QuotedAndTabStrippedHeredocs) {
    auto file = parse("FROM busybox\nCOPY <<'A' <<-B /dst/\n$HOME\nA\n\tindented\n\tB\n");
    const auto& copy = file.instructions[1];
    ASSERT_EQ(copy.heredocs.size(), 2u);
    EXPECT_FALSE(copy.heredocs[0].expand);
    EXPECT_EQ(copy.heredocs[0].content, "$HOME\n");
    EXPECT_TRUE(copy.heredocs[1].strip_tabs);
    EXPECT_EQ(copy.heredocs[1].content, "indented\n");
}

TEST(DockerfileParser, LongHeredocNameParses) {
    std::string name(60000, 'E');
    auto file = parse("FROM busybox\nRUN <<" + name + "\necho hi\n" + name + "\n");
    ASSERT_EQ(file.instructions.size(), 2u);
    ASSERT_EQ(file.instructions[1].heredocs.size(), 1u);
    EXPECT_EQ(file.instructions[1].heredocs[0].name, name);
    EXPECT_EQ(file.instructions[1].heredocs[0].content, "echo hi\n");
}

TEST(DockerfileParser, LongUnterminatedHeredocNameCut) {
    std::string message = parse_error("FROM busybox\nRUN <<" + std::string(60000, 'E') + "\necho\n");
    EXPECT_NE(message.find("is not terminated"), std::string::npos) << message.substr(0, 300);
    EXPECT_LT(message.size(), 400u);
}

TEST(DockerfileParser, HereStringIsNoHeredoc) {
    auto file = parse("FROM busybox\nRUN cat <<<hello\nCMD x\n");
    ASSERT_EQ(file.instructions.size(), 3u);
    EXPECT_TRUE(file.instructions[1].heredocs.empty());
    EXPECT_EQ(file.instructions[1].arguments, "cat <<<hello");
}

TEST(DockerfileParser, QuotedMarkerIsNoHeredoc) {
    auto file = parse("FROM busybox\nRUN echo \"<<EOF\" '<<B'\nRUN echo after\n");
    ASSERT_EQ(file.instructions.size(), 3u);
    EXPECT_TRUE(file.instructions[1].heredocs.empty());
}

TEST(DockerfileParser, HeredocDelimiterIsAShellWord) {
    auto file = parse("FROM busybox\nRUN 3<<123 <<E\"O\"F <<'one two' cat\na\n123\nb\nEOF\nc\none two\n");
    const auto& run = file.instructions[1];
    ASSERT_EQ(run.heredocs.size(), 3u);
    EXPECT_EQ(run.heredocs[0].name, "123");
    EXPECT_TRUE(run.heredocs[0].expand);
    EXPECT_EQ(run.heredocs[1].name, "EOF");
    EXPECT_FALSE(run.heredocs[1].expand);
    EXPECT_EQ(run.heredocs[2].name, "one two");
    EXPECT_EQ(run.heredocs[2].content, "c\n");
}

TEST(DockerfileParser, ByteOrderMarkDropped) {
    auto file = parse("\xEF\xBB\xBF# escape=`\nFROM busybox\n");
    EXPECT_EQ(file.escape, '`');
    ASSERT_EQ(file.instructions.size(), 1u);
}

TEST(DockerfileParser, FormFeedIsBlank) {
    auto file = parse("\fFROM\fbusybox\n");
    ASSERT_EQ(file.instructions.size(), 1u);
    EXPECT_EQ(file.instructions[0].keyword, "FROM");
    EXPECT_EQ(file.instructions[0].arguments, "busybox");
}

TEST(DockerfileParser, EmptyDirectiveValueIsComment) {
    auto file = parse("# escape=\n# escape=`\nFROM busybox\n");
    EXPECT_EQ(file.escape, '\\');
}

TEST(DockerfileParser, UnterminatedHeredocRejected) {
    EXPECT_EQ(parse_error("FROM busybox\nRUN <<EOF\necho\n"), "Dockerfile:2: the here-document <<EOF is not terminated");
}

TEST(DockerfileParser, CrLfLineEnds) {
    auto file = parse("FROM busybox\r\nRUN echo a \\\r\n b\r\n");
    EXPECT_EQ(file.instructions[1].arguments, "echo a  b");
}

TEST(WordExpansion, SimpleAndBraced) {
    Variables variables{{"NAME", "web"}, {"EMPTY", ""}};
    EXPECT_EQ(expand_word("$NAME-${NAME}_x", variables, '\\'), "web-web_x");
    EXPECT_EQ(expand_word("$MISSING.", variables, '\\'), ".");
    EXPECT_EQ(expand_word("cost $5", variables, '\\'), "cost $5");
}

TEST(WordExpansion, Modifiers) {
    Variables variables{{"SET", "v"}, {"EMPTY", ""}};
    EXPECT_EQ(expand_word("${SET:-d}", variables, '\\'), "v");
    EXPECT_EQ(expand_word("${EMPTY:-d}", variables, '\\'), "d");
    EXPECT_EQ(expand_word("${EMPTY-d}", variables, '\\'), "");
    EXPECT_EQ(expand_word("${UNSET-d}", variables, '\\'), "d");
    EXPECT_EQ(expand_word("${SET:+alt}", variables, '\\'), "alt");
    EXPECT_EQ(expand_word("${EMPTY:+alt}", variables, '\\'), "");
    EXPECT_EQ(expand_word("${EMPTY+alt}", variables, '\\'), "alt");
    EXPECT_EQ(expand_word("${UNSET:-${SET}x}", variables, '\\'), "vx");
    EXPECT_THROW(expand_word("${UNSET:?needed}", variables, '\\'), Error);
    EXPECT_THROW(expand_word("${SET%x}", variables, '\\'), Error);
    EXPECT_THROW(expand_word("${SET", variables, '\\'), Error);
}

TEST(WordExpansion, EscapedDollarStaysLiteral) {
    Variables variables{{"A", "x"}};
    EXPECT_EQ(expand_word("\\$A", variables, '\\'), "$A");
    EXPECT_EQ(expand_word("`$A", variables, '`'), "$A");
    EXPECT_EQ(expand_word("\"\\$A\"", variables, '\\'), "$A");
}

TEST(WordExpansion, Quotes) {
    Variables variables{{"A", "x y"}};
    EXPECT_EQ(expand_word("'$A'", variables, '\\'), "$A");
    EXPECT_EQ(expand_word("\"$A\"", variables, '\\'), "x y");
    EXPECT_EQ(expand_word("\"a\\b\"", variables, '\\'), "a\\b");
    EXPECT_THROW(expand_word("\"open", variables, '\\'), Error);
}

TEST(WordExpansion, SplitsWords) {
    Variables variables{{"FILES", "a b"}};
    EXPECT_EQ(expand_words("$FILES /dst/", variables, '\\'), (std::vector<std::string>{"a", "b", "/dst/"}));
    EXPECT_EQ(expand_words("\"$FILES\" /dst/", variables, '\\'), (std::vector<std::string>{"a b", "/dst/"}));
    EXPECT_EQ(expand_words("A=\"1 2\" B=3", variables, '\\'), (std::vector<std::string>{"A=1 2", "B=3"}));
    EXPECT_EQ(expand_words("a\\ b ''", variables, '\\'), (std::vector<std::string>{"a b", ""}));
}

}  // namespace
}  // namespace isolab::build
