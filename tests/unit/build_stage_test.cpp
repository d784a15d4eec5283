#include <gtest/gtest.h>

#include "runtime/build/dockerfile.hpp"
#include "runtime/build/stage.hpp"
#include "runtime/core/error.hpp"

namespace isolab::build {
namespace {

// Applies the instructions after the FROM line of `text` to a fresh stage.
StageState apply_all(const std::string& text, StageState stage = {}) {
    auto file = parse_dockerfile("FROM scratch\n" + text, "Dockerfile");
    for (size_t i = 1; i < file.instructions.size(); ++i) {
        apply_config_instruction(stage, file.instructions[i], file.escape, file.file);
    }
    return stage;
}

std::string apply_error(const std::string& text) {
    try {
        apply_all(text);
    } catch (const Error& error) {
        return error.what();
    }
    return "";
}

TEST(BuildStage, EnvPairsAndLegacyForm) {
    auto stage = apply_all("ENV A=1 B=\"two words\"\nENV C $A-${B}\nENV A=3\n");
    EXPECT_EQ(stage.config.env, (std::vector<std::string>{"A=3", "B=two words", "C=1-two words"}));
}

TEST(BuildStage, EnvOverridesArgInVariables) {
    StageState stage;
    stage.args = {{"V", "from-arg"}, {"ONLY_ARG", "x"}};
    stage = apply_all("ENV V=from-env\n", stage);
    EXPECT_EQ(stage.variables().at("V"), "from-env");
    EXPECT_EQ(stage.run_environment(), (std::vector<std::string>{"V=from-env", "ONLY_ARG=x"}));
}

TEST(BuildStage, CmdShellAndExecForms) {
    auto stage = apply_all("CMD echo $HOME\n");
    EXPECT_EQ(stage.config.cmd, (std::vector<std::string>{"/bin/sh", "-c", "echo $HOME"}));
    stage = apply_all("SHELL [\"/bin/ash\", \"-eo\"]\nCMD run it\n");
    EXPECT_EQ(stage.config.cmd, (std::vector<std::string>{"/bin/ash", "-eo", "run it"}));
    EXPECT_EQ(stage.config.shell, (std::vector<std::string>{"/bin/ash", "-eo"}));
}

TEST(BuildStage, EntrypointDropsInheritedCmd) {
    StageState stage;
    stage.config.cmd = {"sh"};
    stage = apply_all("ENTRYPOINT [\"/bin/app\"]\n", stage);
    EXPECT_TRUE(stage.config.cmd.empty());
    stage = apply_all("CMD [\"--flag\"]\nENTRYPOINT [\"/bin/app\"]\n");
    EXPECT_EQ(stage.config.cmd, std::vector<std::string>{"--flag"});
}

TEST(BuildStage, ExposeExpandsRangesAndProtocols) {
    StageState with_arg;
    with_arg.args = {{"P", "8080"}};
    auto stage = apply_all("EXPOSE $P 53/UDP 7000-7001\n", with_arg);
    EXPECT_EQ(stage.config.exposed_ports, (std::vector<std::string>{"53/udp", "7000/tcp", "7001/tcp", "8080/tcp"}));
    EXPECT_EQ(apply_error("EXPOSE 70000\n"), "Dockerfile:2: invalid port '70000'");
    EXPECT_EQ(apply_error("EXPOSE 80/icmp\n"), "Dockerfile:2: invalid protocol in port '80/icmp'");
}

TEST(BuildStage, VolumeLabelUserStopsignal) {
    auto stage = apply_all("VOLUME [\"/data\", \"/logs\"]\nVOLUME /cache\nLABEL a=1 \"b c\"=2\nUSER app:app\nSTOPSIGNAL SIGINT\n");
    EXPECT_EQ(stage.config.volumes, (std::vector<std::string>{"/cache", "/data", "/logs"}));
    EXPECT_EQ(stage.config.labels.at("a"), "1");
    EXPECT_EQ(stage.config.labels.at("b c"), "2");
    EXPECT_EQ(stage.config.user, "app:app");
    EXPECT_EQ(stage.config.stop_signal, "SIGINT");
    EXPECT_EQ(apply_error("LABEL novalue\n"), "Dockerfile:2: LABEL needs NAME=value");
    EXPECT_EQ(apply_error("STOPSIGNAL SIGFOO\n"), "Dockerfile:2: invalid STOPSIGNAL 'SIGFOO'");
    EXPECT_EQ(apply_error("STOPSIGNAL 99\n"), "Dockerfile:2: invalid STOPSIGNAL '99'");
    // As in Docker, the name is read without regard to case.
    EXPECT_EQ(apply_error("STOPSIGNAL sigterm\n"), "");
}

TEST(BuildStage, Healthcheck) {
    auto stage = apply_all("HEALTHCHECK --interval=1m30s --timeout=5s --retries=3 CMD [\"/bin/check\", \"-q\"]\n");
    ASSERT_TRUE(stage.config.healthcheck);
    EXPECT_EQ(stage.config.healthcheck->test, (std::vector<std::string>{"CMD", "/bin/check", "-q"}));
    EXPECT_EQ(stage.config.healthcheck->interval, 90'000'000'000LL);
    EXPECT_EQ(stage.config.healthcheck->timeout, 5'000'000'000LL);
    EXPECT_EQ(stage.config.healthcheck->retries, 3);
    stage = apply_all("HEALTHCHECK NONE\n");
    EXPECT_EQ(stage.config.healthcheck->test, std::vector<std::string>{"NONE"});
    EXPECT_EQ(apply_error("HEALTHCHECK --interval=soon CMD x\n"), "Dockerfile:2: invalid duration 'soon': a number is missing");
    EXPECT_EQ(apply_error("HEALTHCHECK wget x\n"), "Dockerfile:2: HEALTHCHECK needs NONE or CMD COMMAND, not 'wget'");
}

TEST(BuildStage, OnbuildRecordedAndChecked) {
    auto stage = apply_all("ONBUILD RUN make\nONBUILD COPY . /src\n");
    EXPECT_EQ(stage.config.on_build, (std::vector<std::string>{"RUN make", "COPY . /src"}));
    EXPECT_EQ(apply_error("ONBUILD FROM x\n"), "Dockerfile:2: FROM is not allowed in ONBUILD");
}

TEST(BuildStage, HealthcheckShellFormAndDefaults) {
    auto stage = apply_all("HEALTHCHECK --retries=0 --start-period=1.5s --start-interval=200ms CMD wget -q localhost || exit 1\n");
    ASSERT_TRUE(stage.config.healthcheck);
    EXPECT_EQ(stage.config.healthcheck->test, (std::vector<std::string>{"CMD-SHELL", "wget -q localhost || exit 1"}));
    EXPECT_EQ(stage.config.healthcheck->retries, 0);
    EXPECT_EQ(stage.config.healthcheck->interval, 0);
    EXPECT_EQ(stage.config.healthcheck->start_period, 1'500'000'000LL);
    EXPECT_EQ(stage.config.healthcheck->start_interval, 200'000'000LL);
}

TEST(BuildStage, HealthcheckRejectsBadArguments) {
    EXPECT_EQ(apply_error("HEALTHCHECK --interval=500us CMD true\n"),
              "Dockerfile:2: invalid --interval '500us': it must be 0 or at least 1ms");
    EXPECT_EQ(apply_error("HEALTHCHECK --timeout=-1s CMD true\n"),
              "Dockerfile:2: invalid --timeout '-1s': it must be 0 or at least 1ms");
    EXPECT_EQ(apply_error("HEALTHCHECK --retries=-1 CMD true\n"), "Dockerfile:2: invalid --retries '-1'");
    EXPECT_EQ(apply_error("HEALTHCHECK CMD\n"), "Dockerfile:2: missing command after HEALTHCHECK CMD");
    EXPECT_EQ(apply_error("HEALTHCHECK NONE x\n"), "Dockerfile:2: HEALTHCHECK NONE takes no arguments");
    EXPECT_EQ(apply_error("HEALTHCHECK RUN true\n"), "Dockerfile:2: HEALTHCHECK needs NONE or CMD COMMAND, not 'RUN'");
}

}  // namespace
}  // namespace isolab::build
