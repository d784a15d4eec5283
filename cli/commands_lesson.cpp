// `isolab lesson ...`: the classroom lessons (list, show, start, check, hint, reset,
// solve) and `isolab report --class DIR`, the instructor's class table.
#include <iostream>

#include "cli/context.hpp"
#include "lessons/engine/classroom.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/files.hpp"

namespace isolab::cli {

namespace {

lessons::Classroom open_classroom(const Context& context) {
    return lessons::Classroom(lessons::ClassroomOptions::from_environment(context.paths));
}

void add_lesson_check(CLI::App& lesson, Context& context) {
    auto* check = lesson.add_subcommand("check", "Check the tasks of a lesson and show the first hint of the first open one");
    static std::string reference;
    static bool all = false;
    static bool json = false;
    check->add_option("lesson", reference, "Lesson number, e.g. 2");
    check->add_flag("--all", all, "Check every started lesson and print the student's record (with --json)");
    check->add_flag("--json", json, "Print JSON instead of text");
    check->callback([&context] {
        if (all == !reference.empty()) throw Error("give a lesson number or --all, not both", "e.g. isolab lesson check 2");
        auto classroom = open_classroom(context);
        if (all) {
            auto record = classroom.record(true);
            if (!json) throw Error("--all prints the student's record as JSON", "add --json");
            std::cout << record.dump(2) << "\n";
            return;
        }
        auto report = classroom.check(reference);
        if (json) {
            std::cout << lessons::lesson_report_json(report).dump(2) << "\n";
        } else {
            lessons::print_lesson_report(report, std::cout);
        }
    });
}

void add_lesson_commands(CLI::App& app, Context& context) {
    auto* lesson = app.add_subcommand("lesson", "Classroom lessons: virtual machines and containers, step by step");
    lesson->require_subcommand(1);
    static std::string reference;

    lesson->add_subcommand("list", "List the lessons with your progress")->callback([&context] {
        open_classroom(context).list(std::cout);
    });

    auto* show = lesson->add_subcommand("show", "Print a lesson's text and its tasks");
    show->add_option("lesson", reference, "Lesson number, e.g. 2")->required();
    show->callback([&context] { open_classroom(context).show(reference, std::cout); });

    auto* start = lesson->add_subcommand("start", "Prepare a lesson: images, a clean project folder, and your progress");
    start->add_option("lesson", reference, "Lesson number, e.g. 2")->required();
    start->callback([&context] { open_classroom(context).start(reference, std::cout); });

    add_lesson_check(*lesson, context);

    auto* hint = lesson->add_subcommand("hint", "Show the next hint for the first task not done yet");
    hint->add_option("lesson", reference, "Lesson number, e.g. 2")->required();
    hint->callback([&context] { open_classroom(context).hint(reference, std::cout); });

    auto* reset = lesson->add_subcommand("reset", "Forget your progress in a lesson and remove its project folder");
    reset->add_option("lesson", reference, "Lesson number, e.g. 2")->required();
    reset->callback([&context] { open_classroom(context).reset(reference, std::cout); });

    auto* solve = lesson->add_subcommand("solve", "For instructors: run the solution of every open task, then check it");
    solve->add_option("lesson", reference, "Lesson number, e.g. 2")->required();
    solve->callback([&context] {
        if (!open_classroom(context).solve(reference, std::cout)) context.exit_code = 1;
    });
}

}  // namespace

void register_lesson_commands(CLI::App& app, Context& context) {
    add_lesson_commands(app, context);
}

}  // namespace isolab::cli
