// Report pieces shared by the table, report.md and report.html: the scale rows and the
// warnings about figures that do not mean what they seem.
#include "bench/report.hpp"

namespace isolab::bench {

std::vector<std::string> result_warnings(const Results& results) {
    std::vector<std::string> warnings;
    for (const auto& path : results.paths) {
        if (path.accelerator() != "tcg") continue;
        if (path.summaries.contains(figure::cpu_run)) {
            warnings.push_back("WARNING: " + path.name +
                               " ran under TCG, so its CPU figures are EMULATED: they measure how fast QEMU "
                               "translates the guest's code, not the host's CPU, and cannot be compared with "
                               "the container's.");
        }
    }
    return warnings;
}

std::vector<std::vector<std::string>> scale_rows(const Results& results) {
    std::vector<std::vector<std::string>> rows = {{"path", "instances"}};
    for (const auto& definition : scale_figure_catalog()) rows[0].push_back(definition.label);
    for (const auto& series : results.scale) {
        for (const auto& point : series.points) {
            std::vector<std::string> row = {series.path, std::to_string(point.instances)};
            if (!point.available) {
                row.push_back(point.missing_reason);
                rows.push_back(std::move(row));
                continue;
            }
            for (const auto& definition : scale_figure_catalog()) {
                auto found = point.figures.find(definition.key);
                row.push_back(found == point.figures.end() ? "-" : format_figure(found->second, definition.unit));
            }
            rows.push_back(std::move(row));
        }
    }
    return rows;
}

}  // namespace isolab::bench
