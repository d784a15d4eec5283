#include "runtime/build/builder.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "runtime/build/cache.hpp"
#include "runtime/build/copy.hpp"
#include "runtime/build/dockerfile.hpp"
#include "runtime/build/dockerignore.hpp"
#include "runtime/build/stage.hpp"
#include "runtime/build/tree.hpp"
#include "runtime/build/upper_dir.hpp"
#include "runtime/container/manage.hpp"
#include "runtime/container/record.hpp"
#include "runtime/container/run.hpp"
#include "runtime/core/digest.hpp"
#include "runtime/core/error.hpp"
#include "runtime/core/fault.hpp"
#include "runtime/core/files.hpp"
#include "runtime/image/bootstrap.hpp"
#include "runtime/image/layer_unpack.hpp"
#include "runtime/image/layout.hpp"
#include "runtime/image/manifest.hpp"

namespace isolab::build {

namespace fs = std::filesystem;

namespace {

using image::TarEntry;
using SteadyClock = std::chrono::steady_clock;

// Build arguments Docker defines without an ARG line, so passing them is never "unused".
const std::set<std::string> predefined_args{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
                                            "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy"};

std::string lower(std::string text) {
    for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

std::string join_words(const std::vector<std::string>& words) {
    std::string text;
    for (const auto& word : words) text += (text.empty() ? "" : " ") + word;
    return text;
}

// A stage as written: its FROM line and the instructions after it.
struct StageSpec {
    const Instruction* from = nullptr;
    std::string base;          // the FROM image or stage, after substitution of global ARGs
    std::string name;          // the AS name, lower case
    std::vector<const Instruction*> body;
};

// Removes the container of a RUN step, also when the run failed or threw.
class StepContainer {
public:
    StepContainer(const Paths& paths) : paths_(paths), name_("isolab-build-" + random_hex_id().substr(0, 16)) {}
    ~StepContainer() {
        try {
            if (auto found = container::find_container(paths_, name_)) {
                container::remove_container(paths_, found->config.id, true);
            }
        } catch (const std::exception& error) {
            spdlog::warn("cannot remove the build container {}: {}", name_, error.what());
        }
    }
    StepContainer(const StepContainer&) = delete;
    StepContainer& operator=(const StepContainer&) = delete;
    const std::string& name() const { return name_; }

private:
    const Paths& paths_;
    std::string name_;
};

bool is_archive(const fs::path& file) {
    std::ifstream input(file, std::ios::binary);
    std::string head(512, '\0');
    input.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(input.gcount()));
    auto starts = [&](std::string_view magic) { return head.rfind(magic, 0) == 0; };
    if (starts("\x1f\x8b") || starts("BZh") || starts("\xfd" "7zXZ") || starts("\x28\xb5\x2f\xfd")) return true;
    return head.size() >= 262 && head.compare(257, 5, "ustar") == 0;
}

bool is_url(const std::string& source) {
    return source.find("://") != std::string::npos || source.rfind("git@", 0) == 0;
}

class Builder {
public:
    Builder(image::Store& store, const BuildOptions& options)
        : store_(store), options_(options), cache_(store.paths()), layout_(store.paths().images()) {}

    BuildResult run() {
        load_inputs();
        split_stages();
        size_t target = target_stage();
        std::set<size_t> needed;
        collect_needed(target, needed);
        built_.resize(stages_.size());
        for (size_t index = 0; index <= target; ++index) {
            if (needed.count(index)) build_stage(index);
        }
        warn_unused_args();
        return finish(*built_[target]);
    }

private:
    // --- inputs -----------------------------------------------------------------------

