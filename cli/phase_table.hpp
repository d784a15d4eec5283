#pragma once
// The phase table that `isolab run --phases` and `isolab vm run --phases` print on stderr.
#include "runtime/core/clock.hpp"

namespace isolab::cli {

// Prints one row per mark: its name, milliseconds since the start request and
// milliseconds since the previous mark.
void print_phase_table(const PhaseRecorder& phases);

}  // namespace isolab::cli
