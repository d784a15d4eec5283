// Compose file loading: interpolation, the service keys, merging of -f files, project
// names, and errors that name the file, line and key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "runtime/compose/project.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"

namespace isolab::compose {
namespace {

namespace fs = std::filesystem;

container::EnvironmentLookup lookup_from(std::map<std::string, std::string> values) {
    return [values](const std::string& name) -> std::optional<std::string> {
        auto found = values.find(name);
        if (found == values.end()) return std::nullopt;
        return found->second;
    };
}

// A project folder under /tmp named `name`, removed by the destructor.
class ProjectDir {
public:
    explicit ProjectDir(const std::string& name = "My_App") {
        base_ = fs::temp_directory_path() / ("isolab-compose-test-" + random_hex_id().substr(0, 8));
        path_ = base_ / name;
        fs::create_directories(path_);
    }
    ~ProjectDir() { fs::remove_all(base_); }

    void write(const std::string& file, const std::string& text) const { std::ofstream(path_ / file) << text; }
    const fs::path& path() const { return path_; }

    Project load(std::map<std::string, std::string> environment = {}, std::vector<fs::path> files = {}) const {
        LoadOptions options;
        options.files = std::move(files);
        options.working_dir = path_;
        options.environment = lookup_from(std::move(environment));
        return load_project(options);
    }

    // The message of the Error that loading throws; fails the test when none is thrown.
    std::string load_error(std::map<std::string, std::string> environment = {}) const {
        try {
            load(std::move(environment));
        } catch (const Error& error) {
            return error.what();
        }
        ADD_FAILURE() << "loading was expected to fail";
        return "";
    }

private:
    fs::path base_;
    fs::path path_;
};

TEST(ComposeInterpolate, PlainAndBraced) {
    auto lookup = lookup_from({{"A", "1"}, {"B_2", "two"}});

    EXPECT_EQ(interpolate("$A-${B_2}", lookup, "f:1"), "1-two");
    EXPECT_EQ(interpolate("${MISSING}x", lookup, "f:1"), "x");
}

TEST(ComposeInterpolate, DoubleDollarIsLiteral) {
    EXPECT_EQ(interpolate("echo $$HOME $$", lookup_from({{"HOME", "/root"}}), "f:1"), "echo $HOME $");
}

TEST(ComposeInterpolate, Defaults) {
    auto lookup = lookup_from({{"EMPTY", ""}, {"SET", "v"}});

    EXPECT_EQ(interpolate("${EMPTY:-d}", lookup, "f:1"), "d");
    EXPECT_EQ(interpolate("${EMPTY-d}", lookup, "f:1"), "");
    EXPECT_EQ(interpolate("${UNSET-d}", lookup, "f:1"), "d");
    EXPECT_EQ(interpolate("${SET:-d}", lookup, "f:1"), "v");
    EXPECT_EQ(interpolate("${SET:+r}", lookup, "f:1"), "r");
    EXPECT_EQ(interpolate("${UNSET:+r}", lookup, "f:1"), "");
}

TEST(ComposeInterpolate, RequiredVariableMissing) {
    try {
        interpolate("${TOKEN:?set a token}", lookup_from({}), "compose.yaml:7");
        FAIL() << "a missing required variable must be rejected";
    } catch (const Error& error) {
        EXPECT_EQ(std::string(error.what()), "compose.yaml:7: required variable TOKEN is missing a value: set a token");
    }
}

TEST(ComposeInterpolate, UnclosedBraceRejected) {
    EXPECT_THROW(interpolate("${A", lookup_from({}), "f:1"), Error);
    EXPECT_THROW(interpolate("${}", lookup_from({}), "f:1"), Error);
}

TEST(ComposeProjectName, Normalized) {
    EXPECT_EQ(normalize_project_name("My_App.v2"), "my_appv2");
    EXPECT_EQ(normalize_project_name("-_x"), "x");
    EXPECT_EQ(normalize_project_name("..."), "");
}

TEST(ComposeProjectName, LongNameRejectedAtLoad) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  web:\n    image: busybox\n    network_mode: none\n");
    EXPECT_NO_THROW(dir.load({{"COMPOSE_PROJECT_NAME", std::string(250, 'p')}}));
    auto message = dir.load_error({{"COMPOSE_PROJECT_NAME", std::string(100000, 'p')}});
    EXPECT_NE(message.find("more than 250"), std::string::npos) << message.substr(0, 300);
    EXPECT_LT(message.size(), 400u);
}

TEST(ComposeProjectName, DefaultNetworkNameMustFit) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  web:\n    image: busybox\n");
    EXPECT_NO_THROW(dir.load({{"COMPOSE_PROJECT_NAME", std::string(56, 'p')}}));
    auto message = dir.load_error({{"COMPOSE_PROJECT_NAME", std::string(57, 'p')}});
    EXPECT_NE(message.find("too long for its default network"), std::string::npos) << message;
}

