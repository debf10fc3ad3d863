#include "campaign_command.hpp"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>

#include "campaign.hpp"
#include "tmdflow/campaign/reduce.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/par/failure.hpp"

namespace tmdflow::app {
namespace {

// --key=value / --key value / --flag, as tmdflow's other commands take them.
std::multimap<std::string, std::string> options_of(const std::vector<std::string>& args, std::size_t from, const std::string& cmd) {
  std::multimap<std::string, std::string> out;
  for (std::size_t i = from; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 || a.size() < 3) throw UsageError(cmd + ": unexpected argument '" + a + "': expected --option[=value]");
    const auto eq = a.find('=');
    if (eq != std::string::npos) out.emplace(a.substr(2, eq - 2), a.substr(eq + 1));
    else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) out.emplace(a.substr(2), args[++i]);
    else out.emplace(a.substr(2), "true");
  }
  return out;
}

void only(const std::multimap<std::string, std::string>& opts, const std::vector<std::string>& allowed, const std::string& cmd) {
  for (const auto& [k, v] : opts)
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
      throw UsageError(cmd + ": unknown option '--" + k + "': expected " +
                       (allowed.empty() ? std::string("none") : "--" + str::join(allowed, ", --")));
}

int to_int(const std::string& v, const std::string& option, int min) {
  try {
    std::size_t used = 0;
    const int n = std::stoi(v, &used);
    if (used == v.size() && n >= min) return n;
  } catch (const std::exception&) {
  }
  throw UsageError(option + ": expected an integer >= " + std::to_string(min) + ", found '" + v + "'");
}

// Work done by rank 0 alone (plan, status, reduce): the other ranks wait at the agreement.
template <class F>
void on_root(const par::Comm& comm, F&& fn) {
  par::collectively(comm, [&] {
    if (comm.is_root()) fn();
  });
}

int cmd_plan(const par::Comm& comm, const std::string& dir, const std::multimap<std::string, std::string>& o) {
  only(o, {"workflow", "inputs", "match", "set", "per-task", "force"}, "campaign plan");
  int code = 0;
  on_root(comm, [&] {
    const bool exists = std::filesystem::exists(std::filesystem::path(dir) / "campaign.json");
    stages::CampaignSpec spec;
    if (exists) spec = stages::read_campaign(dir);
    else if (!o.count("workflow") || !o.count("inputs"))
      throw UsageError("campaign plan " + dir + ": a new campaign needs --workflow WORKFLOW.ini and --inputs FOLDER|GLOB|LIST");
    if (auto f = o.find("workflow"); f != o.end()) spec.workflow = f->second;
    if (auto f = o.find("inputs"); f != o.end()) spec.inputs = f->second;
    if (auto f = o.find("match"); f != o.end()) spec.match = f->second;
    if (auto f = o.find("per-task"); f != o.end()) spec.per_task = to_int(f->second, "--per-task", 0);
    if (o.count("set")) {
      spec.set.clear();  // given again: replaces the stored overrides
      for (auto [a, b] = o.equal_range("set"); a != b; ++a) {
        const auto eq = a->second.find('=');
        if (eq == std::string::npos) throw UsageError("--set " + a->second + ": expected SECTION.KEY=VALUE");
        spec.set.emplace_back(a->second.substr(0, eq), a->second.substr(eq + 1));
      }
    }
    if (!std::filesystem::exists(spec.workflow)) throw IoError(spec.workflow + ": no such workflow file");
    stages::campaign_config_hash(spec);  // a workflow that does not load is refused before anything is written
    stages::write_campaign(dir, spec);
    spec = stages::read_campaign(dir);
    stages::PlanOptions po;
    po.force = o.count("force") && str::to_bool(o.find("force")->second, "--force");
    std::vector<std::string> report;
    const stages::PlanSummary s = stages::plan_campaign(dir, spec, po, report);
    for (const auto& line : report) std::cout << line << "\n";
    if (s.tasks)
      std::cout << "submit: slurm/campaign.sh " << dir << " (sbatch --array=1-" << s.tasks << "%N slurm/campaign.sbatch task " << dir
                << " " << s.id << ", then the reduce)\n"
                << "   or: tmdflow-mpiexec N tmdflow campaign run " << dir << "; tmdflow campaign reduce " << dir << "\n";
    else
      std::cout << "nothing to do: every input is done (tmdflow campaign reduce " << dir << " merges the products)\n";
    std::cout << std::flush;
  });
  return code;
}