    void load_inputs() {
        if (!fs::is_directory(options_.context)) {
            throw Error("build context " + options_.context.string() + " is not a directory", "give the folder to build from");
        }
        fs::path dockerfile = options_.dockerfile.empty() ? options_.context / "Dockerfile" : options_.dockerfile;
        if (!fs::is_regular_file(dockerfile)) {
            throw Error("Dockerfile " + dockerfile.string() + " not found", "create it, or name another file with -f FILE");
        }
        for (const auto& tag : options_.tags) image::normalize_reference(tag);
        file_ = dockerfile.filename().string();
        dockerfile_ = parse_dockerfile(read_file(dockerfile), file_);
        IgnoreRules rules;
        fs::path ignore_file = options_.context / ".dockerignore";
        if (fs::is_regular_file(ignore_file)) rules = IgnoreRules(read_file(ignore_file));
        context_ = std::make_unique<ContextTree>(options_.context, std::move(rules));
        fs::create_directories(store_.paths().tmp());
    }

    std::string error_at(const Instruction& instruction, const std::string& message) const {
        return at_line(file_, instruction.line, message);
    }

    void split_stages() {
        for (const auto& instruction : dockerfile_.instructions) {
            try {
                if (instruction.keyword == "FROM") {
                    stages_.push_back(parse_from(instruction));
                } else if (stages_.empty()) {
                    declare_args(instruction, global_args_, global_args_, nullptr);
                } else {
                    stages_.back().body.push_back(&instruction);
                }
            } catch (const Error& error) {
                rethrow_at_line(instruction, error);
            }
        }
    }

    // Rethrows `error` with the Dockerfile line in front, unless it already names one.
    [[noreturn]] void rethrow_at_line(const Instruction& instruction, const Error& error) const {
        std::string message = error.what();
        if (message.rfind(file_ + ":", 0) == 0) throw error;
        throw Error(error_at(instruction, message), error.hint(), error.exit_code());
    }

    StageSpec parse_from(const Instruction& instruction) {
        StageSpec spec;
        spec.from = &instruction;
        auto words = expand_words(instruction.arguments, global_args_, dockerfile_.escape);
        if (words.size() == 3 && lower(words[1]) == "as") {
            spec.name = lower(words[2]);
            bool valid = !spec.name.empty() && std::isalpha(static_cast<unsigned char>(spec.name.front())) &&
                         spec.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.-") == std::string::npos;
            if (!valid) {
                throw Error(error_at(instruction, "invalid stage name '" + words[2] + "'"),
                            "start it with a letter and use letters, digits, '_', '.' and '-'");
            }
            for (const auto& earlier : stages_) {
                if (earlier.name == spec.name) {
                    throw Error(error_at(instruction, "the stage name '" + words[2] + "' is used twice"), "rename one");
                }
            }
        } else if (words.size() != 1) {
            throw Error(error_at(instruction, "FROM needs IMAGE or IMAGE AS NAME"), "e.g. FROM busybox AS builder");
        }
        spec.base = words[0];
        if (auto platform = instruction.flag("platform"); platform && *platform != "linux/amd64") {
            throw Error(error_at(instruction, "isolab builds only for linux/amd64, not " + *platform),
                        "remove --platform or set it to linux/amd64");
        }
        return spec;
    }

    // Declares the ARGs of one ARG line into `scope`. A value comes from --build-arg,
    // else from the global ARG of that name, else from the default in the line.
    std::string declare_args(const Instruction& instruction, Variables& scope, const Variables& substitution,
                             const Variables* globals) {
        std::string description = "ARG";
        for (const auto& word : expand_words(instruction.arguments, substitution, dockerfile_.escape)) {
            size_t equals = word.find('=');
            std::string name = word.substr(0, equals);
            if (name.empty()) throw Error(error_at(instruction, "ARG needs a name"), "e.g. ARG VERSION=1.0");
            std::optional<std::string> value;
            if (equals != std::string::npos) value = word.substr(equals + 1);
            if (globals && equals == std::string::npos && globals->count(name)) value = globals->at(name);
            if (auto given = options_.build_args.find(name); given != options_.build_args.end()) {
                value = given->second;
                consumed_args_.insert(name);
            }
            if (value) {
                scope[name] = *value;
                description += " " + name + "=" + *value;
            } else {
                scope.erase(name);
                description += " " + name;
            }
        }
        return description;
    }