TEST(ComposeProjectName, FolderEnvironmentAndNameKey) {
    ProjectDir dir("My App");
    dir.write("compose.yaml", "services:\n  web:\n    image: busybox\n");
    EXPECT_EQ(dir.load().name, "myapp");
    EXPECT_EQ(dir.load({{"COMPOSE_PROJECT_NAME", "other"}}).name, "other");
    EXPECT_THROW(dir.load({{"COMPOSE_PROJECT_NAME", "Other"}}), Error);

    dir.write("compose.yaml", "name: fromfile\nservices:\n  web:\n    image: busybox\n");
    EXPECT_EQ(dir.load().name, "fromfile");
}

TEST(ComposeService, CommandStringAndList) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n"
                              "  a:\n    image: busybox\n    command: sh -c 'echo \"hi there\"'\n"
                              "  b:\n    image: busybox\n    command: [\"echo\", \"$$X\"]\n    entrypoint: /bin/sh -c\n");
    auto project = dir.load();

    ASSERT_EQ(project.services.size(), 2u);
    EXPECT_EQ(*project.services[0].command, (std::vector<std::string>{"sh", "-c", "echo \"hi there\""}));
    EXPECT_EQ(*project.services[1].command, (std::vector<std::string>{"echo", "$X"}));
    EXPECT_EQ(*project.services[1].entrypoint, (std::vector<std::string>{"/bin/sh", "-c"}));
}

TEST(ComposeService, EnvironmentListSplitsAtFirstEquals) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  a:\n    image: busybox\n    environment:\n"
                              "      - URL=http://x/?a=b\n      - FROM_SHELL\n      - NOT_SET\n");
    auto project = dir.load({{"FROM_SHELL", "yes"}});

    EXPECT_EQ(project.services[0].environment, (std::vector<std::string>{"URL=http://x/?a=b", "FROM_SHELL=yes"}));
}

TEST(ComposeService, EnvironmentMapAndEnvFile) {
    ProjectDir dir;
    dir.write("vars.env", "A=from file\nB=from file\n");
    dir.write("compose.yaml", "services:\n  a:\n    image: busybox\n    env_file: vars.env\n"
                              "    environment:\n      B: from map\n      C: ${C:-default}\n");
    auto project = dir.load();

    EXPECT_EQ(project.services[0].environment,
              (std::vector<std::string>{"A=from file", "B=from file", "B=from map", "C=default"}));
}

TEST(ComposeService, DotEnvFeedsInterpolationAndShellWins) {
    ProjectDir dir;
    dir.write(".env", "TAG=fromdotenv\nOTHER=fromdotenv\n");
    dir.write("compose.yaml", "services:\n  a:\n    image: busybox:${TAG}\n    hostname: h-${OTHER}\n");
    auto project = dir.load({{"OTHER", "shell"}});

    EXPECT_EQ(project.services[0].image, "busybox:fromdotenv");
    EXPECT_EQ(*project.services[0].hostname, "h-shell");
}

