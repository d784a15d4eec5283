#include "runtime/core/duration.hpp"

#include <array>
#include <cctype>
#include <limits>
#include <utility>

#include "runtime/core/error.hpp"

namespace isolab {

namespace {

constexpr std::int64_t nanoseconds_per_microsecond = 1000;
constexpr std::int64_t nanoseconds_per_millisecond = 1000 * nanoseconds_per_microsecond;
constexpr std::int64_t nanoseconds_per_second = 1000 * nanoseconds_per_millisecond;
constexpr std::int64_t nanoseconds_per_minute = 60 * nanoseconds_per_second;
constexpr std::int64_t nanoseconds_per_hour = 60 * nanoseconds_per_minute;

// The units of Go's time package; "µs" is U+00B5 and "μs" U+03BC, both in UTF-8.
constexpr std::array<std::pair<std::string_view, std::int64_t>, 8> units{{{"ns", 1},
                                                                          {"us", nanoseconds_per_microsecond},
                                                                          {"\xC2\xB5s", nanoseconds_per_microsecond},
                                                                          {"\xCE\xBCs", nanoseconds_per_microsecond},
                                                                          {"ms", nanoseconds_per_millisecond},
                                                                          {"s", nanoseconds_per_second},
                                                                          {"m", nanoseconds_per_minute},
                                                                          {"h", nanoseconds_per_hour}}};

[[noreturn]] void invalid(std::string_view text, const std::string& reason) {
    throw Error("invalid duration '" + std::string(text) + "': " + reason, "give a duration such as 30s, 1m30s or 200ms");
}

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// Appends the digits of `value` / `unit` after a decimal point, without trailing zeros.
void append_fraction(std::string& text, std::uint64_t value, std::uint64_t unit) {
    auto fraction = value % unit;
    if (fraction == 0) return;
    std::string digits;
    for (auto scale = unit / 10; scale > 0; scale /= 10) digits += static_cast<char>('0' + (fraction / scale) % 10);
    digits.erase(digits.find_last_not_of('0') + 1);
    text += "." + digits;
}

}  // namespace

std::int64_t parse_duration(std::string_view text) {
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    std::string_view rest = text;
    bool negative = false;
    if (!rest.empty() && (rest.front() == '-' || rest.front() == '+')) {
        negative = rest.front() == '-';
        rest.remove_prefix(1);
    }
    if (rest == "0") return 0;
    if (rest.empty()) invalid(text, "it is empty");

    // Each term is summed as a whole part and a fraction kept in units of 1e-18, so "1.5h"
    // is exact and no floating point rounding enters.
    std::int64_t total = 0;
    while (!rest.empty()) {
        std::int64_t whole = 0;
        std::size_t whole_digits = 0;
        bool overflow = false;
        while (!rest.empty() && is_digit(rest.front())) {
            if (whole > (max - 9) / 10) overflow = true;
            if (!overflow) whole = whole * 10 + (rest.front() - '0');
            rest.remove_prefix(1);
            ++whole_digits;
        }
        std::int64_t fraction = 0;   // digits after the point, at most 18
        std::int64_t scale = 1;      // 10 to the number of digits kept in `fraction`
        std::size_t fraction_digits = 0;
        if (!rest.empty() && rest.front() == '.') {
            rest.remove_prefix(1);
            while (!rest.empty() && is_digit(rest.front())) {
                if (scale < 1'000'000'000'000'000'000LL) {
                    fraction = fraction * 10 + (rest.front() - '0');
                    scale *= 10;
                }
                rest.remove_prefix(1);
                ++fraction_digits;
            }
        }
        if (whole_digits == 0 && fraction_digits == 0) invalid(text, "a number is missing");

        std::size_t unit_length = 0;
        while (unit_length < rest.size() && rest[unit_length] != '.' && !is_digit(rest[unit_length])) ++unit_length;
        if (unit_length == 0) invalid(text, "the unit is missing (ns, us, ms, s, m or h)");
        auto unit_text = rest.substr(0, unit_length);
        rest.remove_prefix(unit_length);
        std::int64_t unit = 0;
        for (const auto& [name, nanoseconds] : units) {
            if (name == unit_text) unit = nanoseconds;
        }
        if (unit == 0) invalid(text, "unknown unit '" + std::string(unit_text) + "' (use ns, us, ms, s, m or h)");

        if (overflow || whole > max / unit) invalid(text, "it is too long");
        std::int64_t term = whole * unit;
        // fraction / scale of one unit, in nanoseconds; unit <= 3.6e12 and scale <= 1e18.
        auto fraction_nanoseconds = static_cast<std::int64_t>(static_cast<long double>(fraction) * unit / scale);
        if (term > max - fraction_nanoseconds || total > max - term - fraction_nanoseconds) invalid(text, "it is too long");
        total += term + fraction_nanoseconds;
    }
    return negative ? -total : total;
}

std::string format_duration(std::int64_t nanoseconds) {
    if (nanoseconds == 0) return "0s";
    std::string sign = nanoseconds < 0 ? "-" : "";
    // Unsigned, so that the magnitude of INT64_MIN fits.
    std::uint64_t value = nanoseconds < 0 ? 0 - static_cast<std::uint64_t>(nanoseconds) : static_cast<std::uint64_t>(nanoseconds);
    auto per = [](std::int64_t unit) { return static_cast<std::uint64_t>(unit); };
    std::string text;
    if (value < per(nanoseconds_per_microsecond)) return sign + std::to_string(value) + "ns";
    if (value < per(nanoseconds_per_millisecond)) {
        text = std::to_string(value / per(nanoseconds_per_microsecond));
        append_fraction(text, value, per(nanoseconds_per_microsecond));
        return sign + text + "\xC2\xB5s";
    }
    if (value < per(nanoseconds_per_second)) {
        text = std::to_string(value / per(nanoseconds_per_millisecond));
        append_fraction(text, value, per(nanoseconds_per_millisecond));
        return sign + text + "ms";
    }
    auto hours = value / per(nanoseconds_per_hour);
    auto minutes = value % per(nanoseconds_per_hour) / per(nanoseconds_per_minute);
    auto seconds = value % per(nanoseconds_per_minute);
    if (hours > 0) text += std::to_string(hours) + "h";
    if (hours > 0 || minutes > 0) text += std::to_string(minutes) + "m";
    text += std::to_string(seconds / per(nanoseconds_per_second));
    append_fraction(text, seconds, per(nanoseconds_per_second));
    return sign + text + "s";
}

}  // namespace isolab