int cmd_status(const par::Comm& comm, const std::string& dir, const std::multimap<std::string, std::string>& o) {
  only(o, {}, "campaign status");
  int code = 0;
  on_root(comm, [&] {
    const auto spec = stages::read_campaign(dir);
    const auto inputs = stages::read_inputs(dir);
    int torn = 0;
    const auto ledger = campaign::latest(dir + "/ledger.jsonl", &torn);
    const auto states = campaign::current_states(dir, inputs, ledger, stages::campaign_config_hash(spec));
    std::map<campaign::State, std::size_t> count;
    for (const auto& v : states) ++count[v.state];
    std::cout << "campaign " << dir << ": " << inputs.size() << " inputs: " << count[campaign::State::done] << " done, "
              << count[campaign::State::failed] << " failed, " << count[campaign::State::stale] << " stale, "
              << count[campaign::State::missing] << " missing\n";
    std::size_t shown = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (states[i].state == campaign::State::done || states[i].state == campaign::State::missing) continue;
      if (++shown > 20) continue;
      std::cout << "  " << campaign::state_name(states[i].state) << ": " << inputs[i].key << " (" << inputs[i].path << "): " << states[i].why
                << "\n";
    }
    if (shown > 20) std::cout << "  ... and " << shown - 20 << " more\n";
    if (torn) std::cout << "ledger: " << torn << " incomplete line(s) left out\n";
    std::cout << std::flush;
    code = count[campaign::State::done] == inputs.size() ? 0 : static_cast<int>(ExitCode::input);
  });
  comm.bcast(&code, 1, 0);
  return code;
}

int cmd_reduce(const par::Comm& comm, const std::string& dir, const std::multimap<std::string, std::string>& o) {
  only(o, {"require-all"}, "campaign reduce");
  const bool require_all = o.count("require-all") && str::to_bool(o.find("require-all")->second, "--require-all");
  on_root(comm, [&] {
    const auto spec = stages::read_campaign(dir);
    const auto inputs = stages::read_inputs(dir);
    const auto ledger = campaign::latest(dir + "/ledger.jsonl");
    const std::string config = stages::campaign_config_hash(spec);
    if (require_all) {
      const auto states = campaign::current_states(dir, inputs, ledger, config);
      for (std::size_t i = 0; i < inputs.size(); ++i)
        if (states[i].state != campaign::State::done)
          throw InputError("campaign reduce --require-all: " + inputs[i].key + " (" + inputs[i].path + ") is " +
                           campaign::state_name(states[i].state) + (states[i].why.empty() ? "" : ": " + states[i].why) +
                           "; tmdflow campaign status " + dir + " lists every input not done");
    }
    const campaign::ReduceReport r = campaign::reduce(dir, inputs, ledger, config);
    std::cout << "reduce: " << r.inputs << " inputs, " << r.done << " done, " << r.products << " product(s) reduced\n";
    for (const auto& s : r.summaries) std::cout << "  " << s << "\n";
    if (!r.not_done.empty()) {
      std::cout << "  not reduced (" << r.not_done.size() << " not done):\n";
      for (std::size_t i = 0; i < r.not_done.size() && i < 10; ++i) std::cout << "    " << r.not_done[i] << "\n";
      if (r.not_done.size() > 10) std::cout << "    ... and " << r.not_done.size() - 10 << " more (campaign/inputs.csv)\n";
    }
    std::cout << "wrote " << r.folder << "/ (inputs.csv, the reductions' tables, campaign.h5, figures/)\n" << std::flush;
  });
  return 0;
}

}  // namespace

std::string campaign_workflow(const std::string& dir) {
  try {
    return stages::read_campaign(dir).workflow;
  } catch (const Error&) {
    return "";
  }
}

int cmd_campaign(const par::Comm& comm, const std::vector<std::string>& args) {
  if (args.empty() || args[0].rfind("--", 0) == 0)
    throw UsageError("campaign: expected plan, run, status or reduce, then the campaign folder (tmdflow campaign --help)");
  const std::string& sub = args[0];
  if (args.size() < 2 || args[1].rfind("--", 0) == 0) throw UsageError("campaign " + sub + ": expected the campaign folder DIR");
  const std::string dir = args[1];
  const auto opts = options_of(args, 2, "campaign " + sub);
  if (sub == "plan") return cmd_plan(comm, dir, opts);
  if (sub == "status") return cmd_status(comm, dir, opts);
  if (sub == "reduce") return cmd_reduce(comm, dir, opts);
  if (sub == "run") {
    only(opts, {"task", "plan"}, "campaign run");
    stages::CampaignRunOptions ro;
    if (auto f = opts.find("task"); f != opts.end()) ro.task = to_int(f->second, "--task", 1);
    if (auto f = opts.find("plan"); f != opts.end()) ro.plan_id = to_int(f->second, "--plan", 1);
    return stages::run_campaign(comm, dir, ro);
  }
  throw UsageError("campaign: unknown subcommand '" + sub + "': expected plan, run, status or reduce");
}

}  // namespace tmdflow::app