TEST(ComposeService, VolumesShortAndLong) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  a:\n    image: busybox\n    volumes:\n"
                              "      - data:/data\n      - ./src:/src:ro\n      - /abs:/abs\n      - /anon\n"
                              "      - type: bind\n        source: ./conf\n        target: /conf\n        read_only: true\n"
                              "      - type: volume\n        source: data\n        target: /more\n"
                              "volumes:\n  data:\n");
    auto project = dir.load();
    auto root = fs::weakly_canonical(dir.path()).string();
    auto expected_prefix = project.name + "_";

    EXPECT_EQ(project.volumes, std::vector<std::string>{"data"});
    EXPECT_EQ(project.services[0].volumes,
              (std::vector<std::string>{expected_prefix + "data:/data", root + "/src:/src:ro", "/abs:/abs", "/anon",
                                        root + "/conf:/conf:ro", expected_prefix + "data:/more"}));
}

TEST(ComposeService, UndeclaredNamedVolumeRejected) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  a:\n    image: busybox\n    volumes:\n      - data:/data\n");

    EXPECT_EQ(dir.load_error(),
              "compose.yaml:5: services.a.volumes: named volume \"data\" is not declared under the top-level volumes: key");
}

TEST(ComposeService, ScalarSettings) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  a:\n    image: busybox\n    mem_limit: 64m\n    cpus: 0.5\n"
                              "    init: true\n    read_only: true\n    user: 1000:1000\n    working_dir: /w\n"
                              "    restart: on-failure:3\n    tmpfs: /run\n    labels:\n      - a=b=c\n");
    auto service = dir.load().services[0];

    EXPECT_EQ(*service.mem_limit, 64u * 1024 * 1024);
    EXPECT_DOUBLE_EQ(*service.cpus, 0.5);
    EXPECT_TRUE(service.init);
    EXPECT_TRUE(service.read_only);
    EXPECT_EQ(service.user, "1000:1000");
    EXPECT_EQ(service.working_dir, "/w");
    EXPECT_EQ(service.restart, "on-failure:3");
    EXPECT_EQ(service.tmpfs, std::vector<std::string>{"/run"});
    EXPECT_EQ(service.labels.at("a"), "b=c");
}

TEST(ComposeService, BuildWithoutImageTakesServiceName) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  web:\n    build:\n      context: ./app\n      dockerfile: Dockerfile.dev\n"
                              "      target: dev\n      args:\n        - VERSION=1.2\n");
    auto service = dir.load().services[0];

    ASSERT_TRUE(service.build);
    EXPECT_EQ(service.image, "web");
    EXPECT_EQ(service.build->context, fs::weakly_canonical(dir.path() / "app"));
    EXPECT_EQ(service.build->dockerfile, "Dockerfile.dev");
    EXPECT_EQ(service.build->target, "dev");
    EXPECT_EQ(service.build->args.at("VERSION"), "1.2");
}

TEST(ComposeService, DependsOnOrdersServices) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n"
                              "  web:\n    image: busybox\n    depends_on: [api]\n"
                              "  api:\n    image: busybox\n    depends_on:\n      db:\n"
                              "        condition: service_completed_successfully\n"
                              "  db:\n    image: busybox\n");
    auto project = dir.load();

    ASSERT_EQ(project.services.size(), 3u);
    EXPECT_EQ(project.services[0].name, "db");
    EXPECT_EQ(project.services[1].name, "api");
    EXPECT_EQ(project.services[2].name, "web");
    EXPECT_EQ(project.services[1].depends_on[0].condition, "service_completed_successfully");
}

TEST(ComposeService, DependencyCycleRejected) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  a:\n    image: busybox\n    depends_on: [b]\n"
                              "  b:\n    image: busybox\n    depends_on: [a]\n");

    EXPECT_NE(dir.load_error().find("dependency cycle"), std::string::npos);
}

TEST(ComposeService, UnknownDependencyRejected) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  a:\n    image: busybox\n    depends_on: [nothere]\n");

    EXPECT_EQ(dir.load_error(), "compose.yaml: services.a.depends_on: service \"nothere\" is not defined");
}

TEST(ComposeService, ServiceHealthyAccepted) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  a:\n    image: busybox\n  b:\n    image: busybox\n"
                              "    depends_on:\n      a:\n        condition: service_healthy\n");

    auto project = dir.load();

    ASSERT_EQ(project.services.size(), 2U);
    ASSERT_EQ(project.services[1].depends_on.size(), 1U);
    EXPECT_EQ(project.services[1].depends_on[0].condition, "service_healthy");
}

