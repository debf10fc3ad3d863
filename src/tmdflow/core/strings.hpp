#pragma once
// Small string helpers shared by the command line, workflows and readers.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tmdflow::str {

std::string trim(const std::string& s);
std::string lower(std::string s);
std::vector<std::string> split(const std::string& s, char sep, bool skip_empty = true);
std::string join(const std::vector<std::string>& parts, const std::string& sep);
bool starts_with(const std::string& s, const std::string& prefix);
bool ends_with(const std::string& s, const std::string& suffix);

/// Parses a whole string as a number; throws ConfigError naming `what` when it is not one.
double to_double(const std::string& s, const std::string& what);
std::int64_t to_int(const std::string& s, const std::string& what);
bool to_bool(const std::string& s, const std::string& what);
/// "128,128" or "128x128" -> {128, 128}
std::vector<std::int64_t> to_int_list(const std::string& s, const std::string& what);
std::vector<double> to_double_list(const std::string& s, const std::string& what);

/// A number for messages and descriptions, as printf's %g writes it ("0.25", "1e+06").
std::string number(double v);
/// "1.50 GB", "512 KiB"-style human sizes (decimal units).
std::string human_bytes(double bytes);
/// "(2, 3, 4, 5)"
std::string shape_string(const std::vector<std::int64_t>& shape);
/// Bytes read from a file, fit for a one-line message: in single quotes, bytes outside printable
/// ASCII as \xNN, cut after `max` characters with "...".
std::string quoted(std::string_view bytes, std::size_t max = 24);

}  // namespace tmdflow::str
