// The solution bot for the lessons that boot VMs: 01 (a VM is a whole computer), 09
// (isolab compare) and 10 (kernel sharing). The file name starts with "compare" so the
// test runner serialises it with the other tests that use libvirtd.
#include "integration/lesson_solution_bot.hpp"
#include "runtime/core/process.hpp"

namespace isolab::testing {
namespace {

class VmLessonSolutions : public LessonBot {
protected:
    void SetUp() override {
        LessonBot::SetUp();
        if (IsSkipped()) return;
        auto libvirtd = run_command({std::string(ISOLAB_SOURCE_DIR) + "/scripts/start-libvirtd"});
        ASSERT_EQ(libvirtd.exit_code, 0) << libvirtd.output;
    }
};

TEST_F(VmLessonSolutions, WholeComputer01) { run_bot("1"); }
TEST_F(VmLessonSolutions, Measure09) { run_bot("9"); }
TEST_F(VmLessonSolutions, KernelSharing10) { run_bot("10"); }

}  // namespace
}  // namespace isolab::testing