TEST(ComposeHealthcheck, ListTestAndDurations) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  db:\n    image: busybox\n    healthcheck:\n"
                              "      test: [\"CMD\", \"test\", \"-f\", \"/ready\"]\n"
                              "      interval: 200ms\n      timeout: 1m30s\n      retries: 5\n"
                              "      start_period: 2s\n      start_interval: 100ms\n");

    auto healthcheck = dir.load().services.at(0).healthcheck;

    ASSERT_TRUE(healthcheck);
    EXPECT_EQ(healthcheck->test, (std::vector<std::string>{"CMD", "test", "-f", "/ready"}));
    EXPECT_EQ(healthcheck->interval, 200'000'000LL);
    EXPECT_EQ(healthcheck->timeout, 90'000'000'000LL);
    EXPECT_EQ(healthcheck->retries, 5);
    EXPECT_EQ(healthcheck->start_period, 2'000'000'000LL);
    EXPECT_EQ(healthcheck->start_interval, 100'000'000LL);
}

TEST(ComposeHealthcheck, StringTestIsShellCommand) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  db:\n    image: busybox\n    healthcheck:\n"
                              "      test: test -f /ready || exit 1\n");

    auto healthcheck = dir.load().services.at(0).healthcheck;

    ASSERT_TRUE(healthcheck);
    EXPECT_EQ(healthcheck->test, (std::vector<std::string>{"CMD-SHELL", "test -f /ready || exit 1"}));
    EXPECT_EQ(healthcheck->interval, 0);
}

TEST(ComposeHealthcheck, DisableIsNone) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  db:\n    image: busybox\n    healthcheck:\n      disable: true\n");

    auto project = dir.load();

    ASSERT_TRUE(project.services.at(0).healthcheck);
    EXPECT_EQ(project.services.at(0).healthcheck->test, std::vector<std::string>{"NONE"});
    EXPECT_NE(project_to_yaml(project).find("healthcheck:\n      disable: true"), std::string::npos) << project_to_yaml(project);
}

TEST(ComposeHealthcheck, ConfigPrintsGoDurations) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  db:\n    image: busybox\n    healthcheck:\n"
                              "      test: [\"CMD\", \"true\"]\n      interval: 90s\n");

    auto yaml = project_to_yaml(dir.load());

    EXPECT_NE(yaml.find("interval: 1m30s"), std::string::npos) << yaml;
    EXPECT_NE(yaml.find("test: [\"CMD\", \"true\"]"), std::string::npos) << yaml;
}

TEST(ComposeHealthcheck, InvalidSettingsNamed) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  db:\n    image: busybox\n    healthcheck:\n      test: [\"RUN\", \"x\"]\n");
    EXPECT_EQ(dir.load_error(),
              "compose.yaml:5: services.db.healthcheck.test: the list must start with \"CMD\", \"CMD-SHELL\" or \"NONE\", not \"RUN\"");

    dir.write("compose.yaml", "services:\n  db:\n    image: busybox\n    healthcheck:\n      interval: 500us\n");
    EXPECT_EQ(dir.load_error(),
              "compose.yaml:5: services.db.healthcheck.interval: invalid duration '500us': it must be 0 or at least 1ms");

    dir.write("compose.yaml", "services:\n  db:\n    image: busybox\n    healthcheck:\n      retries: -1\n");
    EXPECT_EQ(dir.load_error(), "compose.yaml:5: services.db.healthcheck.retries: \"-1\" is not a whole number, 0 or more");

    dir.write("compose.yaml", "services:\n  db:\n    image: busybox\n    healthcheck:\n"
                              "      test: [\"CMD\", \"true\"]\n      disable: true\n");
    EXPECT_EQ(dir.load_error(), "compose.yaml:5: services.db.healthcheck.disable: cannot be combined with a test command");

    dir.write("compose.yaml", "services:\n  db:\n    image: busybox\n    healthcheck:\n      intervall: 1s\n");
    EXPECT_EQ(dir.load_error(), "compose.yaml:5: services.db.healthcheck.intervall: is not a healthcheck setting");
}

