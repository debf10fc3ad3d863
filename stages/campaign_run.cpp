// Campaign tasks: the planned inputs, each through the workflow into its own product, each outcome
// appended to the ledger.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "campaign.hpp"
#include "tmdflow/campaign/ledger.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/core/progress.hpp"
#include "tmdflow/core/timer.hpp"
#include "tmdflow/io/product.hpp"
#include "tmdflow/par/failure.hpp"
#include "workflow.hpp"

namespace fs = std::filesystem;

namespace tmdflow::stages {
namespace {

using campaign::InputFile;

struct Plan {
  int id = 0;
  std::string config;
  std::size_t per_task = 1, tasks = 0;
  bool force = false;
  std::vector<InputFile> todo;
};

Plan read_plan(const std::string& dir) {
  const fs::path info = fs::path(dir) / "plan.json";
  std::ifstream in(info);
  if (!in) throw IoError(info.string() + ": no such file (tmdflow campaign plan " + dir + " first)");
  Plan p;
  try {
    const auto j = nlohmann::json::parse(in);
    p.id = j.at("plan").get<int>();
    p.config = j.at("config").get<std::string>();
    p.per_task = j.at("per_task").get<std::size_t>();
    p.tasks = j.at("tasks").get<std::size_t>();
    p.force = j.value("force", false);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(info.string() + ": expected plan, config, per_task and tasks: " + e.what());
  }
  std::ifstream list(fs::path(dir) / "plan.txt");
  for (std::string line; std::getline(list, line);) {
    const auto tab = line.find('\t');
    if (tab == std::string::npos) throw InputError(dir + "/plan.txt: expected KEY<tab>PATH lines, found '" + line.substr(0, 80) + "'");
    p.todo.push_back({line.substr(tab + 1), line.substr(0, tab)});
  }
  return p;
}

std::string who(const par::Comm& world, bool alone) {
  const char* job = std::getenv("SLURM_ARRAY_JOB_ID");
  const char* task = std::getenv("SLURM_ARRAY_TASK_ID");
  if (job && task) return std::string("slurm ") + job + "_" + task;
  if (const char* id = std::getenv("SLURM_JOB_ID")) return std::string("slurm ") + id;
  return alone ? "local rank " + std::to_string(world.rank()) : "local";
}

// One input through the workflow on `comm`; returns its ledger record. An interruption is rethrown.
campaign::Record run_one(const par::Comm& comm, const std::string& dir, const CampaignSpec& spec, const Plan& plan,
                         const InputFile& in, const std::string& task) {
  campaign::Record r;
  r.key = in.key;
  r.input = in.path;
  r.config = plan.config;
  r.product = product_of(in);
  r.task = task;
  Stopwatch clock;
  std::exception_ptr err;
  try {
    // Stamped before reading: a file rewritten during the run is stale at the next plan.
    par::collectively(comm, [&] {
      const campaign::FileStamp st = campaign::stamp(in.path);
      r.size = st.size;
      r.mtime_ns = st.mtime_ns;
      if (comm.is_root()) fs::create_directories((fs::path(dir) / r.product).parent_path());
    });
    WorkflowOverrides ov;
    ov.input = in.path;
    ov.output = (fs::path(dir) / r.product).string();
    ov.set = spec.set;
    Workflow wf;
    par::collectively(comm, [&] { wf = load_workflow(spec.workflow, ov); });
    stages::RunOptions ro;
    ro.force = plan.force;
    run_workflow(comm, wf, ro);
    r.state = campaign::State::done;
  } catch (...) {
    err = std::current_exception();
  }
  io::FileRegistry::prune();
  r.seconds = clock.seconds();
  r.time = campaign::utc_now();
  if (err) {
    ExitCode code = ExitCode::failure;
    r.error = par::describe(err, &code);
    if (static_cast<int>(code) > 128) std::rethrow_exception(err);  // stopped: nothing to record
    r.state = campaign::State::failed;
    r.exit_code = static_cast<int>(code);
    if (comm.is_root()) {  // no empty product folder left for an input that failed
      std::error_code ec;
      fs::remove((fs::path(dir) / r.product).parent_path(), ec);  // only when empty
    }
  }
  return r;
}

}  // namespace

int run_campaign(const par::Comm& world, const std::string& dir, const CampaignRunOptions& options) {
  CampaignSpec spec;
  Plan plan;
  par::collectively(world, [&] {
    spec = read_campaign(dir);
    plan = read_plan(dir);
    if (options.plan_id && options.plan_id != plan.id)
      throw UsageError("campaign " + dir + ": this task belongs to plan " + std::to_string(options.plan_id) + ", the folder holds plan " +
                       std::to_string(plan.id) + " (planned again since): not running an outdated share; submit the new plan");
    const std::string now = campaign_config_hash(spec);
    if (now != plan.config)
      throw ConfigError("campaign " + dir + ": the workflow or a file it names changed since plan " + std::to_string(plan.id) +
                        " (configuration " + plan.config + ", now " + now + "): plan again (tmdflow campaign plan " + dir + ")");
    if (options.task < 0 || std::size_t(options.task) > plan.tasks)
      throw UsageError("campaign run --task " + std::to_string(options.task) + ": plan " + std::to_string(plan.id) + " has tasks 1.." +
                       std::to_string(plan.tasks));
  });
  const std::string ledger = (fs::path(dir) / "ledger.jsonl").string();

  // Which inputs, on which communicator: an array task's share on all its ranks, or every input
  // spread over the ranks, each rank alone (inputs are independent: no rank waits for another).
  const bool alone = options.task == 0;
  std::size_t first = 0, stride = 1, end = plan.todo.size();
  if (!alone) {
    first = (std::size_t(options.task) - 1) * plan.per_task;
    end = std::min(end, first + plan.per_task);
  } else {
    first = std::size_t(world.rank());
    stride = std::size_t(world.size());
  }
  par::Comm self(MPI_COMM_SELF);
  const par::Comm& comm = alone ? self : world;
  const std::string task = who(world, alone && world.size() > 1);

  int worst = 0;
  std::size_t done = 0, failed = 0;
  std::exception_ptr stopped;
  try {
    for (std::size_t i = first; i < end; i += stride) {
      const campaign::Record r = run_one(comm, dir, spec, plan, plan.todo[i], task);
      if (comm.is_root()) campaign::append(ledger, r);
      const std::string where = "campaign: " + std::to_string(i + 1) + "/" + std::to_string(plan.todo.size()) + " " + r.key + ": ";
      if (r.state == campaign::State::done) {
        ++done;
        if (comm.is_root()) log::write(log::Level::info, where + "done in " + format_duration(r.seconds), alone);
      } else {
        ++failed;
        worst = std::max(worst, r.exit_code);
        // The line to grep for in a campaign's logs: which input failed and why.
        if (comm.is_root()) log::write(log::Level::error, where + "failed (exit " + std::to_string(r.exit_code) + "): input " +
                                                              r.input + ": " + r.error, alone);
      }
    }
  } catch (...) {
    stopped = std::current_exception();
  }
  // Ranks that worked alone meet again: an interruption ends every rank the same way.
  if (alone) par::agree(world, stopped);
  else if (stopped) std::rethrow_exception(stopped);
  worst = world.allreduce(worst, par::Op::max);
  const auto total_done = world.allreduce(static_cast<long long>(alone ? done : (world.is_root() ? done : 0)), par::Op::sum);
  const auto total_failed = world.allreduce(static_cast<long long>(alone ? failed : (world.is_root() ? failed : 0)), par::Op::sum);
  log::info("campaign ", dir, ": plan ", plan.id, alone ? "" : ", task " + std::to_string(options.task), ": ", total_done, " done, ",
            total_failed, " failed");
  return worst;
}

}  // namespace tmdflow::stages
