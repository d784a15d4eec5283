#pragma once
// Variable substitution and word splitting in Dockerfile arguments, as Docker's
// Dockerfile reference describes them: $NAME, ${NAME}, ${NAME:-word}, ${NAME-word},
// ${NAME:+word}, ${NAME+word}, ${NAME:?message} and ${NAME?message}. Single quotes keep
// text literal, double quotes allow substitution, and the escape character (\ or `)
// makes the next character literal, so \$NAME stays as written without the escape.
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace isolab::build {

// Variables visible to an instruction: the stage's ENV and the ARGs in scope.
using Variables = std::map<std::string, std::string>;

// Substitutes variables in `text` and removes quotes and escape characters, keeping it
// one word. An undefined variable becomes the empty string. Throws Error for an
// unterminated quote or ${, an unsupported modifier, and ${NAME:?message} when NAME is
// unset or empty. The message has no line number, which callers add.
std::string expand_word(std::string_view text, const Variables& variables, char escape);

// Like expand_word, and splits the result into words at unquoted whitespace, also where
// the whitespace came from a substituted value.
std::vector<std::string> expand_words(std::string_view text, const Variables& variables, char escape);

}  // namespace isolab::build
