#include "tmdflow/io/model_catalog.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/sha256.hpp"

#ifndef TMDFLOW_SOURCE_MODELS_DIR
#define TMDFLOW_SOURCE_MODELS_DIR ""
#endif
#ifndef TMDFLOW_INSTALL_MODELS_DIR
#define TMDFLOW_INSTALL_MODELS_DIR ""
#endif

namespace tmdflow::io {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json object_or_empty(const std::string& text, const std::string& key) {
  json j = json::parse(text.empty() ? "{}" : text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw ConfigError("model manifest: " + key + ": expected a JSON object, found '" + text + "'");
  return j;
}

// The manifest's value at key (a JSON pointer) of the expected type, or InputError naming both.
const json& need(const json& j, const std::string& pointer, json::value_t type, const std::string& where) {
  const json::json_pointer p(pointer);
  if (!j.contains(p)) throw InputError::at(where, "", "key " + pointer, "present", "missing");
  const json& v = j.at(p);
  const bool number = type == json::value_t::number_float || type == json::value_t::number_integer;
  const bool ok = number ? v.is_number() : v.type() == type;
  if (!ok) {
    const std::string expected = number ? "a number" : json(type).type_name();
    throw InputError::at(where, "", "key " + pointer, expected, std::string(v.type_name()) + " " + v.dump());
  }
  return v;
}

std::string compact(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || (j.is_object() && j.empty())) return "-";
  std::string out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!out.empty()) out += ", ";
    out += it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump());
  }
  return out;
}

std::string architecture_text(const ModelManifest& m) {
  std::string out = m.family;
  for (const auto& [k, v] : m.params) out += " " + k + "=" + v;
  return out;
}

std::string input_text(const ModelManifest& m) {
  std::ostringstream s;
  s << m.input_channels << "x";
  if (m.input_height > 0) s << m.input_height << "x" << m.input_width;
  else s << "any";
  if (m.pixel_size_A > 0) s << " @ " << m.pixel_size_A << " A/px";
  else s << " (no pixel size)";
  return s.str();
}

}  // namespace

std::string manifest_to_json(const ModelManifest& m, int indent) {
  json params = json::object();
  for (const auto& [k, v] : m.params) params[k] = v;
  json j = {
      {"name", m.name},
      {"task", m.task},
      {"architecture", {{"family", m.family}, {"params", params}, {"parameter_count", m.parameter_count}}},
      {"input",
       {{"channels", m.input_channels},
        {"height", m.input_height},
        {"width", m.input_width},
        {"pixel_size_A", m.pixel_size_A},
        {"normalisation", m.normalisation},
        {"dtype", "float32"}}},
      {"output", object_or_empty(m.output, "output")},
      {"conditions", object_or_empty(m.conditions, "conditions")},
      {"data", object_or_empty(m.data, "data")},
      {"training", object_or_empty(m.training, "training")},
      {"metrics", object_or_empty(m.metrics, "metrics")},
      {"file", m.file},
      {"storage", m.storage},
      {"sha256", m.sha256},
  };
  return j.dump(indent > 0 ? indent : -1) + (indent > 0 ? "\n" : "");
}

ModelManifest manifest_from_json(const std::string& text, const std::string& where) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw InputError::at(where, "", "model manifest", "a JSON object", j.is_discarded() ? "text that is not JSON" : j.type_name());
  using T = json::value_t;
  ModelManifest m;
  m.name = need(j, "/name", T::string, where).get<std::string>();
  m.task = need(j, "/task", T::string, where).get<std::string>();
  m.family = need(j, "/architecture/family", T::string, where).get<std::string>();
  const json& params = need(j, "/architecture/params", T::object, where);
  for (auto it = params.begin(); it != params.end(); ++it) {
    if (!it->is_string())
      throw InputError::at(where, "", "key /architecture/params/" + it.key(), "a string", it->dump());
    m.params[it.key()] = it->get<std::string>();
  }
  if (j.contains(json::json_pointer("/architecture/parameter_count")))
    m.parameter_count = need(j, "/architecture/parameter_count", T::number_integer, where).get<std::int64_t>();
  m.input_channels = need(j, "/input/channels", T::number_integer, where).get<std::int64_t>();
  m.input_height = need(j, "/input/height", T::number_integer, where).get<std::int64_t>();
  m.input_width = need(j, "/input/width", T::number_integer, where).get<std::int64_t>();
  m.pixel_size_A = need(j, "/input/pixel_size_A", T::number_float, where).get<double>();
  m.normalisation = need(j, "/input/normalisation", T::string, where).get<std::string>();
  for (auto [key, field] : {std::pair{"output", &m.output}, {"conditions", &m.conditions}, {"data", &m.data},
                            {"training", &m.training}, {"metrics", &m.metrics}})
    *field = need(j, std::string("/") + key, T::object, where).dump();
  m.file = need(j, "/file", T::string, where).get<std::string>();
  if (m.file.empty() || m.file.find('/') != std::string::npos)
    throw InputError::at(where, "", "key /file", "a file name in the manifest's folder", "'" + m.file + "'");
  m.storage = need(j, "/storage", T::string, where).get<std::string>();
  if (m.storage != "float32" && m.storage != "float16")
    throw InputError::at(where, "", "key /storage", "float32 or float16", "'" + m.storage + "'");
  m.sha256 = need(j, "/sha256", T::string, where).get<std::string>();
  return m;
}

