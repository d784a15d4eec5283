// Adoption of double-forked processes with real forks: the grandchild of a short-lived
// child, as libvirt's embedded driver starts QEMU.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "runtime/linux/subreaper.hpp"

namespace isolab::kernel {
namespace {

using namespace std::chrono_literals;

// A process that forks a grandchild and exits. The grandchild waits until the write end
// of the pipe `release` is closed (a read returns 0), then exits. Returns the
// grandchild's pid, read from a pipe.
pid_t start_orphan(const int release[2]) {
    int report[2];
    if (pipe(report) != 0) return -1;
    pid_t child = fork();
    if (child == 0) {
        pid_t grandchild = fork();
        if (grandchild == 0) {
            close(release[1]);
            char byte;
            while (read(release[0], &byte, 1) > 0) {
            }
            _exit(0);
        }
        (void)!write(report[1], &grandchild, sizeof grandchild);
        _exit(0);
    }
    close(report[1]);
    pid_t grandchild = -1;
    if (read(report[0], &grandchild, sizeof grandchild) != sizeof grandchild) grandchild = -1;
    close(report[0]);
    int status = 0;
    waitpid(child, &status, 0);
    return grandchild;
}

bool process_gone_within(pid_t pid, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!std::filesystem::exists("/proc/" + std::to_string(pid))) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

int subreaper_mark() {
    int mark = -1;
    prctl(PR_GET_CHILD_SUBREAPER, &mark, 0, 0, 0);
    return mark;
}

TEST(Subreaper, AdoptsAndReapsOrphan) {
    int release[2];
    ASSERT_EQ(pipe(release), 0);
    pid_t orphan = -1;
    run_as_subreaper([&] { orphan = start_orphan(release); });
    ASSERT_GT(orphan, 0);
    EXPECT_EQ(subreaper_mark(), 0) << "the mark outlived run_as_subreaper";
    EXPECT_EQ(parent_of(orphan), getpid());

    EXPECT_TRUE(reap_when_exited(orphan));
    close(release[1]);
    close(release[0]);
    // Without the waiting thread the exited orphan would stay a zombie of this process.
    EXPECT_TRUE(process_gone_within(orphan, 10s)) << "process " << orphan << " was not reaped";
}

TEST(Subreaper, OrphanOutsideScopeIsLeftAlone) {
    int release[2];
    ASSERT_EQ(pipe(release), 0);
    pid_t orphan = start_orphan(release);
    ASSERT_GT(orphan, 0);
    EXPECT_NE(parent_of(orphan), getpid());
    EXPECT_FALSE(reap_when_exited(orphan));
    close(release[1]);
    close(release[0]);
}

TEST(Subreaper, MarkKeptWhenSetBefore) {
    ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    run_as_subreaper([] {});
    EXPECT_EQ(subreaper_mark(), 1);
    ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
}

TEST(Subreaper, ParentOfReadsProcStat) {
    EXPECT_EQ(parent_of(getpid()), getppid());
    EXPECT_EQ(parent_of(-5), -1);
}

}  // namespace
}  // namespace isolab::kernel
