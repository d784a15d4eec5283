// A lesson's tasks.yaml.
#include "fuzz_support.hpp"
#include "lessons/engine/lesson.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        auto lesson = isolab::lessons::parse_lesson(std::string(isolab::fuzz::as_text(data, size)), "tasks.yaml");
        for (const auto& task : lesson.tasks) (void)lesson.find_task(task.id);
    } catch (const isolab::Error&) {
    }
    return 0;
}