    size_t target_stage() const {
        if (options_.target.empty()) return stages_.size() - 1;
        for (size_t index = 0; index < stages_.size(); ++index) {
            if (stages_[index].name == lower(options_.target)) return index;
        }
        throw Error("target stage '" + options_.target + "' not found in " + file_, "name a stage given with FROM ... AS NAME");
    }

    std::optional<size_t> find_stage(const std::string& reference, size_t before) const {
        std::string name = lower(reference);
        for (size_t index = 0; index < before; ++index) {
            if (!stages_[index].name.empty() && stages_[index].name == name) return index;
        }
        bool numeric = !name.empty() && name.find_first_not_of("0123456789") == std::string::npos;
        if (numeric && std::stoul(name) < before) return std::stoul(name);
        return std::nullopt;
    }

    // Marks `index` and the stages it uses (FROM, COPY --from) as needed, as BuildKit
    // builds only the stages the target depends on.
    void collect_needed(size_t index, std::set<size_t>& needed) const {
        if (!needed.insert(index).second) return;
        const auto& spec = stages_[index];
        if (auto base = find_stage(spec.base, index)) collect_needed(*base, needed);
        for (const auto* instruction : spec.body) {
            if (instruction->keyword != "COPY") continue;
            auto from = instruction->flag("from");
            if (!from) continue;
            if (auto stage = find_stage(expand_word(*from, global_args_, dockerfile_.escape), index)) {
                collect_needed(*stage, needed);
            }
        }
    }

    // --- progress -----------------------------------------------------------------------

    void print(const std::string& line) const {
        if (options_.progress) options_.progress(line);
    }

    void begin_step(const StageState& stage, size_t position, size_t count, const std::string& text) {
        ++step_number_;
        step_started_ = SteadyClock::now();
        print(fmt::format("#{} [{} {}/{}] {}", step_number_, stage.label, position, count, text));
    }

    void end_step(bool cached) {
        ++steps_;
        if (cached) {
            ++cached_steps_;
            print(fmt::format("#{} CACHED", step_number_));
            return;
        }
        double seconds = std::chrono::duration<double>(SteadyClock::now() - step_started_).count();
        print(fmt::format("#{} DONE {:.1f}s", step_number_, seconds));
    }

    // --- stages -------------------------------------------------------------------------

    void build_stage(size_t index) {
        const auto& spec = stages_[index];
        current_stage_ = index;
        StageState stage = start_stage(spec, index);
        size_t count = spec.body.size() + 1;
        for (size_t position = 0; position < spec.body.size(); ++position) {
            const Instruction& instruction = *spec.body[position];
            begin_step(stage, position + 2, count, instruction.text);
            run_instruction(stage, instruction);
        }
        built_[index] = std::move(stage);
    }

    StageState start_stage(const StageSpec& spec, size_t index) {
        StageState stage;
        bool base_was_present = false;
        stage.name = spec.name;
        stage.label = spec.name.empty() ? "stage-" + std::to_string(index) : spec.name;
        begin_step(stage, 1, spec.body.size() + 1, spec.from->text);

        if (lower(spec.base) == "scratch") {
            stage.cache_key = sha256_digest("scratch");
        } else if (auto earlier = find_stage(spec.base, index); earlier && !stages_[*earlier].name.empty()) {
            const StageState& base = *built_[*earlier];
            stage.layers = base.layers;
            stage.config = base.config;
            stage.history = base.history;
            stage.shell = base.shell;
            stage.cache_key = base.cache_key;
        } else {
            // A base image already in the store is reported as CACHED, as BuildKit
            // reports a base it does not need to fetch, unless --no-cache is given.
            base_was_present = !options_.no_cache && base_in_store(spec.base);
            image::Image base = resolve_image(spec.base, *spec.from);
            pin_layers(base, *spec.from);
            stage.layers = base.layers;
            stage.config = base.config;
            stage.history = base.history;
            if (!base.config.shell.empty()) stage.shell = base.config.shell;
            stage.cache_key = base.config_digest;
            if (!base.config.on_build.empty()) {
                print(fmt::format("#{} WARNING: {} has ONBUILD triggers; isolab records ONBUILD but does not run them",
                                  step_number_, spec.base));
            }
        }
        // ONBUILD triggers of the base belong to the base, not to images built from it.
        stage.config.on_build.clear();
        end_step(base_was_present);
        return stage;
    }

