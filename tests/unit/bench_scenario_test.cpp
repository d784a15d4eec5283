// Custom scenario files: the keys they take and the one-line errors for invalid ones.
#include <gtest/gtest.h>

#include "bench/scenario.hpp"
#include "runtime/core/error.hpp"

namespace isolab::bench {
namespace {

std::string error_of(const std::string& text) {
    try {
        parse_scenario(text, "scenario.yaml");
    } catch (const Error& error) {
        return error.what();
    }
    return "no error";
}

TEST(BenchScenario, ParsesHttpScenario) {
    auto workload = parse_scenario("name: site\n"
                                   "image: busybox\n"
                                   "command: [/bin/httpd, -f, -p, \"8080\"]\n"
                                   "readiness:\n"
                                   "  http: {port: 8080, path: /index.html}\n"
                                   "repetitions: 3\n"
                                   "instances: [1, 2, 4]\n",
                                   "scenario.yaml");
    EXPECT_EQ(workload.name, "site");
    EXPECT_EQ(workload.image, "busybox");
    EXPECT_EQ(workload.command, (std::vector<std::string>{"/bin/httpd", "-f", "-p", "8080"}));
    EXPECT_EQ(workload.readiness, ReadinessKind::http_path);
    EXPECT_EQ(workload.port, 8080);
    EXPECT_EQ(workload.http_path, "/index.html");
    EXPECT_EQ(workload.repetitions, 3);
    EXPECT_EQ(workload.instance_counts, (std::vector<int>{1, 2, 4}));
    EXPECT_TRUE(workload.stop_after_ready);
    EXPECT_NE(workload.readiness_rule().find("GET /index.html"), std::string::npos);
}

TEST(BenchScenario, ParsesJsonWithLogReadiness) {
    auto workload = parse_scenario(R"({"image": "busybox", "command": "echo up", "readiness": {"log": "up"}})",
                                   "dir/my-test.json");
    EXPECT_EQ(workload.name, "my-test");
    EXPECT_EQ(workload.command, (std::vector<std::string>{"/bin/sh", "-c", "echo up"}));
    EXPECT_EQ(workload.readiness, ReadinessKind::log_line);
    EXPECT_TRUE(workload.is_ready_line("up and running"));
    EXPECT_FALSE(workload.stop_after_ready);
    EXPECT_EQ(workload.repetitions, 0);
    EXPECT_TRUE(workload.instance_counts.empty());
}

TEST(BenchScenario, TcpReadinessDefaultsPath) {
    auto workload = parse_scenario("image: app\ncommand: [serve]\nreadiness: {tcp: 5432}\nstop_after_ready: false\n",
                                   "scenario.yaml");
    EXPECT_EQ(workload.readiness, ReadinessKind::tcp_port);
    EXPECT_EQ(workload.port, 5432);
    EXPECT_TRUE(workload.needs_published_port());
    EXPECT_FALSE(workload.stop_after_ready);
}

TEST(BenchScenario, MissingKeyNamed) {
    EXPECT_EQ(error_of("image: busybox\nreadiness: {log: x}\n"), "scenario.yaml: key 'command': missing");
    EXPECT_EQ(error_of("command: [x]\nreadiness: {log: x}\n"), "scenario.yaml: key 'image': missing");
}

TEST(BenchScenario, InvalidPortNamedWithLine) {
    EXPECT_EQ(error_of("image: busybox\ncommand: [x]\nreadiness:\n  http:\n    port: 99999\n"),
              "scenario.yaml:5: key 'readiness.http.port': expected a whole number from 1 to 65535, got \"99999\"");
    EXPECT_EQ(error_of("image: busybox\ncommand: [x]\nreadiness: {tcp: http}\n"),
              "scenario.yaml:3: key 'readiness.tcp': expected a whole number from 1 to 65535, got \"http\"");
}

TEST(BenchScenario, HttpWithoutPortRejected) {
    EXPECT_NE(error_of("image: b\ncommand: [x]\nreadiness: {http: {path: /}}\n").find("key 'readiness.http.port': missing"),
              std::string::npos);
}

TEST(BenchScenario, HttpPathMustBeAbsolute) {
    EXPECT_NE(error_of("image: b\ncommand: [x]\nreadiness: {http: {port: 80, path: index}}\n")
                  .find("key 'readiness.http.path': expected a path starting with /"),
              std::string::npos);
}

TEST(BenchScenario, TwoReadinessRulesRejected) {
    EXPECT_EQ(error_of("image: b\ncommand: [x]\nreadiness: {log: a, tcp: 80}\n"),
              "scenario.yaml:3: key 'readiness': expected exactly one of log, tcp or http");
}

TEST(BenchScenario, UnknownKeyRejected) {
    EXPECT_EQ(error_of("image: b\ncommand: [x]\nreadiness: {log: a}\nrepetition: 3\n"),
              "scenario.yaml:4: key 'repetition': unknown key; known keys here: command, image, instances, name, "
              "readiness, repetitions, stop_after_ready");
    EXPECT_NE(error_of("image: b\ncommand: [x]\nreadiness: {udp: 53}\n").find("key 'readiness.udp': unknown key"),
              std::string::npos);
}

TEST(BenchScenario, InstancesMustIncrease) {
    EXPECT_EQ(error_of("image: b\ncommand: [x]\nreadiness: {log: a}\ninstances: [1, 4, 2]\n"),
              "scenario.yaml:4: key 'instances': expected increasing counts");
    EXPECT_NE(error_of("image: b\ncommand: [x]\nreadiness: {log: a}\ninstances: [0]\n").find("key 'instances'"),
              std::string::npos);
}

TEST(BenchScenario, RepetitionsMustBePositive) {
    EXPECT_NE(error_of("image: b\ncommand: [x]\nreadiness: {log: a}\nrepetitions: 0\n").find("key 'repetitions'"),
              std::string::npos);
}

TEST(BenchScenario, EmptyCommandRejected) {
    EXPECT_NE(error_of("image: b\ncommand: []\nreadiness: {log: a}\n").find("key 'command'"), std::string::npos);
}

TEST(BenchScenario, InvalidYamlNamesLine) {
    auto error = error_of("image: b\ncommand: [x\n");
    EXPECT_EQ(error.rfind("scenario.yaml:", 0), 0U) << error;
    EXPECT_NE(error.find("invalid YAML"), std::string::npos) << error;
}

TEST(BenchScenario, NotAMapRejected) {
    EXPECT_NE(error_of("- a\n- b\n").find("scenario.yaml: expected a map"), std::string::npos);
}

TEST(BenchScenario, UnreadableFileNamed) {
    try {
        load_scenario("/nonexistent/scenario.yaml");
        FAIL() << "expected Error";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("/nonexistent/scenario.yaml"), std::string::npos);
    }
}

}  // namespace
}  // namespace isolab::bench
