#include "workflow.hpp"

#include <optional>
#include <boost/property_tree/ini_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include <filesystem>
#include <set>

#include "tmdflow/core/log.hpp"
#include "tmdflow/core/progress.hpp"
#include "tmdflow/core/timer.hpp"
#include "tmdflow/io/datacube.hpp"
#include "tmdflow/io/image_stack.hpp"
#include "tmdflow/io/image_ingest.hpp"
#include "tmdflow/par/failure.hpp"

namespace fs = std::filesystem;
namespace pt = boost::property_tree;

namespace tmdflow::stages {
namespace {

using Section = std::vector<std::pair<std::string, std::string>>;

bool has(const Section& s, const std::string& key) {
  for (const auto& [k, v] : s)
    if (k == key) return true;
  return false;
}
void put(Section& s, const std::string& key, const std::string& value) {
  for (auto& [k, v] : s)
    if (k == key) {
      v = value;
      return;
    }
  s.emplace_back(key, value);
}

bool is_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// ${section.key} references, resolved against the (already resolved) earlier values. A plain scan:
// std::regex (libstdc++) recurses once per character matched and overflowed the stack on a
// reference of 30,000 characters (a segmentation fault, no message).
std::string resolve(const std::string& value, const std::map<std::string, std::string>& known, const std::string& where) {
  std::string out;
  std::size_t i = 0;
  for (std::size_t ref = value.find("${"); ref != std::string::npos; ref = value.find("${", i)) {
    out.append(value, i, ref - i);
    const std::size_t section = ref + 2;
    std::size_t dot = section;
    while (dot < value.size() && is_name_char(value[dot])) ++dot;
    std::size_t end = dot + 1;
    while (end < value.size() && is_name_char(value[end])) ++end;
    if (dot == section || dot >= value.size() || value[dot] != '.' || end == dot + 1 || end >= value.size() || value[end] != '}')
      throw ConfigError(where + ": malformed reference in '" + value + "'");
    const std::string key = value.substr(section, end - section);
    auto f = known.find(key);
    if (f == known.end())
      throw ConfigError(where + ": unknown reference ${" + key + "}: expected a key of [workflow] or of an earlier step");
    out += f->second;
    i = end + 1;
  }
  out.append(value, i, std::string::npos);
  return out;
}

// The `skip-if-input` condition: "" when the step runs, else why it is passed over.
std::string passed_over(const std::string& condition, const std::string& input, const std::string& where) {
  if (condition != "datacube" && condition != "image_stack")
    throw ConfigError(where + " skip-if-input: expected 'datacube' or 'image_stack', found '" + condition + "'");
  const io::Target t = io::parse_target(input, "/");
  if (input.empty() || !fs::exists(t.file) || !io::h5::File::is_hdf5(t.file)) return "";
  if (condition == "image_stack") {
    try {
      const auto reader = io::ImageStackReader::open(input);
      return "its input " + reader.where() + " is already an image stack";
    } catch (const Error&) {
      return "";
    }
  }
  try {
    const auto reader = io::DatacubeReader::open(input, nullptr);
    return "its input " + reader.where() + " is already a datacube that tmdflow reads";
  } catch (const Error&) {
    return "";
  }
}

}  // namespace

Workflow load_workflow(const std::string& path, const WorkflowOverrides& ov) {
  if (!fs::exists(path)) throw IoError(path + ": no such workflow file");
  pt::ptree tree;
  try {
    pt::read_ini(path, tree);
  } catch (const pt::ini_parser_error& e) {
    throw ConfigError(path + ":" + std::to_string(e.line()) + ": " + e.message());
  }
  std::vector<std::pair<std::string, Section>> sections;
  for (const auto& [name, sub] : tree) {
    if (sub.empty() && !sub.data().empty())
      throw ConfigError(path + ": key '" + name + "' outside any section: expected it under [workflow] or a step");
    Section s;
    for (const auto& [k, v] : sub) s.emplace_back(str::trim(k), str::trim(v.data()));
    sections.emplace_back(name, s);
  }
  if (sections.empty() || sections.front().first != "workflow")
    throw ConfigError(path + ": expected a [workflow] section first, found " +
                      (sections.empty() ? std::string("no section") : "[" + sections.front().first + "]"));

  // Overrides.
  Section& wf = sections.front().second;
  if (!ov.input.empty()) put(wf, "input", ov.input);
  if (!ov.output.empty()) put(wf, "output", ov.output);
  for (const auto& [key, value] : ov.set) {
    auto dot = key.find('.');
    if (dot == std::string::npos)
      throw UsageError("--set " + key + "=" + value + ": expected SECTION.KEY=VALUE (e.g. workflow.voltage_kV=80)");
    const std::string sec = key.substr(0, dot), k = key.substr(dot + 1);
    auto it = std::find_if(sections.begin(), sections.end(), [&](const auto& s) { return s.first == sec; });
    if (it == sections.end()) {
      std::vector<std::string> names;
      for (const auto& s : sections) names.push_back(s.first);
      throw UsageError("--set " + key + ": unknown section '" + sec + "': expected one of " + str::join(names, ", "));
    }
    if (sec == "workflow" && !has(it->second, k)) {
      std::vector<std::string> keys;
      for (const auto& [kk, vv] : it->second) keys.push_back(kk);
      throw UsageError("--set " + key + ": unknown key '" + k + "' of [workflow]: expected one of " + str::join(keys, ", "));
    }
    // Step keys are checked against the stage's options when the step runs.
    put(it->second, k, value);
  }
  for (const char* k : {"input", "output"})
    if (!has(wf, k)) throw ConfigError(path + ": [workflow] has no '" + std::string(k) + "' (main " + k + "; give it or pass --" + k + ")");

  Workflow out;
  out.file = path;
  std::map<std::string, std::string> known;
  for (const auto& [k, v] : wf) {
    const std::string value = resolve(v, known, path + " [workflow] " + k);
    known["workflow." + k] = value;
    out.settings[k] = value;
  }
  const std::string output = out.settings["output"];
  fs::path op(io::parse_target(output, "/").file);
  known["workflow.output_dir"] = op.parent_path().empty() ? "." : op.parent_path().string();
  known["workflow.output_stem"] = (op.parent_path() / op.stem()).string();

  std::set<std::string> step_names;
  std::string previous_output = out.settings["input"];
  bool chained_from_input = true;  // previous_output is still the workflow's input
  for (size_t i = 1; i < sections.size(); ++i) {
    const auto& [name, sec] = sections[i];
    const std::string where = path + " [" + name + "]";
    if (!step_names.insert(name).second) throw ConfigError(where + ": duplicate step name");
    WorkflowStep step;
    step.name = name;
    step.request.origin = "step '" + name + "' of " + fs::path(path).filename().string();
    if (!has(sec, "stage")) throw ConfigError(where + ": no 'stage' key: expected the stage this step runs (see tmdflow stages)");
    std::string skip_if;
    std::optional<std::string> skip_if_empty;
    for (const auto& [k, v] : sec) {
      if (v.find("${workflow.input}") != std::string::npos) out.reads_input = true;
      const std::string value = resolve(v, known, where + " " + k);
      known[name + "." + k] = value;
      if (k == "stage") step.request.stage = value;
      else if (k == "input") step.request.input = value;
      else if (k == "output") step.request.output = value;
      else if (canonical_option(k) == "skip-if-input") skip_if = value;
      else if (canonical_option(k) == "skip-if-empty") skip_if_empty = value;
      else if (!value.empty()) step.request.options.emplace_back(k, value);  // empty: the stage's default
    }
    if (!has(sec, "input")) step.request.input = previous_output;
    if (!has(sec, "output")) step.request.output = io::parse_target(output, "/").file + ":/" + name;
    known[name + ".input"] = step.request.input;
    known[name + ".output"] = step.request.output;
    // A stage that takes no input ignores the chained one.
    auto stage = make_stage(step.request.stage);
    if (!stage->takes_input() && !has(sec, "input")) step.request.input.clear();
    if (stage->takes_input() && !has(sec, "input") && chained_from_input) out.reads_input = true;
    // Every step's keys are checked before the first step runs.
    check_stage_options(step.request);
    if (!skip_if.empty()) step.passed_over = passed_over(skip_if, step.request.input, where);
    if (skip_if_empty && str::trim(*skip_if_empty).empty() && step.passed_over.empty())
      step.passed_over = "its skip-if-empty value is empty (the step is optional and not asked for)";
    if (step.passed_over.empty()) {
      previous_output = step.request.output;
      chained_from_input = false;
    } else {
      known[name + ".output"] = step.request.input;  // later steps read what this one would have made
    }
    out.steps.push_back(step);
  }
  if (out.steps.empty()) throw ConfigError(path + ": no steps: expected at least one section besides [workflow]");
  if (!ov.input.empty() && !out.reads_input)
    throw UsageError("--input " + ov.input + ": " + fs::path(path).filename().string() + " reads no input (its step '" +
                     out.steps.front().name + "' makes its own data): it would be ignored; to analyse a file, run a workflow that "
                     "reads one, such as workflows/twist_polarity.ini");
  return out;
}

void check_workflow(const par::Comm& comm, const Workflow& wf, const RunOptions& opts) {
  std::set<std::string> written;  // files earlier steps write: their inputs are checked when they start
  for (const auto& step : wf.steps) {
    if (!step.passed_over.empty()) continue;
    StageRequest req = step.request;
    req.replace = opts.force;
    const io::Target in = io::parse_target(req.input.empty() ? std::string(".") : req.input, "/");
    const bool ready = !req.input.empty() && req.input.rfind("builtin:", 0) != 0 && !written.count(in.file);
    if (ready && !fs::exists(in.file) && !io::is_glob(in.file)) throw IoError(in.file + ": no such file (the input of " + req.origin + ")");
    try {
      check_stage(comm, req, ready);
    } catch (const Error& e) {
      // Say which step, when the stage's message does not.
      if (std::string(e.what()).find(req.origin) != std::string::npos) throw;
      throw Error(req.origin + ": " + e.what(), e.code());
    }
    written.insert(io::parse_target(req.output, "/").file);
  }
}

int run_workflow(const par::Comm& comm, const Workflow& wf, const RunOptions& opts) {
  par::collectively(comm, [&] { check_workflow(comm, wf, opts); });
  bool from_reached = opts.from.empty();
  if (!opts.from.empty()) {
    bool found = false;
    for (const auto& s : wf.steps) found |= s.name == opts.from;
    if (!found) {
      std::vector<std::string> names;
      for (const auto& s : wf.steps) names.push_back(s.name);
      throw UsageError("--from " + opts.from + ": unknown step: expected one of " + str::join(names, ", "));
    }
  }
  Stopwatch clock;
  int ran = 0;
  const int n = int(wf.steps.size());
  for (int i = 0; i < n; ++i) {
    const auto& step = wf.steps[size_t(i)];
    if (step.name == opts.from) from_reached = true;
    StageRequest req = step.request;
    req.force = opts.force || (!opts.from.empty() && from_reached);
    req.replace = opts.force;
    if (!step.passed_over.empty()) {
      log::info("step ", i + 1, "/", n, " '", step.name, "' (", req.stage, "): passed over, ", step.passed_over);
      continue;
    }
    log::info("step ", i + 1, "/", n, " '", step.name, "' (", req.stage, ")");
    StageOutcome o = run_stage(comm, req);
    if (o.skipped) {
      log::info("step '", step.name, "': skipped, ", o.target.str(), " is complete with the same configuration (",
                o.config_hash, "); --force or --from ", step.name, " redoes it");
    } else {
      ++ran;
    }
  }
  log::info("workflow ", fs::path(wf.file).filename().string(), ": ", ran, " of ", n, " steps run, ", n - ran,
            " skipped, in ", format_duration(clock.seconds()));
  return ran;
}

}  // namespace tmdflow::stages