    bool base_in_store(const std::string& reference) const {
        try {
            return store_.find(reference).has_value();
        } catch (const Error&) {
            return false;  // resolve_image reports the invalid reference
        }
    }

    // Pins the layers of a base image until the build's tag is written, so an `isolab rmi`
    // of the base in another process cannot collect them mid-build.
    void pin_layers(const image::Image& base, const Instruction& instruction) {
        for (const auto& layer : base.layers) {
            layout_.pin(layer.digest);
            if (!layout_.has_blob(layer.digest)) {
                throw Error(error_at(instruction, "image " + base.reference + " was removed while the build read it"),
                            "run the build again");
            }
        }
    }

    image::Image resolve_image(const std::string& reference, const Instruction& instruction) {
        try {
            return store_.resolve(reference);
        } catch (const Error& error) {
            if (auto hint = image::bootstrap_hint(reference)) throw Error(error_at(instruction, error.what()), *hint);
            throw Error(error_at(instruction, error.what()),
                        "isolab builds offline and never pulls from a registry: load the image with `isolab load -i FILE` "
                        "or create it with `isolab import ROOTFS.tar " + reference + "`");
        }
    }

    void run_instruction(StageState& stage, const Instruction& instruction) {
        const std::string& keyword = instruction.keyword;
        try {
            if (keyword == "ARG") {
                std::string description = declare_args(instruction, stage.args, stage.variables(), &global_args_);
                stage.cache_key = step_key(stage.cache_key, description);
                end_step(false);
            } else if (keyword == "RUN") {
                run_step(stage, instruction);
            } else if (keyword == "COPY" || keyword == "ADD") {
                copy_step(stage, instruction);
            } else if (keyword == "WORKDIR") {
                workdir_step(stage, instruction);
            } else {
                std::string description = apply_config_instruction(stage, instruction, dockerfile_.escape, file_);
                stage.cache_key = step_key(stage.cache_key, description);
                add_history(stage, description, true);
                end_step(false);
            }
        } catch (const Error& error) {
            rethrow_at_line(instruction, error);
        }
    }

    void add_history(StageState& stage, const std::string& created_by, bool empty_layer) {
        stage.history.push_back(image::HistoryEntry{created_timestamp(), created_by, {}, empty_layer});
    }

    std::string created_timestamp() const {
        return image::format_rfc3339(options_.source_date_epoch.value_or(std::time(nullptr)));
    }

    std::time_t layer_mtime() const { return options_.source_date_epoch.value_or(0); }

    // The cache entry of a layer step. A zstd build has its own entries, so it never
    // reuses a gzip layer; gzip keeps the step key, and with it the existing entries.
    std::string layer_cache_key(const std::string& key) const {
        return options_.compression == image::Compression::gzip ? key : step_key(key, "compression zstd");
    }

    // Looks the step up in the cache; on a hit applies its layer and returns true.
    bool use_cache(StageState& stage, const std::string& key, const std::string& created_by) {
        if (options_.no_cache) return false;
        auto cached = cache_.find(layer_cache_key(key), store_);
        if (!cached) return false;
        if (cached->layer) {
            // Pinned, the cached layer stays until the tag is written. It may have been
            // collected between the lookup and the pin, which counts as a miss.
            layout_.pin(cached->layer->digest);
            if (!layout_.has_blob(cached->layer->digest)) return false;
        }
        finish_layer_step(stage, key, created_by, cached->layer);
        end_step(true);
        return true;
    }

