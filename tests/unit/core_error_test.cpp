// Error's one-line form and printable(), which makes values from files safe to show in it.
#include <gtest/gtest.h>

#include <string>

#include "runtime/core/error.hpp"

namespace isolab {
namespace {

TEST(Printable, PlainTextUnchanged) {
    EXPECT_EQ(printable("web-1.example_2"), "web-1.example_2");
    EXPECT_EQ(printable(""), "");
}

TEST(Printable, ControlCharactersEscaped) {
    EXPECT_EQ(printable(std::string("a\0b", 3)), "a\\x00b");
    EXPECT_EQ(printable("a\nb\tc\x1b[0m\x7f"), "a\\nb\\tc\\x1b[0m\\x7f");
}

TEST(Printable, LongTextCut) {
    EXPECT_EQ(printable(std::string(10, 'x'), 4), "xxxx... (6 more bytes)");
    EXPECT_EQ(printable(std::string(4, 'x'), 4), "xxxx");
}

TEST(Printable, NonAsciiBytesKept) {
    EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9");
}

TEST(Error, OneLineAddsHint) {
    EXPECT_EQ(Error("bad value", "use another").one_line(), "bad value (use another)");
    EXPECT_EQ(Error("bad value").one_line(), "bad value");
}

// libvirt and QEMU report over several lines; isolab prints one.
TEST(Error, PrintedLineJoinsMessageLines) {
    Error error("cannot start: first\r\n\nsecond  \n", "do this\nor that");
    EXPECT_EQ(error_line(error), "cannot start: first; second (do this; or that)");
    EXPECT_EQ(error_line(Error("value 'a\\nb'")), "value 'a\\nb'") << "an escaped value stays as it is";
}

}  // namespace
}  // namespace isolab