TEST(ComposeService, UnknownKeysWarn) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  a:\n    image: busybox\n    ports: [\"80:80\"]\n    colour: red\n"
                              "networks:\n  default:\n    internal: true\n");
    auto warnings = dir.load().warnings;

    ASSERT_EQ(warnings.size(), 2u);
    EXPECT_EQ(warnings[0], "compose.yaml:8: networks.default.internal: is not supported and ignored");
    EXPECT_EQ(warnings[1], "compose.yaml:5: services.a.colour: unknown key, ignored");
}

TEST(ComposePorts, ShortSyntaxForms) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  web:\n    image: busybox\n    ports:\n"
                              "      - \"80\"\n      - 81\n      - \"8080:80\"\n      - \"127.0.0.1:8081:80\"\n"
                              "      - \"5353:53/udp\"\n      - \"127.0.0.1::82\"\n");
    auto project = dir.load();

    std::vector<std::string> expected = {"80/tcp", "81/tcp", "8080:80/tcp", "127.0.0.1:8081:80/tcp", "5353:53/udp",
                                         "127.0.0.1::82/tcp"};
    EXPECT_EQ(project.services.at(0).ports, expected);
}

TEST(ComposePorts, LongSyntaxForms) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  web:\n    image: busybox\n    ports:\n"
                              "      - target: 80\n"
                              "      - target: 80\n        published: \"8080\"\n        name: web\n"
                              "      - target: 53\n        published: 5353\n        host_ip: 127.0.0.1\n"
                              "        protocol: udp\n        mode: host\n"
                              "      - target: 81\n        host_ip: 127.0.0.1\n");
    auto project = dir.load();

    std::vector<std::string> expected = {"80/tcp", "8080:80/tcp", "127.0.0.1:5353:53/udp", "127.0.0.1::81/tcp"};
    EXPECT_EQ(project.services.at(0).ports, expected);
}

TEST(ComposePorts, InvalidPortsNamed) {
    ProjectDir dir;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"    ports: [\"70000:80\"]\n", "compose.yaml:4: services.web.ports: invalid"},
        {"    ports: [\"8080:80/sctp\"]\n", "compose.yaml:4: services.web.ports: invalid protocol 'sctp'"},
        {"    ports: [\"8080-8081:80-81\"]\n", "compose.yaml:4: services.web.ports: port range \"8080-8081:80-81/tcp\" is not supported"},
        {"    ports: [\"1.2.3.4.5:80:80\"]\n", "compose.yaml:4: services.web.ports:"},
        {"    ports: \"80\"\n", "compose.yaml:4: services.web.ports: expected a list"},
        {"    ports:\n      - published: 8080\n", "compose.yaml:5: services.web.ports: a long-syntax port needs a target"},
        {"    ports:\n      - target: 80\n        colour: red\n", "compose.yaml:6: services.web.ports.colour: is not a port setting"},
        {"    ports:\n      - target: 80\n        mode: swarm\n", "compose.yaml:6: services.web.ports.mode: \"swarm\" is not host or ingress"},
        {"    network_mode: host\n    ports: [\"80:80\"]\n", "compose.yaml:5: services.web.ports: cannot be combined with network_mode: host"},
    };
    for (const auto& [text, expected] : cases) {
        dir.write("compose.yaml", "services:\n  web:\n    image: busybox\n" + text);
        auto message = dir.load_error();
        EXPECT_EQ(message.rfind(expected, 0), 0u) << "for:\n" << text << "got: " << message;
    }
}

TEST(ComposeNetworks, DefaultNetworkForPlainService) {
    ProjectDir dir("shop");
    dir.write("compose.yaml", "services:\n  web:\n    image: busybox\n  solo:\n    image: busybox\n    network_mode: none\n");
    auto project = dir.load();

    ASSERT_EQ(project.networks.size(), 1u);
    EXPECT_EQ(project.networks[0].key, "default");
    EXPECT_EQ(project.networks[0].name, "shop_default");
    EXPECT_FALSE(project.networks[0].external);
    const auto& web = project.services.at(1).name == "web" ? project.services.at(1) : project.services.at(0);
    const auto& solo = project.services.at(1).name == "web" ? project.services.at(0) : project.services.at(1);
    ASSERT_EQ(web.networks.size(), 1u);
    EXPECT_EQ(web.networks[0].key, "default");
    EXPECT_TRUE(solo.networks.empty());
    EXPECT_EQ(solo.network_mode, "none");
}