    void finish_layer_step(StageState& stage, const std::string& key, const std::string& created_by,
                           const std::optional<image::Layer>& layer) {
        if (layer) stage.layers.push_back(*layer);
        add_history(stage, created_by, !layer);
        // The steps after depend on the layer's content, not only on how it was made: a
        // step that ran again and wrote other files must not reuse their cache entries.
        stage.cache_key = layer ? step_key(key, layer->digest) : key;
    }

    // Writes `entries` as a layer (none when empty), stores it in the cache and the stage.
    // write_layer pins the layer until the build ends, after its tag is written.
    void commit_entries(StageState& stage, const std::string& key, const std::string& created_by,
                        std::vector<TarEntry> entries) {
        std::optional<image::Layer> layer;
        ++layer_steps_run_;
        if (!entries.empty()) layer = image::write_layer(layout_, std::move(entries), layer_mtime(), options_.compression);
        cache_.store(layer_cache_key(key), CachedStep{layer});
        fault_point("build.layer");
        finish_layer_step(stage, key, created_by, layer);
        end_step(false);
    }

    std::vector<fs::path> lowerdirs(const StageState& stage) {
        std::vector<fs::path> folders;
        for (auto layer = stage.layers.rbegin(); layer != stage.layers.rend(); ++layer) {
            folders.push_back(store_.unpacked_layer(*layer));
        }
        return folders;
    }

    // --- RUN ----------------------------------------------------------------------------

    std::vector<std::string> run_argv(const StageState& stage, const Instruction& instruction) const {
        if (instruction.exec_form) {
            if (instruction.exec_form->empty()) throw Error("RUN needs a command");
            return *instruction.exec_form;
        }
        std::vector<std::string> argv = stage.shell;
        const auto& heredocs = instruction.heredocs;
        bool only_heredoc = heredocs.size() == 1 && instruction.arguments.rfind("<<", 0) == 0 &&
                            instruction.arguments.find_first_of(" \t") == std::string::npos;
        if (only_heredoc) {
            // NOTE: a script starting with #! still runs through the SHELL, not its interpreter.
            argv.push_back(heredocs.front().content);
            return argv;
        }
        std::string script = instruction.arguments;
        for (const auto& heredoc : heredocs) script += "\n" + heredoc.content + heredoc.name;
        argv.push_back(script);
        return argv;
    }

    void run_step(StageState& stage, const Instruction& instruction) {
        if (auto network = instruction.flag("network"); network && *network != "none") {
            throw Error("RUN --network=" + *network + " is not supported: build steps run without network",
                        "remove the flag, or use --network=none");
        }
        if (instruction.flag("mount") || instruction.flag("security")) {
            throw Error("RUN --mount and --security are not supported", "copy what the step needs with COPY first");
        }
        auto argv = run_argv(stage, instruction);
        std::string created_by = "RUN " + join_words(argv);
        std::string key = step_key(stage.cache_key, "RUN " + nlohmann::json(argv).dump());
        if (use_cache(stage, key, created_by)) return;

        // A stage without layers still needs one lowerdir for overlayfs.
        std::optional<TemporaryDirectory> empty_lower;
        container::ImageRootfs rootfs;
        rootfs.reference = "build step " + std::to_string(step_number_);
        rootfs.lowerdirs = lowerdirs(stage);
        if (rootfs.lowerdirs.empty()) {
            empty_lower.emplace(store_.paths().tmp(), "build-empty-");
            rootfs.lowerdirs.push_back(empty_lower->path());
        }
        rootfs.config.env = stage.run_environment();
        rootfs.config.user = stage.config.user;

        StepContainer step_container(store_.paths());
        container::RunOptions run;
        run.command = argv;
        run.name = step_container.name();
        run.dies_with_owner = true;
        run.user = stage.config.user;
        run.working_dir = stage.config.working_dir.empty() ? "/" : stage.config.working_dir;
        auto started = step_started_;
        int number = step_number_;
        run.on_output_line = [this, started, number](std::string_view line, bool, auto) {
            double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
            print(fmt::format("#{} {:.3f} {}", number, seconds, line));
        };

        auto result = container::run_image_rootfs(store_.paths(), rootfs, run);
        if (result.exit_code != 0) {
            // One line, as BuildKit quotes the command: a here-document's script has newlines.
            print(fmt::format("#{} ERROR: process \"{}\" did not complete successfully: exit code: {}", step_number_,
                              printable(join_words(argv), kMaxErrorMessageBytes), result.exit_code));
            throw Error(error_at(instruction, "RUN failed with exit code " + std::to_string(result.exit_code) + ": " +
                                                  instruction.text),
                        "the step's output above shows why", 1);
        }
        auto upper = container::container_paths(store_.paths(), result.id).upperdir();
        commit_entries(stage, key, created_by, upper_dir_entries(upper));
    }

