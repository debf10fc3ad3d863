// Campaign planning: the campaign's files (campaign.json, inputs.txt, plan.txt, plan.json), its
// configuration hash, and the plan itself (what is missing, failed or stale).
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "campaign.hpp"
#include "tmdflow/campaign/ledger.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/hash.hpp"
#include "workflow.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace tmdflow::stages {
namespace {

using campaign::InputFile;
using campaign::State;

// Written under a temporary name and renamed: a reader never sees half a file.
void write_atomically(const fs::path& path, const std::string& text) {
  std::string tmp = path.string() + ".tmp-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw IoError(path.string() + ": cannot create a temporary file beside it");
  ::close(fd);
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      fs::remove(tmp);
      throw IoError(path.string() + ": cannot write (disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp);
    throw IoError(path.string() + ": cannot rename into place: " + ec.message());
  }
}

json read_json(const fs::path& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) throw IoError(path.string() + ": no such file (" + what + ")");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw InputError(path.string() + ": " + what + ": not valid JSON (" + e.what() + ")");
  }
}

std::string absolute_spec(const std::string& spec) {
  if (spec.empty()) return spec;
  if (spec[0] == '@') return "@" + fs::absolute(spec.substr(1)).lexically_normal().string();
  return fs::absolute(spec).lexically_normal().string();
}

// Size and time of a file an option names: a changed model or calibration file changes the hash.
std::string file_identity(const std::string& value) {
  std::error_code ec;
  if (value.empty() || !fs::is_regular_file(value, ec)) return "";
  const auto size = fs::file_size(value, ec);
  const auto time = fs::last_write_time(value, ec).time_since_epoch().count();
  return std::to_string(size) + ":" + std::to_string(time);
}

}  // namespace

CampaignSpec read_campaign(const std::string& dir) {
  const fs::path path = fs::path(dir) / "campaign.json";
  if (!fs::exists(path))
    throw IoError(path.string() + ": no such file: not a campaign folder yet (tmdflow campaign plan " + dir +
                  " --workflow WORKFLOW.ini --inputs FOLDER|GLOB|LIST)");
  const json j = read_json(path, "the campaign's definition");
  CampaignSpec s;
  try {
    s.workflow = j.at("workflow").get<std::string>();
    s.inputs = j.at("inputs").get<std::string>();
    s.match = j.value("match", "");
    s.per_task = j.value("per_task", 0);
    for (const auto& kv : j.value("set", json::array())) s.set.emplace_back(kv.at(0).get<std::string>(), kv.at(1).get<std::string>());
  } catch (const json::exception& e) {
    throw InputError(path.string() + ": expected workflow, inputs, match, per_task and set: " + e.what());
  }
  return s;
}

void write_campaign(const std::string& dir, const CampaignSpec& s) {
  nlohmann::ordered_json j;
  j["schema"] = "campaign/1";
  j["workflow"] = fs::absolute(s.workflow).lexically_normal().string();
  j["inputs"] = absolute_spec(s.inputs);
  j["match"] = s.match;
  j["per_task"] = s.per_task;
  j["set"] = json::array();
  for (const auto& [k, v] : s.set) j["set"].push_back({k, v});
  fs::create_directories(dir);
  write_atomically(fs::path(dir) / "campaign.json", j.dump(2) + "\n");
}

std::string campaign_config_hash(const CampaignSpec& spec) {
  WorkflowOverrides ov;
  ov.input = "/campaign-input";
  ov.output = "/campaign-product/product.h5";
  ov.set = spec.set;
  const Workflow wf = load_workflow(spec.workflow, ov);
  ConfigHasher h;
  for (const auto& [k, v] : wf.settings) h.add("workflow." + k, v);
  for (const auto& step : wf.steps) {
    h.add("step", step.name).add("stage", step.request.stage).add("input", step.request.input).add("output", step.request.output);
    auto options = step.request.options;
    std::sort(options.begin(), options.end());
    for (const auto& [k, v] : options) {
      h.add(canonical_option(k), v);
      if (const std::string id = file_identity(v); !id.empty()) h.add("file", id);
    }
  }
  return h.hex();
}

std::string product_of(const InputFile& input) {
  fs::path key(input.key);
  const fs::path folder = key.parent_path() / key.stem();
  return (fs::path("products") / folder / (key.stem().string() + ".h5")).generic_string();
}

std::vector<InputFile> read_inputs(const std::string& dir) {
  const fs::path path = fs::path(dir) / "inputs.txt";
  std::ifstream in(path);
  if (!in) throw IoError(path.string() + ": no such file (tmdflow campaign plan " + dir + " first)");
  std::vector<InputFile> out;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    const auto tab = line.find('\t');
    if (tab == std::string::npos)
      throw InputError(path.string() + ": line " + std::to_string(n) + ": expected KEY<tab>PATH, found '" + line.substr(0, 80) + "'");
    out.push_back({line.substr(tab + 1), line.substr(0, tab)});
  }
  return out;
}