TEST(ComposeNetworks, NoDefaultNetworkWhenUnused) {
    ProjectDir dir("shop");
    dir.write("compose.yaml", "services:\n  web:\n    image: busybox\n    network_mode: host\n");

    EXPECT_TRUE(dir.load().networks.empty());
}

TEST(ComposeNetworks, DeclaredNetworksAndAliases) {
    ProjectDir dir("shop");
    dir.write("compose.yaml", "services:\n  web:\n    image: busybox\n    networks:\n"
                              "      front:\n        aliases: [www, site]\n      back:\n"
                              "  db:\n    image: busybox\n    networks: [back]\n"
                              "networks:\n  front:\n    driver: bridge\n    labels:\n      tier: front\n"
                              "  back:\n    name: shop-backend\n    ipam:\n      config:\n        - subnet: 10.91.0.0/24\n"
                              "  outside:\n    external: true\n");
    auto project = dir.load();

    ASSERT_EQ(project.networks.size(), 3u);
    std::map<std::string, NetworkSpec> networks;
    for (const auto& network : project.networks) networks[network.key] = network;
    EXPECT_EQ(networks["back"].name, "shop-backend");
    EXPECT_EQ(networks["back"].subnet, "10.91.0.0/24");
    EXPECT_EQ(networks["front"].name, "shop_front");
    EXPECT_EQ(networks["front"].labels["tier"], "front");
    EXPECT_FALSE(networks["front"].external);
    EXPECT_EQ(networks["outside"].name, "outside");
    EXPECT_TRUE(networks["outside"].external);

    const auto& web = project.services.at(0).name == "web" ? project.services.at(0) : project.services.at(1);
    ASSERT_EQ(web.networks.size(), 2u);
    EXPECT_EQ(web.networks[0].key, "front");
    EXPECT_EQ(web.networks[0].aliases, (std::vector<std::string>{"www", "site"}));
    EXPECT_EQ(web.networks[1].key, "back");
    EXPECT_TRUE(web.networks[1].aliases.empty());
}

TEST(ComposeNetworks, InvalidNetworksNamed) {
    ProjectDir dir;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"    networks: [back]\n", "compose.yaml:4: services.web.networks: network \"back\" is not declared under the top-level networks: key"},
        {"    networks:\n      back:\n        aliases: www\n", "compose.yaml:5: services.web.networks: network \"back\" is not declared"},
        {"    networks:\n      default:\n        aliases: www\n", "compose.yaml:6: services.web.networks.default.aliases: expected a list"},
        {"    networks: default\n", "compose.yaml:4: services.web.networks: expected a list of networks or a map"},
        {"    network_mode: \"service:db\"\n", "compose.yaml:4: services.web.network_mode: \"service:db\" is not supported"},
        {"    network_mode: none\n    networks: [default]\n", "compose.yaml:4: services.web.network_mode: cannot be combined with networks:"},
        {"networks:\n  back:\n    driver: overlay\n", "compose.yaml:6: networks.back.driver: \"overlay\" is not supported"},
        {"networks:\n  back:\n    external: maybe\n", "compose.yaml:6: networks.back.external: expected true or false"},
        {"networks:\n  back:\n    ipam:\n      config: 10.0.0.0/24\n", "compose.yaml:7: networks.back.ipam.config: expected a list"},
        {"networks:\n  back:\n    external: true\n    ipam:\n      config:\n        - subnet: 10.91.0.0/24\n",
         "compose.yaml:6: networks.back: an external network takes no ipam: or labels:"},
        {"networks: [back]\n", "compose.yaml:4: networks: expected a map"},
    };
    for (const auto& [text, expected] : cases) {
        dir.write("compose.yaml", "services:\n  web:\n    image: busybox\n" + text);
        auto message = dir.load_error();
        EXPECT_EQ(message.rfind(expected, 0), 0u) << "for:\n" << text << "got: " << message;
    }
}