    // --- COPY and ADD -------------------------------------------------------------------

    std::string absolute_destination(const StageState& stage, const std::string& destination) const {
        if (!destination.empty() && destination.front() == '/') return destination;
        std::string base = stage.config.working_dir.empty() ? "/" : stage.config.working_dir;
        if (base.back() != '/') base += '/';
        return base + (destination == "." ? "" : destination);
    }

    const SourceTree& stage_tree(size_t index) {
        auto& tree = stage_trees_[index];
        if (!tree) tree = std::make_unique<LayerTree>(lowerdirs(*built_[index]));
        return *tree;
    }

    std::vector<TarEntry> heredoc_entries(const StageState& stage, const Heredoc& heredoc, const std::string& destination,
                                          const CopyRequest& request) {
        std::string path = destination.back() == '/' ? destination + heredoc.name : destination;
        auto relative = normalize_relative(path);
        if (!relative || relative->empty()) throw Error("invalid destination " + path + " for <<" + heredoc.name);
        Owner owner = request.chown.value_or(Owner{});
        TarEntry file{TarEntry::Type::file, *relative, request.chmod.value_or(0644), owner.uid, owner.gid,
                      heredoc.expand ? expand_word_keeping_quotes(heredoc.content, stage) : heredoc.content, {}, {}};
        auto entries = plan_directory(*request.image, relative->substr(0, relative->rfind('/') == std::string::npos
                                                                               ? 0
                                                                               : relative->rfind('/')),
                                      Owner{});
        entries.push_back(file);
        return entries;
    }

    // Substitutes variables in a here-document as Docker does: quotes stay as written.
    std::string expand_word_keeping_quotes(const std::string& text, const StageState& stage) const {
        std::string escaped;
        for (char c : text) {
            if (c == '"' || c == '\'') escaped += dockerfile_.escape;
            escaped += c;
        }
        return expand_word(escaped, stage.variables(), dockerfile_.escape);
    }

