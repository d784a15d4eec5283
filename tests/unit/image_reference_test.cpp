#include <gtest/gtest.h>

#include "runtime/core/error.hpp"
#include "runtime/image/reference.hpp"
#include "runtime/image/store.hpp"

namespace isolab::image {
namespace {

TEST(Reference, AddsLatestTag) {
    EXPECT_EQ(normalize_reference("busybox"), "busybox:latest");
    EXPECT_EQ(normalize_reference("busybox:1.35"), "busybox:1.35");
}

TEST(Reference, AcceptsPathsAndDomains) {
    EXPECT_EQ(normalize_reference("lab/web"), "lab/web:latest");
    EXPECT_EQ(normalize_reference("lab/web_app-2:v1.0_rc-3"), "lab/web_app-2:v1.0_rc-3");
    EXPECT_EQ(normalize_reference("localhost:5000/web"), "localhost:5000/web:latest");
    EXPECT_EQ(normalize_reference("registry.example.org/team/web:Stable"), "registry.example.org/team/web:Stable");
    EXPECT_EQ(normalize_reference("a.b__c"), "a.b__c:latest");
}

TEST(Reference, SplitsNameAndTag) {
    auto parsed = parse_reference("localhost:5000/lab/web:v2");
    EXPECT_EQ(parsed.name, "localhost:5000/lab/web");
    EXPECT_EQ(parsed.tag, "v2");
}

TEST(Reference, RejectsInvalid) {
    for (const char* text : {"", "BusyBox", "busybox:", ":latest", "bus box", "busybox/", "/busybox", "lab//web",
                             "-web", "web-", "web..app", "busybox@sha256:abc", "busybox:-tag", "busybox:a/b",
                             "web:tag:again"}) {
        EXPECT_THROW(normalize_reference(text), Error) << "'" << text << "'";
    }
}

TEST(Reference, RejectsLongTag) {
    EXPECT_NO_THROW(normalize_reference("web:" + std::string(128, 'a')));
    EXPECT_THROW(normalize_reference("web:" + std::string(129, 'a')), Error);
}

TEST(Reference, UppercaseMessageSaysLowercase) {
    try {
        normalize_reference("Lab/web");
        FAIL() << "an uppercase name was accepted";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("lowercase"), std::string::npos) << error.what();
        EXPECT_FALSE(error.hint().empty());
    }
}

TEST(Reference, RecognisesIds) {
    EXPECT_TRUE(looks_like_id("0123abcd"));
    EXPECT_TRUE(looks_like_id("sha256:0123abcd"));
    EXPECT_TRUE(looks_like_id(std::string(64, 'f')));
    EXPECT_FALSE(looks_like_id(std::string(65, 'f')));
    EXPECT_FALSE(looks_like_id("busybox"));
    EXPECT_FALSE(looks_like_id(""));
}

}  // namespace
}  // namespace isolab::image