TEST(ComposeScale, ReplicasFromScaleAndDeploy) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  a:\n    image: busybox\n    scale: 3\n"
                              "  b:\n    image: busybox\n    deploy:\n      replicas: 2\n      resources: {}\n"
                              "  c:\n    image: busybox\n");
    auto project = dir.load();

    std::map<std::string, int> replicas;
    for (const auto& service : project.services) replicas[service.name] = service.replicas;
    EXPECT_EQ(replicas, (std::map<std::string, int>{{"a", 3}, {"b", 2}, {"c", 1}}));
    ASSERT_EQ(project.warnings.size(), 1u);
    EXPECT_EQ(project.warnings[0], "compose.yaml:9: services.b.deploy.resources: is not supported and ignored");
}

TEST(ComposeScale, InvalidReplicasNamed) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  a:\n    image: busybox\n    deploy:\n      replicas: -1\n");

    EXPECT_EQ(dir.load_error(), "compose.yaml:5: services.a.deploy.replicas: \"-1\" is not a whole number from 0 to 9999");
}

TEST(ComposeService, ProfilesLeaveServicesOut) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  a:\n    image: busybox\n  debug:\n    image: busybox\n    profiles: [dev]\n");
    LoadOptions options;
    options.working_dir = dir.path();
    options.environment = lookup_from({});

    EXPECT_EQ(load_project(options).services.size(), 1u);
    options.active_profiles = {"dev"};
    EXPECT_EQ(load_project(options).services.size(), 2u);
}

TEST(ComposeErrors, NameFileLineAndKey) {
    ProjectDir dir;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"services:\n  a:\n    image: busybox\n    hostname: bad_name!\n",
         "compose.yaml:4: services.a.hostname: \"bad_name!\" is not a valid hostname"},
        {"services:\n  a:\n    image: busybox\n    hostname: " + std::string(65, 'h') + "\n",
         "compose.yaml:4: services.a.hostname:"},
        {"services:\n  a:\n    image: busybox\n    mem_limit: lots\n", "compose.yaml:4: services.a.mem_limit:"},
        {"services:\n  a:\n    image: busybox\n    cpus: -1\n", "compose.yaml:4: services.a.cpus: \"-1\" is not a positive"},
        {"services:\n  a:\n    image: busybox\n    cpus: nan\n", "compose.yaml:4: services.a.cpus: \"nan\" is not a positive"},
        {"services:\n  a:\n    image: busybox\n    cpus: inf\n", "compose.yaml:4: services.a.cpus: \"inf\" is not a positive"},
        {"services:\n  a:\n    image: busybox\n    init: maybe\n", "compose.yaml:4: services.a.init: expected true or false"},
        {"services:\n  a:\n    image: busybox\n    restart: sometimes\n", "compose.yaml:4: services.a.restart:"},
        {"services:\n  a:\n    command: echo\n", "compose.yaml:3: services.a: needs image or build"},
        {"services:\n  a:\n    image: [1, 2]\n", "compose.yaml:3: services.a.image: expected a single value"},
        {"services:\n  a:\n    image: busybox\n    environment: 5\n", "compose.yaml:4: services.a.environment: expected a map"},
        {"services:\n  a:\n    image: ${REQUIRED:?is needed}\n", "compose.yaml:3: required variable REQUIRED"},
        {"services:\n  a: [\n", "compose.yaml:3: invalid YAML"},
        {"services: {}\n", "compose.yaml: services: no services defined"},
        {"- a\n", "compose.yaml:1: (top level): expected a map"},
        {"services:\n  \"a b\":\n    image: busybox\n", "compose.yaml:2: services.a b: invalid service name \"a b\""},
        {"services:\n  a:\n    image: busybox\nvolumes:\n  \"x y\":\n", "compose.yaml:5: volumes.x y: invalid volume name"},
        {"services:\n  a:\n    image: busybox\nnetworks:\n  back:\n    name: none\n",
         "compose.yaml:5: networks.back: network name \"none\" is reserved"},
        {"services:\n  a:\n    image: busybox\nnetworks:\n  back:\n    name: " + std::string(65, 'n') + "\n",
         "compose.yaml:5: networks.back: invalid network name"},
    };
    for (const auto& [text, expected] : cases) {
        dir.write("compose.yaml", text);
        auto message = dir.load_error();
        EXPECT_EQ(message.substr(0, expected.size()), expected) << "for file:\n" << text;
    }
}

