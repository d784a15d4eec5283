#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "runtime/core/files.hpp"
#include "runtime/core/process.hpp"
#include "support/test_support.hpp"

namespace isolab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_isolab;

// A build context folder under the test's state root.
class Context {
public:
    explicit Context(const testing::TestRoot& root) : folder_(root.root() / "context") { fs::create_directories(folder_); }

    void write(const std::string& path, const std::string& content) const {
        fs::create_directories((folder_ / path).parent_path());
        std::ofstream(folder_ / path) << content;
    }
    const fs::path& folder() const { return folder_; }

private:
    fs::path folder_;
};

size_t count_of(const std::string& text, const std::string& part) {
    size_t count = 0;
    for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
    return count;
}

size_t line_count(const std::string& text) {
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The progress line of the step whose instruction starts with `instruction`, followed by
// its result line: "CACHED" or "DONE ...".
std::string step_result(const std::string& progress, const std::string& instruction) {
    size_t at = progress.find("] " + instruction);
    if (at == std::string::npos) return "missing";
    size_t hash = progress.rfind('#', at);
    std::string number = progress.substr(hash, progress.find(' ', hash) - hash);
    size_t result = progress.find(number + " CACHED", at);
    size_t done = progress.find(number + " DONE", at);
    if (result != std::string::npos && (done == std::string::npos || result < done)) return "CACHED";
    return done == std::string::npos ? "missing" : "DONE";
}

testing::CliResult build(const testing::TestRoot& root, const Context& context, std::vector<std::string> extra = {}) {
    std::vector<std::string> arguments{"build"};
    arguments.insert(arguments.end(), extra.begin(), extra.end());
    arguments.push_back(context.folder().string());
    return run_isolab(root.paths(), arguments);
}

std::string run_in(const testing::TestRoot& root, const std::string& image, const std::vector<std::string>& command) {
    std::vector<std::string> arguments{"run", "--rm", image};
    arguments.insert(arguments.end(), command.begin(), command.end());
    auto result = run_isolab(root.paths(), arguments);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.out;
}

json inspect(const testing::TestRoot& root, const std::string& image) {
    auto result = run_isolab(root.paths(), {"image", "inspect", image});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return json::parse(result.out)[0];
}

std::vector<std::string> container_folders(const testing::TestRoot& root) {
    std::vector<std::string> names;
    if (!fs::exists(root.paths().containers())) return names;
    for (const auto& entry : fs::directory_iterator(root.paths().containers())) {
        // The folder's lock file is not a container.
        if (entry.path().filename() != ".lock") names.push_back(entry.path().string());
    }
    return names;
}

bool mountinfo_mentions(const fs::path& folder) {
    return read_file("/proc/self/mountinfo").find(folder.string()) != std::string::npos;
}

#define REQUIRE_ROOT() \
    if (!testing::running_as_root()) GTEST_SKIP() << "building runs containers, which needs root"

TEST(BuildCli, CopyRunEnvAndCmd) {
    REQUIRE_ROOT();
    testing::TestRoot root;
    Context context(root);
    context.write("hello.txt", "hello from the context\n");
    context.write("Dockerfile",
                  "FROM busybox\n"
                  "COPY hello.txt /srv/\n"
                  "ENV GREETING=hi NAME=\"lab user\"\n"
                  "RUN echo \"$GREETING $NAME\" > /built.txt\n"
                  "WORKDIR /srv/app\n"
                  "EXPOSE 8080 53/udp\n"
                  "VOLUME /data\n"
                  "LABEL org.example.team=lab\n"
                  "HEALTHCHECK --interval=30s --retries=2 CMD wget -q localhost\n"
                  "STOPSIGNAL SIGINT\n"
                  "ONBUILD RUN echo triggered\n"
                  "COPY <<EOF /etc/motd\n"
                  "say $GREETING to \"$NAME\"\n"
                  "EOF\n"
                  "RUN <<EOF\n"
                  "echo from a here-document > /heredoc.txt\n"
                  "EOF\n"
                  "USER 1000\n"
                  "RUN id -u > /tmp/uid\n"
                  "CMD [\"cat\", \"/srv/hello.txt\"]\n");
    auto result = build(root, context, {"-t", "lab/web:1"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.err.find("[stage-0 2/16] COPY hello.txt /srv/"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("naming to lab/web:1 done"), std::string::npos) << result.err;

    EXPECT_EQ(run_in(root, "lab/web:1", {}), "hello from the context\n");
    EXPECT_EQ(run_in(root, "lab/web:1", {"cat", "/built.txt"}), "hi lab user\n");
    EXPECT_EQ(run_in(root, "lab/web:1", {"pwd"}), "/srv/app\n");
    EXPECT_EQ(run_in(root, "lab/web:1", {"cat", "/etc/motd"}), "say hi to \"lab user\"\n");
    EXPECT_EQ(run_in(root, "lab/web:1", {"cat", "/heredoc.txt"}), "from a here-document\n");
    EXPECT_EQ(run_in(root, "lab/web:1", {"cat", "/tmp/uid"}), "1000\n") << "RUN runs as the USER";

    auto config = inspect(root, "lab/web:1")["Config"];
    EXPECT_NE(std::find(config["Env"].begin(), config["Env"].end(), "NAME=lab user"), config["Env"].end()) << config;
    EXPECT_EQ(config["WorkingDir"], "/srv/app");
    EXPECT_TRUE(config["ExposedPorts"].contains("8080/tcp")) << config;
    EXPECT_TRUE(config["ExposedPorts"].contains("53/udp")) << config;
    EXPECT_TRUE(config["Volumes"].contains("/data")) << config;
    EXPECT_EQ(config["Labels"]["org.example.team"], "lab");
    EXPECT_EQ(config["Healthcheck"]["Test"], json::array({"CMD-SHELL", "wget -q localhost"}));
    EXPECT_EQ(config["Healthcheck"]["Interval"], 30000000000LL);
    EXPECT_EQ(config["Healthcheck"]["Retries"], 2);
    EXPECT_EQ(config["StopSignal"], "SIGINT");
    EXPECT_EQ(config["OnBuild"], json::array({"RUN echo triggered"}));
    EXPECT_EQ(config["Cmd"], json::array({"cat", "/srv/hello.txt"}));

    auto history = run_isolab(root.paths(), {"history", "lab/web:1"});
    EXPECT_NE(history.out.find("COPY hello.txt /srv/"), std::string::npos) << history.out;
    EXPECT_NE(history.out.find("RUN /bin/sh -c echo"), std::string::npos) << history.out;
    EXPECT_TRUE(container_folders(root).empty());
}

TEST(BuildCli, CacheHitsAndOneFileInvalidates) {
    REQUIRE_ROOT();
    testing::TestRoot root;
    Context context(root);
    context.write("a.txt", "a\n");
    context.write("b.txt", "b\n");
    context.write("Dockerfile",
                  "FROM busybox\n"
                  "COPY a.txt /a.txt\n"
                  "COPY b.txt /b.txt\n"
                  "RUN cat /a.txt /b.txt > /ab.txt\n");
    auto first = build(root, context, {"-t", "cached"});
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_EQ(count_of(first.err, " CACHED"), 0u) << first.err;
    auto first_id = inspect(root, "cached")["Id"];

    auto second = build(root, context, {"-t", "cached"});
    ASSERT_EQ(second.exit_code, 0) << second.err;
    EXPECT_EQ(step_result(second.err, "FROM busybox"), "CACHED") << second.err;
    EXPECT_EQ(step_result(second.err, "COPY a.txt"), "CACHED") << second.err;
    EXPECT_EQ(step_result(second.err, "COPY b.txt"), "CACHED") << second.err;
    EXPECT_EQ(step_result(second.err, "RUN cat"), "CACHED") << second.err;
    EXPECT_EQ(inspect(root, "cached")["Id"], first_id) << "a build from the cache gives the same image";

    auto quiet = build(root, context, {"-q", "-t", "cached"});
    ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
    EXPECT_EQ(quiet.out, first_id.get<std::string>() + "\n");
    EXPECT_EQ(quiet.err, "");

    context.write("b.txt", "b changed\n");
    auto third = build(root, context, {"-t", "cached"});
    ASSERT_EQ(third.exit_code, 0) << third.err;
    EXPECT_EQ(step_result(third.err, "COPY a.txt"), "CACHED") << third.err;
    EXPECT_EQ(step_result(third.err, "COPY b.txt"), "DONE") << third.err;
    EXPECT_EQ(step_result(third.err, "RUN cat"), "DONE") << third.err;
    EXPECT_EQ(run_in(root, "cached", {"cat", "/ab.txt"}), "a\nb changed\n");

    auto uncached = build(root, context, {"--no-cache", "-t", "cached"});
    ASSERT_EQ(uncached.exit_code, 0) << uncached.err;
    EXPECT_EQ(count_of(uncached.err, " CACHED"), 0u) << uncached.err;
}

TEST(BuildCli, ModeChangeInvalidatesCopy) {
    REQUIRE_ROOT();
    testing::TestRoot root;
    Context context(root);
    context.write("tool.sh", "echo tool\n");
    context.write("Dockerfile", "FROM busybox\nCOPY tool.sh /tool.sh\n");
    ASSERT_EQ(build(root, context, {"-t", "mode"}).exit_code, 0);
    fs::permissions(context.folder() / "tool.sh", fs::perms::owner_exec, fs::perm_options::add);
    auto again = build(root, context, {"-t", "mode"});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(step_result(again.err, "COPY tool.sh"), "DONE") << again.err;
}

// As Docker cleans it, a ".." above / in a COPY destination stays at /.
TEST(BuildCli, CopyDestinationCleaned) {
    REQUIRE_ROOT();
    testing::TestRoot root;
    Context context(root);
    context.write("file.txt", "cleaned\n");
    context.write("Dockerfile", "FROM busybox\nCOPY file.txt /a/b/../../../../x\n");
    auto built = build(root, context, {"-t", "cleaned"});
    ASSERT_EQ(built.exit_code, 0) << built.err;
    auto run = run_isolab(root.paths(), {"run", "--rm", "--network", "none", "cleaned", "cat", "/x"});
    EXPECT_EQ(run.out, "cleaned\n") << run.err;
}

TEST(BuildCli, MultiStageTargetAndUnusedStage) {
    REQUIRE_ROOT();
    testing::TestRoot root;
    Context context(root);
    context.write("Dockerfile",
                  "ARG GREETING=compiled\n"
                  "FROM busybox AS builder\n"
                  "ARG GREETING\n"
                  "RUN mkdir /out && echo $GREETING > /out/app && chown 123:45 /out/app\n"
                  "FROM busybox AS broken\n"
                  "RUN exit 1\n"
                  "FROM scratch\n"
                  "COPY --from=builder /out/ /app/\n"
                  "COPY --from=0 /bin/busybox /bin/busybox\n"
                  "COPY --from=busybox /etc/passwd /etc/passwd\n"
                  "CMD [\"/bin/busybox\", \"cat\", \"/app/app\"]\n");
    auto result = build(root, context, {"-t", "multi", "--build-arg", "GREETING=hello", "--build-arg", "UNUSED=1"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.err.find("RUN exit 1"), std::string::npos) << "the unused stage ran: " << result.err;
    EXPECT_NE(result.err.find("build-args [UNUSED] were not consumed"), std::string::npos) << result.err;
    EXPECT_EQ(run_in(root, "multi", {}), "hello\n");
    EXPECT_EQ(run_in(root, "multi", {"/bin/busybox", "stat", "-c", "%u:%g", "/app/app"}), "123:45\n");
    EXPECT_EQ(run_in(root, "multi", {"/bin/busybox", "head", "-1", "/etc/passwd"}), "root:x:0:0:root:/root:/bin/sh\n");
    EXPECT_EQ(inspect(root, "multi")["RootFS"]["Layers"].size(), 3u);

    auto target = build(root, context, {"-t", "stage", "--target", "builder"});
    ASSERT_EQ(target.exit_code, 0) << target.err;
    EXPECT_EQ(run_in(root, "stage", {"cat", "/out/app"}), "compiled\n");

    auto missing = build(root, context, {"--target", "nothere"});
    EXPECT_NE(missing.exit_code, 0);
    EXPECT_EQ(line_count(missing.err), 1u) << missing.err;
}

TEST(BuildCli, DeletedFilesStayDeleted) {
    REQUIRE_ROOT();
    testing::TestRoot root;
    Context context(root);
    context.write("Dockerfile",
                  "FROM busybox\n"
                  "RUN mkdir -p /d/sub && echo x > /d/f && echo y > /d/sub/g && echo keep > /keep\n"
                  "RUN rm /d/f /etc/group\n"
                  "RUN rm -rf /d/sub && mkdir /d/sub && echo new > /d/sub/h\n");
    auto result = build(root, context, {"-t", "deleted"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(run_in(root, "deleted", {"ls", "/d"}), "sub\n");
    EXPECT_EQ(run_in(root, "deleted", {"ls", "/d/sub"}), "h\n");
    EXPECT_EQ(run_in(root, "deleted", {"sh", "-c", "test -e /etc/group || echo gone"}), "gone\n");
    EXPECT_EQ(run_in(root, "deleted", {"cat", "/keep"}), "keep\n");
}

TEST(BuildCli, ChownKeepsNewParentsRootOwned) {
    REQUIRE_ROOT();
    testing::TestRoot root;
    Context context(root);
    context.write("site/a/b/index.html", "<p>hi</p>\n");
    context.write("site/a/b/css/site.css", "p{}\n");
    context.write("Dockerfile", "FROM busybox\nCOPY --chown=1000:1000 site/a/b/ /srv/a/b/\n");
    auto result = build(root, context, {"-t", "owned"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    auto owners = run_in(root, "owned",
                         {"stat", "-c", "%n %u:%g %a", "/srv", "/srv/a", "/srv/a/b", "/srv/a/b/index.html", "/srv/a/b/css",
                          "/srv/a/b/css/site.css"});
    EXPECT_EQ(owners,
              "/srv 0:0 755\n/srv/a 0:0 755\n/srv/a/b 1000:1000 755\n/srv/a/b/index.html 1000:1000 644\n"
              "/srv/a/b/css 1000:1000 755\n/srv/a/b/css/site.css 1000:1000 644\n");
    // The existing /home/user (1000:1000) and /tmp (1777) keep their owner and mode.
    context.write("Dockerfile", "FROM busybox\nCOPY site/a/b/index.html /tmp/x/\nCOPY site/a/b/index.html /home/user/\n");
    ASSERT_EQ(build(root, context, {"-t", "kept"}).exit_code, 0);
    EXPECT_EQ(run_in(root, "kept", {"stat", "-c", "%n %u:%g %a", "/tmp", "/tmp/x", "/home/user", "/home/user/index.html"}),
              "/tmp 0:0 1777\n/tmp/x 0:0 755\n/home/user 1000:1000 755\n/home/user/index.html 0:0 644\n");
}

TEST(BuildCli, BacktickEscapeAndCommentsInRun) {
    REQUIRE_ROOT();
    testing::TestRoot root;
    Context context(root);
    context.write("Dockerfile",
                  "# escape=`\n"
                  "\n"
                  "FROM busybox\n"
                  "RUN echo one > /out `\n"
                  "    # a comment Docker drops\n"
                  "    && echo 'C:\\two' >> /out\n");
    auto result = build(root, context, {"-t", "backtick"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.err.find("RUN echo one > /out     && echo 'C:\\two' >> /out"), std::string::npos) << result.err;
    EXPECT_EQ(run_in(root, "backtick", {"cat", "/out"}), "one\nC:\\two\n");
}

TEST(BuildCli, FailingRunLeavesNothing) {
    REQUIRE_ROOT();
    testing::TestRoot root;
    Context context(root);
    context.write("Dockerfile", "FROM busybox\nRUN echo first > /first\nRUN echo visible-output && exit 3\n");
    auto images_before = run_isolab(root.paths(), {"images", "-q"});
    auto result = build(root, context, {"-t", "broken"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("visible-output"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("isolab: Dockerfile:3: RUN failed with exit code 3"), std::string::npos) << result.err;
    EXPECT_EQ(run_isolab(root.paths(), {"images", "-q"}).out, images_before.out);
    EXPECT_TRUE(container_folders(root).empty());
    EXPECT_FALSE(mountinfo_mentions(root.root()));
    EXPECT_TRUE(fs::is_empty(root.paths().tmp()));

    auto quiet = build(root, context, {"-q", "-t", "broken"});
    EXPECT_EQ(quiet.exit_code, 1);
    EXPECT_EQ(quiet.out, "");
    EXPECT_NE(quiet.err.find("visible-output"), std::string::npos) << "-q still shows a failed step: " << quiet.err;

    auto missing_command = [&] {
        context.write("Dockerfile", "FROM busybox\nRUN [\"/no/such/program\"]\n");
        return build(root, context, {"-t", "broken"});
    }();
    EXPECT_NE(missing_command.exit_code, 0);
    EXPECT_NE(missing_command.err.find("Dockerfile:2:"), std::string::npos) << missing_command.err;
    EXPECT_TRUE(container_folders(root).empty());

    // A failed here-document script is named on one line, its newlines escaped.
    context.write("Dockerfile", "FROM busybox\nRUN <<EOF\necho from-script\nexit 4\nEOF\n");
    auto script = build(root, context, {"-t", "broken"});
    EXPECT_EQ(script.exit_code, 1);
    EXPECT_NE(script.err.find("from-script"), std::string::npos) << script.err;
    auto error_at = script.err.find("ERROR: process");
    ASSERT_NE(error_at, std::string::npos) << script.err;
    auto error_line = script.err.substr(error_at, script.err.find('\n', error_at) - error_at);
    EXPECT_NE(error_line.find("exit code: 4"), std::string::npos) << script.err;
}

TEST(BuildCli, AddExtractsLocalTarAndRejectsUrl) {
    REQUIRE_ROOT();
    testing::TestRoot root;
    Context context(root);
    context.write("payload/etc/app.conf", "port=80\n");
    run_checked({"tar", "-czf", (context.folder() / "payload.tar.gz").string(), "-C", (context.folder() / "payload").string(),
                 "etc"});
    context.write("Dockerfile", "FROM busybox\nADD payload.tar.gz /opt/\n");
    auto result = build(root, context, {"-t", "added"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(run_in(root, "added", {"cat", "/opt/etc/app.conf"}), "port=80\n");

    context.write("Dockerfile", "FROM busybox\nADD https://example.com/file /file\n");
    auto url = build(root, context);
    EXPECT_NE(url.exit_code, 0);
    EXPECT_EQ(count_of(url.err, "isolab: "), 1u) << url.err;
    EXPECT_NE(url.err.find("Dockerfile:2: ADD https://example.com/file needs the network"), std::string::npos) << url.err;
}

TEST(BuildCli, DockerignoreExcludesFromCopy) {
    REQUIRE_ROOT();
    testing::TestRoot root;
    Context context(root);
    context.write("app/main.sh", "echo main\n");
    context.write("app/secret.key", "secret\n");
    context.write("docs/keep.md", "keep\n");
    context.write("docs/drop.md", "drop\n");
    context.write(".dockerignore", "**/*.key\ndocs\n!docs/keep.md\n");
    context.write("Dockerfile", "FROM busybox\nCOPY . /ctx/\n");
    auto result = build(root, context, {"-t", "ignored"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(run_in(root, "ignored", {"sh", "-c", "find /ctx -type f | sort"}),
              "/ctx/.dockerignore\n/ctx/Dockerfile\n/ctx/app/main.sh\n/ctx/docs/keep.md\n");
    EXPECT_EQ(run_in(root, "ignored", {"sh", "-c", "test -e /ctx/app/secret.key || echo excluded"}), "excluded\n");

    context.write("Dockerfile", "FROM busybox\nCOPY app/secret.key /\n");
    auto excluded = build(root, context);
    EXPECT_NE(excluded.exit_code, 0);
    EXPECT_NE(excluded.err.find("COPY source app/secret.key not found"), std::string::npos) << excluded.err;
}

TEST(BuildCli, NoCacheBuildsGiveSameDiffIds) {
    REQUIRE_ROOT();
    testing::TestRoot root;
    Context context(root);
    context.write("data.txt", "data\n");
    context.write("Dockerfile",
                  "FROM busybox\nCOPY data.txt /data.txt\nRUN mkdir /made && echo fixed > /made/file && rm /etc/passwd\n");
    ASSERT_EQ(build(root, context, {"--no-cache", "-t", "first"}).exit_code, 0);
    ASSERT_EQ(build(root, context, {"--no-cache", "-t", "second"}).exit_code, 0);
    auto first = inspect(root, "first")["RootFS"]["Layers"];
    auto second = inspect(root, "second")["RootFS"]["Layers"];
    EXPECT_EQ(first.size(), 3u);
    EXPECT_EQ(first, second);
    EXPECT_EQ(run_in(root, "first", {"stat", "-c", "%Y", "/made/file"}), "0\n");

    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    auto third = build(root, context, {"--no-cache", "-t", "third"});
    auto fourth = build(root, context, {"--no-cache", "-t", "fourth"});
    unsetenv("SOURCE_DATE_EPOCH");
    ASSERT_EQ(third.exit_code, 0) << third.err;
    ASSERT_EQ(fourth.exit_code, 0) << fourth.err;
    EXPECT_EQ(inspect(root, "third")["Id"], inspect(root, "fourth")["Id"]);
    EXPECT_EQ(run_in(root, "third", {"stat", "-c", "%Y", "/made/file"}), "1700000000\n");
}

TEST(BuildCli, BadInputGivesOneLine) {
    testing::TestRoot root;
    Context context(root);
    auto no_context = run_isolab(root.paths(), {"build", (root.root() / "nothere").string()});
    EXPECT_NE(no_context.exit_code, 0);
    EXPECT_EQ(line_count(no_context.err), 1u) << no_context.err;

    auto no_dockerfile = build(root, context);
    EXPECT_NE(no_dockerfile.exit_code, 0);
    EXPECT_EQ(line_count(no_dockerfile.err), 1u) << no_dockerfile.err;

    context.write("Dockerfile", "FROM busybox\nFETCH x\n");
    auto unknown = build(root, context);
    EXPECT_EQ(unknown.err, "isolab: Dockerfile:2: unknown instruction FETCH (see the Dockerfile section of the README for "
                           "what isolab supports)\n");

    context.write("Dockerfile", "ARG BASE=busybox\nFROM ${BASE\n");
    auto unterminated = build(root, context);
    EXPECT_EQ(unterminated.err, "isolab: Dockerfile:2: missing '}' in '${BASE'\n");

    context.write("Dockerfile", std::string("FROM busybox\nRUN true\0\n", 23));
    auto nul = build(root, context);
    EXPECT_EQ(nul.err, "isolab: Dockerfile:2: the file has a NUL byte (a Dockerfile is text: remove the byte, or convert "
                       "a UTF-16 file to UTF-8)\n");

    context.write("Dockerfile", "FROM busybox\nSTOPSIGNAL SIGFOO\n");
    auto signal = build(root, context);
    EXPECT_NE(signal.exit_code, 0);
    EXPECT_NE(signal.err.find("isolab: Dockerfile:2: invalid STOPSIGNAL 'SIGFOO'"), std::string::npos) << signal.err;

    context.write("Dockerfile", "FROM nothere:1\n");
    auto missing = build(root, context);
    EXPECT_NE(missing.exit_code, 0);
    EXPECT_NE(missing.err.find("Dockerfile:1: image 'nothere:1' not found"), std::string::npos) << missing.err;
    EXPECT_NE(missing.err.find("never pulls"), std::string::npos) << missing.err;
    EXPECT_EQ(line_count(missing.err), 2u) << "the step line and the error: " << missing.err;
}

}  // namespace
}  // namespace isolab