    void copy_step(StageState& stage, const Instruction& instruction) {
        bool add = instruction.keyword == "ADD";
        auto words = instruction.exec_form ? *instruction.exec_form
                                           : expand_words(instruction.arguments, stage.variables(), dockerfile_.escape);
        if (instruction.exec_form) {
            for (auto& word : words) word = expand_word(word, stage.variables(), dockerfile_.escape);
        }
        if (words.size() < 2) {
            throw Error(instruction.keyword + " needs a source and a destination", "e.g. COPY app/ /srv/app/");
        }
        std::string destination = absolute_destination(stage, words.back());
        words.pop_back();

        LayerTree image(lowerdirs(stage));
        CopyRequest request;
        request.image = &image;
        request.destination = destination;
        if (auto chown = instruction.flag("chown")) {
            request.chown = parse_chown(expand_word(*chown, stage.variables(), dockerfile_.escape), image);
        }
        if (auto chmod = instruction.flag("chmod")) request.chmod = parse_chmod(*chmod);
        request.source_tree = context_.get();
        std::string source_description = "context";
        if (auto from = instruction.flag("from")) {
            std::string reference = expand_word(*from, stage.variables(), dockerfile_.escape);
            request.keep_source_owner = true;
            if (auto index = find_stage(reference, current_stage_)) {
                request.source_tree = &stage_tree(*index);
                source_description = "stage " + built_[*index]->cache_key;
            } else {
                image::Image source = resolve_image(reference, instruction);
                pin_layers(source, instruction);
                auto tree = std::make_unique<LayerTree>(store_.lowerdirs(source));
                request.source_tree = tree.get();
                image_trees_.push_back(std::move(tree));
                source_description = "image " + source.config_digest;
            }
        }

        std::map<std::string, TarEntry> merged;
        auto merge = [&](std::vector<TarEntry> entries) {
            for (auto& entry : entries) merged[entry.path] = std::move(entry);
        };
        std::vector<std::string> plain_sources;
        std::vector<std::unique_ptr<TemporaryDirectory>> extracted;
        for (const auto& source : words) {
            if (source.rfind("<<", 0) == 0) {
                std::string name = source.substr(2);
                name.erase(0, name.find_first_not_of("-\"'"));
                while (!name.empty() && (name.back() == '"' || name.back() == '\'')) name.pop_back();
                auto heredoc = std::find_if(instruction.heredocs.begin(), instruction.heredocs.end(),
                                            [&](const Heredoc& item) { return item.name == name; });
                if (heredoc == instruction.heredocs.end()) throw Error("here-document " + source + " has no body");
                merge(heredoc_entries(stage, *heredoc, destination, request));
                continue;
            }
            if (add && is_url(source)) {
                throw Error("ADD " + source + " needs the network, and isolab builds offline",
                            "download the file into the build context and COPY it");
            }
            if (add && request.source_tree == context_.get()) {
                auto relative = normalize_relative(source);
                auto entry = relative ? context_->lookup(*relative) : std::nullopt;
                if (entry && S_ISREG(entry->info.st_mode) && is_archive(entry->host_path)) {
                    merge(extract_archive(entry->host_path, destination, request, extracted));
                    continue;
                }
            }
            plain_sources.push_back(source);
        }
        if (!plain_sources.empty()) {
            request.sources = plain_sources;
            merge(plan_copy(request));
        }

        std::vector<TarEntry> entries;
        for (auto& [path, entry] : merged) entries.push_back(std::move(entry));
        std::string flags;
        for (const auto& flag : instruction.flags) flags += " " + flag;
        std::string created_by = instruction.keyword + flags + " " + join_words(words) + " " + destination;
        std::string key = step_key(stage.cache_key, created_by + " " + source_description + " " + entries_digest(entries));
        if (use_cache(stage, key, created_by)) return;
        commit_entries(stage, key, created_by, std::move(entries));
    }

    // Unpacks a local archive with the safe layer unpacker and plans copying its content.
    std::vector<TarEntry> extract_archive(const fs::path& archive, const std::string& destination,
                                          const CopyRequest& base_request,
                                          std::vector<std::unique_ptr<TemporaryDirectory>>& extracted) {
        extracted.push_back(std::make_unique<TemporaryDirectory>(store_.paths().tmp(), "build-add-"));
        const fs::path& folder = extracted.back()->path();
        try {
            image::unpack_layer(archive, folder);
        } catch (const Error& error) {
            throw Error("cannot extract " + archive.filename().string() + ": " + error.what(), error.hint());
        }
        extracted_trees_.push_back(std::make_unique<ContextTree>(folder, IgnoreRules{}));
        CopyRequest request = base_request;
        request.source_tree = extracted_trees_.back().get();
        request.keep_source_owner = true;
        request.sources = {"."};
        request.destination = destination.back() == '/' ? destination : destination + "/";
        return plan_copy(request);
    }

    // --- WORKDIR ------------------------------------------------------------------------

