#include <gtest/gtest.h>

#include <string>

#include "runtime/build/dockerignore.hpp"
#include "runtime/core/error.hpp"

namespace isolab::build {
namespace {

TEST(Dockerignore, EmptyExcludesNothing) {
    IgnoreRules rules("");
    EXPECT_TRUE(rules.empty());
    EXPECT_FALSE(rules.excluded("a"));
}

TEST(Dockerignore, CommentsAndBlankLinesSkipped) {
    IgnoreRules rules("# secret\n\n   \n");
    EXPECT_TRUE(rules.empty());
    EXPECT_FALSE(rules.excluded("secret"));
}

TEST(Dockerignore, NameMatchesItsSubtree) {
    IgnoreRules rules("build\n");
    EXPECT_TRUE(rules.excluded("build"));
    EXPECT_TRUE(rules.excluded("build/out/x.o"));
    EXPECT_FALSE(rules.excluded("builder"));
    EXPECT_FALSE(rules.excluded("src/build"));
}

TEST(Dockerignore, StarStaysInOneComponent) {
    IgnoreRules rules("*.log\n");
    EXPECT_TRUE(rules.excluded("a.log"));
    EXPECT_FALSE(rules.excluded("logs/a.log"));
    IgnoreRules nested("*/*.tmp\n");
    EXPECT_TRUE(nested.excluded("a/b.tmp"));
    EXPECT_FALSE(nested.excluded("b.tmp"));
    EXPECT_FALSE(nested.excluded("a/b/c.tmp"));
}

TEST(Dockerignore, DoubleStarCrossesDirectories) {
    IgnoreRules rules("**/*.go\n");
    EXPECT_TRUE(rules.excluded("main.go"));
    EXPECT_TRUE(rules.excluded("cmd/tool/main.go"));
    EXPECT_FALSE(rules.excluded("main.goo"));
    IgnoreRules middle("a/**/z\n");
    EXPECT_TRUE(middle.excluded("a/z"));
    EXPECT_TRUE(middle.excluded("a/b/c/z"));
}

TEST(Dockerignore, QuestionMarkAndClass) {
    IgnoreRules rules("file?.txt\n[ab]*.c\n[^x]y\n");
    EXPECT_TRUE(rules.excluded("file1.txt"));
    EXPECT_FALSE(rules.excluded("file10.txt"));
    EXPECT_TRUE(rules.excluded("b.c"));
    EXPECT_FALSE(rules.excluded("c.c"));
    EXPECT_TRUE(rules.excluded("ay"));
    EXPECT_FALSE(rules.excluded("xy"));
}

TEST(Dockerignore, ExceptionReincludes) {
    IgnoreRules rules("*.md\n!README.md\n");
    EXPECT_TRUE(rules.excluded("CHANGES.md"));
    EXPECT_FALSE(rules.excluded("README.md"));
}

TEST(Dockerignore, LastMatchWins) {
    IgnoreRules rules("!README.md\n*.md\n");
    EXPECT_TRUE(rules.excluded("README.md"));
    IgnoreRules again("docs\n!docs/keep.txt\ndocs/keep.txt\n");
    EXPECT_TRUE(again.excluded("docs/keep.txt"));
}

TEST(Dockerignore, LeadingSlashAndDotCleaned) {
    IgnoreRules rules("/secret\n./tmp/\n");
    EXPECT_TRUE(rules.excluded("secret"));
    EXPECT_TRUE(rules.excluded("tmp/x"));
}

TEST(Dockerignore, EscapedWildcardIsLiteral) {
    IgnoreRules rules("a\\*b\n");
    EXPECT_TRUE(rules.excluded("a*b"));
    EXPECT_FALSE(rules.excluded("axb"));
}

TEST(Dockerignore, ExcludedDirectoryWalkedForException) {
    IgnoreRules rules("docs\n!docs/keep.txt\n");
    EXPECT_TRUE(rules.excluded("docs"));
    EXPECT_TRUE(rules.may_include_below("docs"));
    EXPECT_FALSE(rules.may_include_below("src"));
    EXPECT_FALSE(rules.excluded("docs/keep.txt"));
}

TEST(Dockerignore, EscapedLetterIsLiteral) {
    // `\d` is the letter d, as in Go's filepath.Match, not a regex digit class.
    IgnoreRules rules("a\\d\n");
    EXPECT_TRUE(rules.excluded("ad"));
    EXPECT_FALSE(rules.excluded("a1"));
}

TEST(Dockerignore, TrailingBackslashRejected) {
    EXPECT_THROW(IgnoreRules("*li\\\n"), Error);
}

TEST(Dockerignore, ReversedRangeRejected) {
    EXPECT_THROW(IgnoreRules("[z-a].txt\n"), Error);
}

TEST(Dockerignore, RangesNegationAndLiteralDash) {
    IgnoreRules rules("[a-c0-9]x\n[^a-y]z\n[\\-+]w\n");
    EXPECT_TRUE(rules.excluded("bx"));
    EXPECT_TRUE(rules.excluded("7x"));
    EXPECT_FALSE(rules.excluded("dx"));
    EXPECT_TRUE(rules.excluded("zz"));
    EXPECT_FALSE(rules.excluded("mz"));
    EXPECT_TRUE(rules.excluded("-w"));
    EXPECT_TRUE(rules.excluded("+w"));
    EXPECT_FALSE(rules.excluded("aw"));
}

// Go's filepath.Match, which Docker checks patterns with, rejects these classes.
TEST(Dockerignore, MalformedClassesRejected) {
    for (const char* pattern : {"a[]b", "[]]", "[^]", "[a-]*", "[-a]", "[a", "[\\"}) {
        EXPECT_THROW(IgnoreRules(std::string(pattern) + "\n"), Error) << pattern;
    }
}

TEST(Dockerignore, EscapesInsideClass) {
    IgnoreRules rules("[\\]\\-]x\n");
    EXPECT_TRUE(rules.excluded("]x"));
    EXPECT_TRUE(rules.excluded("-x"));
    EXPECT_FALSE(rules.excluded("\\x"));
}

TEST(Dockerignore, ByteOrderMarkDropped) {
    IgnoreRules rules("\xEF\xBB\xBF" "foo\n");
    EXPECT_TRUE(rules.excluded("foo"));
}

TEST(Dockerignore, ErrorShowsControlCharacters) {
    try {
        IgnoreRules rules("a\x01[\n");
        FAIL() << "the pattern was accepted";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("'a\\x01['"), std::string::npos) << error.what();
    }
}

TEST(Dockerignore, LoneDoubleStarMatchesAll) {
    IgnoreRules rules("**\n!keep/**/*.txt\n");
    EXPECT_TRUE(rules.excluded("a"));
    EXPECT_TRUE(rules.excluded("a/b/c"));
    EXPECT_FALSE(rules.excluded("keep/x.txt"));
    EXPECT_FALSE(rules.excluded("keep/a/b/x.txt"));
    EXPECT_TRUE(rules.excluded("keep/x.md"));
}

// A regex engine backtracks exponentially on this pattern (found by fuzz_dockerignore);
// the matcher must return, with the expected result.
TEST(Dockerignore, ManyStarsDoNotBacktrack) {
    std::string stars(40, '*');
    IgnoreRules rules(stars + "!" + stars + "\n");
    std::string path(60, '*');
    EXPECT_FALSE(rules.excluded(path));
    EXPECT_TRUE(rules.excluded(path + "!"));
    EXPECT_TRUE(rules.excluded(path + "!x/y"));
}

// libstdc++'s regex matcher (GCC 12) recurses per character: with a path of this length
// (40 KB) it overflowed an 8 MiB stack.
TEST(Dockerignore, LongPathMatches) {
    IgnoreRules rules("**/*.o\n");
    std::string deep;
    for (int i = 0; i < 20000; ++i) deep += "d/";
    EXPECT_TRUE(rules.excluded(deep + "x.o"));
    EXPECT_FALSE(rules.excluded(deep + "x.c"));
}

}  // namespace
}  // namespace isolab::build
