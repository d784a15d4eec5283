#include "runtime/build/words.hpp"

#include <cctype>
#include <optional>

#include "runtime/core/error.hpp"

namespace isolab::build {

namespace {

bool is_name_start(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}

bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

class Lexer {
public:
    Lexer(std::string_view text, const Variables& variables, char escape, bool split)
        : text_(text), variables_(variables), escape_(escape), split_(split) {}

    std::vector<std::string> run() {
        while (position_ < text_.size()) {
            char c = text_[position_++];
            if (is_space(c) && split_) {
                end_word();
            } else if (c == '\'') {
                single_quoted();
            } else if (c == '"') {
                double_quoted();
            } else if (c == escape_) {
                in_word_ = true;
                if (position_ < text_.size()) word_ += text_[position_++];
            } else if (c == '$') {
                add_unquoted(substitute());
            } else {
                in_word_ = true;
                word_ += c;
            }
        }
        end_word();
        return words_;
    }

private:
    void end_word() {
        if (in_word_) words_.push_back(word_);
        word_.clear();
        in_word_ = false;
    }

    // Adds a substituted value outside quotes, where its whitespace splits words.
    void add_unquoted(const std::string& value) {
        for (char c : value) {
            if (is_space(c) && split_) {
                end_word();
            } else {
                in_word_ = true;
                word_ += c;
            }
        }
    }

    void single_quoted() {
        in_word_ = true;
        size_t end = text_.find('\'', position_);
        if (end == std::string_view::npos) throw Error("unterminated single quote in '" + std::string(text_) + "'");
        word_ += text_.substr(position_, end - position_);
        position_ = end + 1;
    }

    void double_quoted() {
        in_word_ = true;
        while (position_ < text_.size()) {
            char c = text_[position_++];
            if (c == '"') return;
            if (c == escape_ && position_ < text_.size()) {
                char next = text_[position_];
                // Inside double quotes only ", $ and the escape character itself can be escaped.
                if (next == '"' || next == '$' || next == escape_) {
                    word_ += next;
                    ++position_;
                    continue;
                }
                word_ += c;
            } else if (c == '$') {
                word_ += substitute();
            } else {
                word_ += c;
            }
        }
        throw Error("unterminated double quote in '" + std::string(text_) + "'");
    }

    std::optional<std::string> lookup(const std::string& name) const {
        auto found = variables_.find(name);
        if (found == variables_.end()) return std::nullopt;
        return found->second;
    }

    // Substitutes the variable reference after a `$` at position_.
    std::string substitute() {
        if (position_ >= text_.size()) return "$";
        if (text_[position_] == '{') {
            ++position_;
            return braced();
        }
        if (!is_name_start(text_[position_])) return "$";
        size_t start = position_;
        while (position_ < text_.size() && is_name_char(text_[position_])) ++position_;
        return lookup(std::string(text_.substr(start, position_ - start))).value_or("");
    }

    std::string braced() {
        size_t start = position_;
        while (position_ < text_.size() && is_name_char(text_[position_])) ++position_;
        std::string name(text_.substr(start, position_ - start));
        if (name.empty()) throw Error("invalid variable reference '${' in '" + std::string(text_) + "'");
        if (position_ >= text_.size()) throw Error("missing '}' in '" + std::string(text_) + "'");
        if (text_[position_] == '}') {
            ++position_;
            return lookup(name).value_or("");
        }

        bool colon = text_[position_] == ':';
        if (colon) ++position_;
        char modifier = position_ < text_.size() ? text_[position_++] : '\0';
        if (modifier != '-' && modifier != '+' && modifier != '?') {
            throw Error("unsupported modifier in '${" + name + (colon ? ":" : "") + std::string(1, modifier) + "' in '" +
                            std::string(text_) + "'",
                        "isolab supports ${NAME:-word}, ${NAME-word}, ${NAME:+word}, ${NAME+word} and ${NAME:?message}");
        }
        std::string word = expand_word(braced_word(), variables_, escape_);

        auto value = lookup(name);
        bool set = colon ? value && !value->empty() : value.has_value();
        if (modifier == '-') return set ? *value : word;
        if (modifier == '+') return set ? word : std::string();
        if (!set) throw Error(name + ": " + (word.empty() ? "parameter not set" : word));
        return *value;
    }

    // The text up to the `}` that closes the current ${, skipping nested braces.
    std::string_view braced_word() {
        size_t start = position_;
        int depth = 1;
        while (position_ < text_.size()) {
            char c = text_[position_];
            if (c == escape_) {
                position_ += 2;
                continue;
            }
            if (c == '{') ++depth;
            if (c == '}' && --depth == 0) {
                std::string_view word = text_.substr(start, position_ - start);
                ++position_;
                return word;
            }
            ++position_;
        }
        throw Error("missing '}' in '" + std::string(text_) + "'");
    }

    std::string_view text_;
    const Variables& variables_;
    char escape_;
    bool split_;
    size_t position_ = 0;
    std::string word_;
    bool in_word_ = false;
    std::vector<std::string> words_;
};

}  // namespace

std::string expand_word(std::string_view text, const Variables& variables, char escape) {
    auto words = Lexer(text, variables, escape, false).run();
    return words.empty() ? std::string() : words.front();
}

std::vector<std::string> expand_words(std::string_view text, const Variables& variables, char escape) {
    return Lexer(text, variables, escape, true).run();
}

}  // namespace isolab::build
