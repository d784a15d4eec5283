#include "support/root_cli_test.hpp"

#include <filesystem>

#include "runtime/image/store.hpp"

namespace isolab::testing {

void RootCliTest::SetUp() {
    if (!running_as_root()) GTEST_SKIP() << "running containers needs root";
}

void BusyboxCliTest::SetUp() {
    RootCliTest::SetUp();
    if (IsSkipped()) return;
    image::Store(root_.paths()).ensure_busybox();
}

bool RootCliTest::no_containers() const {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(root_.paths().containers(), error)) {
        if (entry.path().filename().string().front() != '.') return false;
    }
    return true;
}

}  // namespace isolab::testing