// YAML's plain keys stop at 1024 characters; an explicit key ("? ") has no limit. The
// name check used std::regex, which overflowed the stack on this name.
TEST(ComposeErrors, HugeServiceNameRejected) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  ? " + std::string(60000, 'a') + "!\n  : image: busybox\n");
    EXPECT_NE(dir.load_error().find("invalid service name"), std::string::npos);
}

TEST(ComposeErrors, LongVolumeNameRejected) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  a:\n    image: busybox\nvolumes:\n  " + std::string(300, 'v') + ":\n");
    auto message = dir.load_error();
    EXPECT_EQ(message.rfind("compose.yaml:5: volumes.", 0), 0u) << message;
    EXPECT_NE(message.find("more than the 255 a folder name may have"), std::string::npos) << message;
    EXPECT_LT(message.size(), 600u) << message;
}

TEST(ComposeErrors, ControlCharactersShownEscaped) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  \"web\\0x\\nb\":\n    image: busybox\n");
    auto message = dir.load_error();
    EXPECT_NE(message.find("services.web\\x00x\\nb: invalid service name"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(ComposeErrors, MissingFile) {
    ProjectDir dir;
    EXPECT_NE(dir.load_error().find("no compose.yaml"), std::string::npos);
}

TEST(ComposeMerge, LaterFileOverrides) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  a:\n    image: busybox\n    command: [sleep, \"1\"]\n"
                              "    environment:\n      A: base\n      B: base\n    volumes: [/one]\n");
    dir.write("override.yaml", "services:\n  a:\n    command: [sleep, \"2\"]\n    environment:\n      B: override\n"
                               "    volumes: [/two]\n  b:\n    image: busybox\n");
    auto project = dir.load({}, {"compose.yaml", "override.yaml"});

    ASSERT_EQ(project.services.size(), 2u);
    const auto& a = project.services[0];
    EXPECT_EQ(*a.command, (std::vector<std::string>{"sleep", "2"}));
    EXPECT_EQ(a.environment, (std::vector<std::string>{"A=base", "B=override"}));
    EXPECT_EQ(a.volumes, (std::vector<std::string>{"/one", "/two"}));
}

TEST(ComposeConfig, PrintsInterpolatedYaml) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  a:\n    image: busybox:${TAG:-1}\n    environment: [X=a=b]\n"
                              "volumes:\n  data:\n");
    auto text = project_to_yaml(dir.load());

    EXPECT_NE(text.find("image: busybox:1"), std::string::npos) << text;
    EXPECT_NE(text.find("X: a=b"), std::string::npos) << text;
    EXPECT_NE(text.find("name: my_app_data"), std::string::npos) << text;
}

// Found by fuzzing: a scalar where depends_on expects a map of options made yaml-cpp
// throw out of the loader.
TEST(ComposeProject, DependencyOptionsMustBeAMap) {
    ProjectDir dir;
    dir.write("compose.yaml",
              "services:\n  web:\n    image: busybox\n    depends_on:\n      db: service_healthy\n"
              "  db:\n    image: busybox\n");
    auto message = dir.load_error();
    EXPECT_NE(message.find("compose.yaml:5"), std::string::npos) << message;
    EXPECT_NE(message.find("depends_on.db"), std::string::npos) << message;
}

// A node of a shape no check expects, such as a list as a service name, is still an Error.
TEST(ComposeProject, UnexpectedNodeShapeIsAnError) {
    ProjectDir dir;
    dir.write("compose.yaml", "services:\n  ? [a, b]\n  : {image: busybox}\n");
    auto message = dir.load_error();
    EXPECT_NE(message.find("compose"), std::string::npos) << message;
}

}  // namespace
}  // namespace isolab::compose