    void workdir_step(StageState& stage, const Instruction& instruction) {
        std::string path = expand_word(instruction.arguments, stage.variables(), dockerfile_.escape);
        auto relative = normalize_relative(absolute_destination(stage, path));
        if (!relative) throw Error("invalid WORKDIR " + path, "give an absolute path such as /app");
        stage.config.working_dir = "/" + *relative;
        std::string created_by = "WORKDIR " + stage.config.working_dir;
        std::string key = step_key(stage.cache_key, created_by);
        if (use_cache(stage, key, created_by)) return;
        LayerTree image(lowerdirs(stage));
        commit_entries(stage, key, created_by, plan_directory(image, *relative, Owner{}));
    }

    // --- result -------------------------------------------------------------------------

    void warn_unused_args() {
        std::string unused;
        for (const auto& [name, value] : options_.build_args) {
            if (!consumed_args_.count(name) && !global_args_.count(name) && !predefined_args.count(name)) {
                unused += (unused.empty() ? "" : " ") + name;
            }
        }
        if (!unused.empty()) print("[Warning] One or more build-args [" + unused + "] were not consumed");
    }

    BuildResult finish(const StageState& stage) {
        std::string config = image::make_image_config(stage.config, created_timestamp(), stage.history, stage.layers).dump();
        // Steps that all came from the cache reuse the config of the build that made them.
        if (layer_steps_run_ == 0 && !options_.no_cache) {
            if (auto cached = cache_.find_config(stage.cache_key)) config = *cached;
        }
        cache_.store_config(stage.cache_key, config);
        std::string id = sha256_digest(config);
        std::vector<std::string> tags = options_.tags;
        if (tags.empty()) tags.push_back("isolab-build:" + image::digest_hex(id).substr(0, 12));

        ++step_number_;
        step_started_ = SteadyClock::now();
        print(fmt::format("#{} exporting to image", step_number_));
        BuildResult result;
        fault_point("build.tag");
        for (const auto& tag : tags) {
            result.image = store_.add_image(tag, config, stage.layers);
            result.tags.push_back(result.image.reference);
            print(fmt::format("#{} naming to {} done", step_number_, result.image.reference));
        }
        print(fmt::format("#{} writing image {} done", step_number_, result.image.config_digest));
        result.steps = steps_;
        result.cached_steps = cached_steps_;
        return result;
    }

    image::Store& store_;
    const BuildOptions& options_;
    BuildCache cache_;
    image::OciLayout layout_;
    std::string file_;
    Dockerfile dockerfile_;
    std::unique_ptr<ContextTree> context_;
    Variables global_args_;
    std::set<std::string> consumed_args_;
    std::vector<StageSpec> stages_;
    std::vector<std::optional<StageState>> built_;
    std::map<size_t, std::unique_ptr<LayerTree>> stage_trees_;
    std::vector<std::unique_ptr<LayerTree>> image_trees_;
    std::vector<std::unique_ptr<ContextTree>> extracted_trees_;
    size_t current_stage_ = 0;
    int step_number_ = 0;
    size_t steps_ = 0;
    size_t cached_steps_ = 0;
    size_t layer_steps_run_ = 0;  // RUN, COPY, ADD and WORKDIR steps that ran instead of coming from the cache
    SteadyClock::time_point step_started_ = SteadyClock::now();
};

}  // namespace

BuildResult build_image(image::Store& store, const BuildOptions& options) {
    return Builder(store, options).run();
}

std::optional<std::time_t> source_date_epoch_from_environment() {
    const char* value = std::getenv("SOURCE_DATE_EPOCH");
    if (!value || !*value) return std::nullopt;
    std::string text = value;
    if (text.size() > 12 || text.find_first_not_of("0123456789") != std::string::npos) {
        throw Error("invalid SOURCE_DATE_EPOCH '" + text + "'", "give whole seconds since 1970-01-01, or unset it");
    }
    return static_cast<std::time_t>(std::stoll(text));
}

}  // namespace isolab::build
