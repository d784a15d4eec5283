#pragma once
// The state of one build stage while its instructions run, shared by the builder and the
// instructions that only change the image config.
#include <string>
#include <vector>

#include "runtime/build/dockerfile.hpp"
#include "runtime/build/words.hpp"
#include "runtime/image/store.hpp"

namespace isolab::build {

struct StageState {
    std::string name;                         // the AS name, lower case; empty when unnamed
    std::string label;                        // the name, or "stage-N", for progress lines
    std::vector<image::Layer> layers;         // base first
    image::RunConfig config;
    std::vector<image::HistoryEntry> history;
    Variables args;                           // ARGs declared in this stage, with their values
    std::string cache_key;                    // chains the parent, every step so far and the layers they wrote
    bool cmd_set = false;                     // CMD was given in this stage
    std::vector<std::string> shell{"/bin/sh", "-c"};

    // The variables an instruction may substitute: ARGs, overridden by ENV.
    Variables variables() const;
    // The ENV entries plus the ARGs that ENV does not override, for RUN.
    std::vector<std::string> run_environment() const;
};

// Applies an instruction that changes only the image config (ENV, LABEL, EXPOSE,
// VOLUME, USER, CMD, ENTRYPOINT, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER).
// Returns the step's description for history and the cache key, after substitution.
// Throws Error naming the Dockerfile line for invalid arguments.
std::string apply_config_instruction(StageState& stage, const Instruction& instruction, char escape,
                                     const std::string& file);

}  // namespace isolab::build