PlanSummary plan_campaign(const std::string& dir, const CampaignSpec& spec, const PlanOptions& options,
                          std::vector<std::string>& report) {
  const std::vector<InputFile> inputs = campaign::expand_manifest(spec.inputs, {spec.match, dir});
  std::map<std::string, std::string> products;  // product -> key: two inputs may not share one
  std::ostringstream listing;
  for (const auto& in : inputs) {
    if (in.path.find_first_of("\t\n\r") != std::string::npos)
      throw InputError("campaign: " + in.path + ": a tab or line break in a path: expected none (inputs.txt is one line per input)");
    const auto [it, fresh] = products.emplace(product_of(in), in.key);
    if (!fresh)
      throw InputError("campaign: inputs '" + it->second + "' and '" + in.key + "' would both write " + it->first +
                       ": give one of them another name, or narrow the inputs with --match");
    listing << in.key << '\t' << in.path << '\n';
  }

  PlanSummary s;
  s.config = campaign_config_hash(spec);
  s.inputs = inputs.size();
  const std::string ledger = (fs::path(dir) / "ledger.jsonl").string();
  int torn = 0;
  const auto last = campaign::latest(ledger, &torn);
  if (torn) report.push_back("ledger: " + std::to_string(torn) + " incomplete line(s) left out (a writer stopped mid-line)");

  std::ostringstream todo;
  std::vector<std::string> failed_lines;
  for (const auto& in : inputs) {
    const auto f = last.find(in.key);
    std::optional<campaign::Record> rec;
    if (f != last.end()) rec = f->second;
    const campaign::FileStamp now = campaign::stamp(in.path);
    const std::string product = product_of(in);
    const campaign::Verdict v = campaign::judge(rec, now, s.config, fs::exists(fs::path(dir) / product));
    switch (v.state) {
      case State::done: ++s.done; break;
      case State::failed:
        ++s.failed;
        failed_lines.push_back("  failed: " + in.key + ": " + v.why);
        break;
      case State::stale:
        ++s.stale;
        if (rec && rec->state != State::stale) {  // say once, in the ledger, why it is redone
          campaign::Record r = *rec;
          r.state = State::stale;
          r.error = v.why;
          r.task = "plan";
          r.time = campaign::utc_now();
          campaign::append(ledger, r);
        }
        break;
      default: ++s.missing;
    }
    if (v.state != State::done || options.force) {
      todo << in.key << '\t' << in.path << '\n';
      ++s.todo;
    }
  }

  // Slurm refuses array indices above MaxArraySize - 1 (1,000 by default): several inputs per task.
  s.per_task = spec.per_task > 0 ? std::size_t(spec.per_task) : std::max<std::size_t>(1, (s.todo + 999) / 1000);
  s.tasks = (s.todo + s.per_task - 1) / s.per_task;
  int previous = 0;
  if (fs::exists(fs::path(dir) / "plan.json")) previous = read_json(fs::path(dir) / "plan.json", "the last plan").value("plan", 0);
  s.id = previous + 1;
  nlohmann::ordered_json p;
  p["plan"] = s.id;
  p["config"] = s.config;
  p["inputs"] = s.inputs;
  p["todo"] = s.todo;
  p["per_task"] = s.per_task;
  p["tasks"] = s.tasks;
  p["force"] = options.force;
  p["time"] = campaign::utc_now();
  write_atomically(fs::path(dir) / "inputs.txt", listing.str());
  write_atomically(fs::path(dir) / "plan.txt", todo.str());
  write_atomically(fs::path(dir) / "plan.json", p.dump(2) + "\n");

  report.push_back("campaign " + dir + ": " + std::to_string(s.inputs) + " inputs: " + std::to_string(s.done) + " done, " +
                   std::to_string(s.failed) + " failed, " + std::to_string(s.stale) + " stale, " + std::to_string(s.missing) +
                   " missing (configuration " + s.config + ")");
  const std::size_t shown = std::min<std::size_t>(failed_lines.size(), 10);
  report.insert(report.end(), failed_lines.begin(), failed_lines.begin() + long(shown));
  if (failed_lines.size() > shown) report.push_back("  ... and " + std::to_string(failed_lines.size() - shown) + " more failed");
  report.push_back("plan " + std::to_string(s.id) + ": " + std::to_string(s.todo) + " input(s) to do" +
                   (options.force ? " (--force: all, every step redone)" : "") + " in " + std::to_string(s.tasks) + " task(s) of " +
                   std::to_string(s.per_task) + " (plan.txt)");
  return s;
}

}  // namespace tmdflow::stages
