#include "cli/phase_table.hpp"

#include <cstdio>

namespace isolab::cli {

void print_phase_table(const PhaseRecorder& phases) {
    std::fprintf(stderr, "%-20s %10s %10s\n", "PHASE", "AT (ms)", "STEP (ms)");
    double previous = 0;
    for (const auto& mark : phases.marks()) {
        std::fprintf(stderr, "%-20s %10.1f %10.1f\n", mark.name.c_str(), mark.at_ms, mark.at_ms - previous);
        previous = mark.at_ms;
    }
}

}  // namespace isolab::cli
