#include "tmdflow/campaign/manifest.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"

namespace fs = std::filesystem;

namespace tmdflow::campaign {
namespace {

bool has_wildcard(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }
bool hidden(const fs::path& p) { return !p.filename().empty() && p.filename().string()[0] == '.'; }

fs::path absolute_normal(const std::string& p) { return fs::absolute(fs::path(p)).lexically_normal(); }

bool inside(const fs::path& p, const fs::path& dir) {
  if (dir.empty()) return false;
  const auto rel = p.lexically_relative(dir);
  return !rel.empty() && *rel.begin() != "..";
}

struct Collector {
  const ManifestOptions& options;
  fs::path exclude;
  std::vector<std::pair<fs::path, std::string>> files;  // (file, group or "")

  void add(const fs::path& file, const std::string& group = "") {
    if (inside(file, exclude)) return;
    if (!options.match.empty() && !glob_match(options.match, file.filename().string())) return;
    files.emplace_back(file, group);
  }
};

void walk_folder(const fs::path& root, Collector& c) {
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::follow_directory_symlink, ec), end;
  if (ec) throw IoError(root.string() + ": cannot list the folder: " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw IoError(it->path().string() + ": cannot list: " + ec.message());
    if (hidden(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (inside(it->path(), c.exclude) && it->is_directory()) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) c.add(it->path());
  }
}

// Matches components[i..] below `dir`.
void walk_glob(const fs::path& dir, const std::vector<std::string>& components, std::size_t i, Collector& c) {
  std::error_code ec;
  if (i == components.size()) return;
  const std::string& part = components[i];
  const bool last = i + 1 == components.size();
  if (part == "**") {
    walk_glob(dir, components, i + 1, c);  // zero folders
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.is_directory() && !hidden(e.path()) && !inside(e.path(), c.exclude)) walk_glob(e.path(), components, i, c);
    return;
  }
  if (!has_wildcard(part)) {
    const fs::path p = dir / part;
    if (last ? fs::is_regular_file(p) : fs::is_directory(p)) {
      if (last) c.add(p);
      else walk_glob(p, components, i + 1, c);
    }
    return;
  }
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (glob_match(part, e.path().filename().string())) entries.push_back(e.path());
  std::sort(entries.begin(), entries.end());
  for (const auto& p : entries) {
    if (last && fs::is_regular_file(p)) c.add(p);
    else if (!last && fs::is_directory(p)) walk_glob(p, components, i + 1, c);
  }
}

fs::path read_list(const fs::path& list, Collector& c) {
  std::ifstream in(list);
  if (!in) throw IoError(list.string() + ": cannot read the list of inputs");
  const fs::path base = list.parent_path();
  int line_no = 0;
  std::vector<fs::path> dirs;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    line = str::trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    std::string file = line, group;
    if (const auto colon = line.find(":/"); colon != std::string::npos) {
      file = line.substr(0, colon);
      group = line.substr(colon + 1);
    }
    fs::path p = fs::path(file).is_absolute() ? fs::path(file) : base / file;
    p = p.lexically_normal();
    if (!fs::is_regular_file(p))
      throw IoError(p.string() + ": no such file (line " + std::to_string(line_no) + " of " + list.string() + ")");
    c.add(p, group);
    dirs.push_back(p.parent_path());
  }
  if (dirs.empty()) return base;
  // The common folder of the listed files.
  fs::path common = dirs.front();
  for (const auto& d : dirs)
    while (!common.empty() && !(d == common || inside(d, common))) common = common.parent_path();
  return common;
}

}  // namespace

bool glob_match(const std::string& pattern, const std::string& name) {
  return ::fnmatch(pattern.c_str(), name.c_str(), FNM_PERIOD) == 0;
}

std::vector<InputFile> expand_manifest(const std::string& spec, const ManifestOptions& options) {
  if (str::trim(spec).empty()) throw UsageError("campaign: expected --inputs FOLDER, GLOB or LIST, found nothing");
  Collector c{options, options.exclude_dir.empty() ? fs::path() : absolute_normal(options.exclude_dir), {}};
  fs::path root;
  std::string what;
  const bool list = spec[0] == '@' || ((str::ends_with(spec, ".txt") || str::ends_with(spec, ".list")) && !has_wildcard(spec));
  if (list) {
    const fs::path file = absolute_normal(spec[0] == '@' ? spec.substr(1) : spec);
    if (!fs::is_regular_file(file)) throw IoError(file.string() + ": no such file (the list of inputs, one path per line)");
    root = read_list(file, c);
    what = "listed in " + file.string();
  } else if (has_wildcard(spec)) {
    const fs::path pattern = absolute_normal(spec);
    std::vector<std::string> parts;
    for (const auto& part : pattern.relative_path()) parts.push_back(part.string());
    std::size_t fixed = 0;
    root = pattern.root_path();
    while (fixed + 1 < parts.size() && !has_wildcard(parts[fixed])) root /= parts[fixed++];
    if (!fs::is_directory(root)) throw IoError(root.string() + ": no such folder (the fixed part of the glob " + spec + ")");
    walk_glob(root, std::vector<std::string>(parts.begin() + long(fixed), parts.end()), 0, c);
    what = "matching " + spec;
  } else if (fs::is_directory(spec)) {
    root = absolute_normal(spec);
    walk_folder(root, c);
    what = "in " + root.string();
  } else if (fs::is_regular_file(spec)) {
    const fs::path file = absolute_normal(spec);
    root = file.parent_path();
    c.add(file);
    what = "named " + file.string();
  } else {
    throw IoError(spec + ": no such folder or file (the campaign's inputs: a folder, a glob, or a list file)");
  }

  std::vector<InputFile> out;
  for (const auto& [file, group] : c.files) {
    std::string key = file.lexically_relative(root).generic_string();
    out.push_back({file.string() + (group.empty() ? "" : ":" + group), key + group});
  }
  std::sort(out.begin(), out.end(), [](const InputFile& a, const InputFile& b) { return a.key < b.key; });
  for (std::size_t i = 1; i < out.size(); ++i)
    if (out[i].key == out[i - 1].key)
      throw InputError("campaign: " + out[i - 1].path + " and " + out[i].path + " have the same key '" + out[i].key +
                       "': expected each input once");
  if (out.empty())
    throw InputError("campaign: no input files " + what + (options.match.empty() ? "" : " with names matching " + options.match));
  return out;
}

}  // namespace tmdflow::campaign