ModelManifest read_manifest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open the model manifest");
  std::stringstream s;
  s << in.rdbuf();
  return manifest_from_json(s.str(), path);
}

void write_manifest(const ModelManifest& m, const std::string& path) {
  const std::string text = manifest_to_json(m);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) throw IoError(tmp + ": cannot write the model manifest");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw IoError(path + ": cannot rename " + tmp + " to it: " + ec.message());
}

std::vector<std::string> model_search_path() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("TMDFLOW_MODELS")) {
    std::string s = env;
    std::size_t start = 0;
    while (start <= s.size()) {
      const std::size_t end = std::min(s.find(':', start), s.size());
      if (end > start) out.push_back(s.substr(start, end - start));
      start = end + 1;
    }
  }
  for (const char* dir : {TMDFLOW_SOURCE_MODELS_DIR, TMDFLOW_INSTALL_MODELS_DIR})
    if (*dir && fs::is_directory(dir)) out.emplace_back(dir);
  return out;
}

ModelLocation locate_model(const std::string& name_or_path) {
  if (name_or_path.empty()) throw ConfigError("--model: expected a model name or path, found ''");
  ModelLocation loc;
  const bool looks_like_path = name_or_path.find('/') != std::string::npos || fs::exists(name_or_path);
  if (looks_like_path) {
    if (!fs::exists(name_or_path)) throw IoError(name_or_path + ": model: no such file or folder");
    fs::path p = name_or_path;
    if (fs::is_directory(p)) p /= "manifest.json";
    if (p.filename() == "manifest.json") {
      if (!fs::is_regular_file(p)) throw IoError(name_or_path + ": model folder without manifest.json");
      loc.folder = p.parent_path().string();
      loc.manifest_path = p.string();
      loc.manifest = read_manifest(loc.manifest_path);
      loc.model_path = (p.parent_path() / loc.manifest.file).string();
      return loc;
    }
    loc.folder = p.parent_path().string();
    loc.model_path = p.string();
    const fs::path beside = p.parent_path() / "manifest.json";
    if (fs::is_regular_file(beside)) {
      ModelManifest m = read_manifest(beside.string());
      if (m.file == p.filename().string()) {
        loc.manifest_path = beside.string();
        loc.manifest = std::move(m);
      }
    }
    return loc;
  }
  const std::vector<std::string> path = model_search_path();
  for (const std::string& dir : path) {
    const fs::path manifest = fs::path(dir) / name_or_path / "manifest.json";
    if (fs::is_regular_file(manifest)) return locate_model(manifest.string());
  }
  std::string searched;
  for (const auto& d : path) searched += (searched.empty() ? "" : ":") + d;
  throw ConfigError("model '" + name_or_path + "': expected a model folder NAME/manifest.json on the search path '" +
                    searched + "' ($TMDFLOW_MODELS, then the shipped models), found none (tmdflow models lists them)");
}

void verify_model_file(const ModelLocation& model) {
  if (!fs::is_regular_file(model.model_path)) throw IoError(model.model_path + ": model file not found");
  if (model.manifest_path.empty()) return;  // a bare file: nothing to compare with
  const std::string found = sha256_file(model.model_path);
  if (found != model.manifest.sha256)
    throw InputError::at(model.model_path, "", "sha256", model.manifest.sha256 + " (from " + model.manifest_path + ")",
                         found + ": the model file changed after its manifest was written");
}

std::vector<ModelListing> list_models(const std::vector<std::string>& search_path) {
  std::vector<ModelListing> out;
  std::map<std::string, std::string> seen;  // name -> folder that provides it
  for (const std::string& dir : search_path) {
    if (!fs::is_directory(dir)) continue;
    std::set<fs::path> folders;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.is_directory() && fs::is_regular_file(entry.path() / "manifest.json")) folders.insert(entry.path());
    for (const fs::path& folder : folders) {
      ModelListing row;
      row.folder = folder.string();
      row.name = folder.filename().string();
      try {
        const ModelLocation loc = locate_model((folder / "manifest.json").string());
        const ModelManifest& m = loc.manifest;
        row.task = m.task;
        row.architecture = architecture_text(m);
        row.input = input_text(m);
        row.conditions = compact(m.conditions);
        row.metrics = compact(m.metrics);
        if (m.name != row.name) throw InputError(loc.manifest_path + ": name '" + m.name + "' differs from its folder's");
        if (!fs::is_regular_file(loc.model_path)) row.status = "missing model file " + m.file;
        else row.status = sha256_file(loc.model_path) == m.sha256 ? "ok" : "sha256 MISMATCH";
      } catch (const Error& e) {
        row.status = std::string("bad manifest: ") + e.what();
      }
      auto [it, fresh] = seen.emplace(row.name, row.folder);
      if (!fresh) row.status = "shadowed by " + it->second + " (" + row.status + ")";
      out.push_back(std::move(row));
    }
  }
  return out;
}

}  // namespace tmdflow::io
