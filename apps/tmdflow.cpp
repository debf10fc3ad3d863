// The tmdflow executable: run workflows, run single stages, inspect and validate products.
// Works the same under mpiexec -n N and srun.
#include <boost/program_options.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "campaign_command.hpp"
#include "command_help.hpp"
#include "learn_handover.hpp"
#include "models_command.hpp"
#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/core/progress.hpp"
#include "tmdflow/io/schema.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/runtime.hpp"
#include "version.hpp"
#include "workflow.hpp"
#include "workflow_plan.hpp"
#ifdef TMDFLOW_LEARN_EXE
#include "tmdflow/learn/threads.hpp"
#endif

namespace po = boost::program_options;
using namespace tmdflow;

namespace {

const char* kUsage =
    "usage: tmdflow COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  run WORKFLOW.ini [--input PATH] [--output PATH] [--set SECTION.KEY=VALUE ...]\n"
    "                   [--from STEP] [--force] [--dry-run]\n"
    "                                                 run a workflow (resumes: complete steps are skipped)\n"
    "  stage NAME --input PATH --output FILE.h5[:/group] [options]\n"
    "                                                 run one stage (tmdflow stage NAME --help)\n"
    "  stages                                         list the stages\n"
    "  inspect FILE.h5                                print the product tree\n"
    "  validate FILE.h5 [FILE.h5 ...]                 check files against data_schema/\n"
    "  models                                         list the trained models (name, task, conditions, sha256)\n"
    "  campaign plan|run|status|reduce DIR [options]  one workflow over an archive: a product per input, a\n"
    "                                                 ledger, job arrays, resubmission, campaign statistics\n"
    "  help [COMMAND]                                 this text, or a command's (also: COMMAND --help)\n"
    "\n"
    "global options: --quiet, --verbose, --progress=bar|log|off, --version, --help\n"
    "All commands run the same under mpiexec -n N and srun.\n";

// Splits "--key=value" / "--key value" / "--flag" tokens into pairs.
std::vector<std::pair<std::string, std::string>> key_values(const std::vector<std::string>& args, const std::string& cmd) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 || a.size() < 3)
      throw UsageError(cmd + ": unexpected argument '" + a + "': expected --option[=value]");
    auto eq = a.find('=');
    if (eq != std::string::npos) {
      out.emplace_back(a.substr(2, eq - 2), a.substr(eq + 1));
    } else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
      out.emplace_back(a.substr(2), args[i + 1]);
      ++i;
    } else {
      out.emplace_back(a.substr(2), "true");
    }
  }
  return out;
}

int cmd_stages() {
  if (log::rank() != 0) return 0;
  for (const auto& [name, factory] : stages::registry()) {
    if (stages::is_learn_stage(name)) continue;
    auto s = factory();
    std::printf("  %-22s %s\n", name.c_str(), s->summary().c_str());
  }
  for (const auto& e : stages::learn_stage_catalogue()) std::printf("  %-22s %s\n", e.name, e.summary);
  return 0;
}

// `tmdflow help [COMMAND [STAGE]]`, `tmdflow COMMAND --help`: the usage, exit 0.
int cmd_help(const par::Comm& comm, const std::vector<std::string>& args) {
  std::string text;
  par::collectively(comm, [&] {
    if (args.empty()) text = kUsage;
    else if (args[0] == "stage" && args.size() > 1) text = stages::stage_help(args[1]);
    else text = app::command_help(args[0]);
    if (text.empty())
      throw UsageError("help: unknown command '" + args[0] + "': expected run, stage, stages, inspect, validate, models, campaign or help");
  });
  if (comm.is_root()) std::cout << text << std::flush;
  if (args.size() == 1 && args[0] == "stage") cmd_stages();
  return 0;
}

int cmd_stage(const par::Comm& comm, const std::vector<std::string>& args) {
  if (args.empty()) throw UsageError("stage: expected a stage name (tmdflow stages lists them)");
  const std::string name = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  stages::StageRequest req;
  req.stage = name;
  bool help = false;
  par::collectively(comm, [&] {
    stages::make_stage(name);  // unknown stage: a usage error before anything else
    for (auto& [k, v] : key_values(rest, "stage " + name)) {
      if (k == "help") help = true;
      else if (k == "input") req.input = v;
      else if (k == "output") req.output = v;
      else if (k == "force") req.replace = str::to_bool(v, "--force");
      else req.options.emplace_back(k, v);
    }
  });
  if (help) {
    if (comm.is_root()) std::cout << stages::stage_help(name);
    return 0;
  }
  req.force = true;
  stages::run_stage(comm, req);
  return 0;
}

int cmd_run(const par::Comm& comm, const std::vector<std::string>& args) {
  if (args.empty() || args[0].rfind("--", 0) == 0) throw UsageError("run: expected a workflow file (WORKFLOW.ini)");
  stages::WorkflowOverrides ov;
  stages::RunOptions ro;
  stages::Workflow wf;
  bool dry_run = false;
  par::collectively(comm, [&] {
    std::vector<std::string> rest(args.begin() + 1, args.end());
    for (auto& [k, v] : key_values(rest, "run")) {
      if (k == "input") ov.input = v;
      else if (k == "output") ov.output = v;
      else if (k == "from") ro.from = v;
      else if (k == "force") ro.force = str::to_bool(v, "--force");
      else if (k == "dry-run") dry_run = str::to_bool(v, "--dry-run");
      else if (k == "set") {
        auto eq = v.find('=');
        if (eq == std::string::npos) throw UsageError("--set " + v + ": expected SECTION.KEY=VALUE");
        ov.set.emplace_back(v.substr(0, eq), v.substr(eq + 1));
      } else {
        throw UsageError("run: unknown option '--" + k + "': expected --input, --output, --set, --from, --force or --dry-run");
      }
    }
    wf = stages::load_workflow(args[0], ov);
    if (dry_run) stages::check_workflow(comm, wf, ro);
  });
  if (dry_run) {
    if (comm.is_root()) std::cout << app::workflow_plan(wf);
    return 0;
  }
  stages::run_workflow(comm, wf, ro);
  return 0;
}

int cmd_inspect(const par::Comm& comm, const std::vector<std::string>& args) {
  if (args.size() != 1) throw UsageError("inspect: expected one FILE.h5");
  std::string text;
  par::collectively(comm, [&] {
    if (comm.is_root()) text = io::inspect_file(args[0]);
  });
  if (comm.is_root()) std::cout << text;
  return 0;
}

// One report per file; a file that cannot be read is reported and the others still checked.
// Exit code: 0 when every file is valid, 4 when one has problems, 5 when one cannot be read.
int cmd_validate(const par::Comm& comm, const std::vector<std::string>& args) {
  if (args.empty()) throw UsageError("validate: expected FILE.h5 [FILE.h5 ...]");
  if (args.size() == 1) {
    io::ValidationReport report;
    par::collectively(comm, [&] {
      if (comm.is_root()) report = io::validate_file(args[0]);
    });
    int ok = report.problems.empty();
    comm.bcast(&ok, 1, 0);
    if (comm.is_root()) std::cout << report.text();
    return ok ? 0 : static_cast<int>(ExitCode::input);
  }
  int code = 0, invalid = 0, unreadable = 0;
  if (comm.is_root()) {
    for (const auto& file : args) {
      try {
        const io::ValidationReport report = io::validate_file(file);
        std::cout << report.text();
        invalid += !report.problems.empty();
      } catch (const Error& e) {
        std::cout << "problem: " << e.what() << "\n" << file << ": not checked\n";
        ++unreadable;
      }
    }
    std::cout << args.size() << " files: " << args.size() - std::size_t(invalid + unreadable) << " valid, " << invalid
              << " with problems, " << unreadable << " unreadable\n";
    code = unreadable ? static_cast<int>(ExitCode::io) : invalid ? static_cast<int>(ExitCode::input) : 0;
  }
  comm.bcast(&code, 1, 0);
  return code;
}

int dispatch(const par::Comm& comm, std::vector<std::string> args) {
  // Global options first.
  std::vector<std::string> rest;
  par::collectively(comm, [&] {
    for (const auto& a : args) {
      if (a == "--quiet") log::set_level(log::Level::warn);
      else if (a == "--verbose") log::set_level(log::Level::debug);
      else if (a.rfind("--progress", 0) == 0 && (a.size() == 10 || a[10] == '=')) {
        if (a.size() <= 11) throw UsageError("--progress: expected --progress=bar, log, off or auto");
        parse_progress_mode(a.substr(11), "--progress");
        setenv("TMDFLOW_PROGRESS", a.substr(11).c_str(), 1);
      } else {
        rest.push_back(a);
      }
    }
    if (const char* env = std::getenv("TMDFLOW_PROGRESS")) parse_progress_mode(env, "TMDFLOW_PROGRESS");
  });
  if (rest.empty() || rest[0] == "--help" || rest[0] == "-h") {
    if (comm.is_root()) std::cout << kUsage;
    return rest.empty() ? static_cast<int>(ExitCode::usage) : 0;
  }
  if (rest[0] == "help") return cmd_help(comm, std::vector<std::string>(rest.begin() + 1, rest.end()));
  if (rest[0] == "--version") {
    if (comm.is_root()) std::cout << "tmdflow " << TMDFLOW_VERSION << "\n";
    return 0;
  }
  const std::string cmd = rest[0];
  std::vector<std::string> cargs(rest.begin() + 1, rest.end());
  if (!app::command_help(cmd).empty() && app::asks_for_help(cmd, cargs)) return cmd_help(comm, {cmd});
  if (cmd == "run") return cmd_run(comm, cargs);
  if (cmd == "stage") return cmd_stage(comm, cargs);
  if (cmd == "stages") return cmd_stages();
  if (cmd == "inspect") return cmd_inspect(comm, cargs);
  if (cmd == "validate") return cmd_validate(comm, cargs);
  if (cmd == "models") return app::cmd_models(comm, cargs);
  if (cmd == "campaign") return app::cmd_campaign(comm, cargs);
  throw UsageError("unknown command '" + cmd + "': expected run, stage, stages, inspect, validate, models or campaign (tmdflow --help)");
}

// One line on stderr: "tmdflow: error: ..." or, for an interruption, "tmdflow: interrupted (...)".
void report(const std::string& message, ExitCode code, bool all_ranks) {
  if (static_cast<int>(code) > 128) {
    if (all_ranks || log::rank() == 0) std::fprintf(stderr, "tmdflow: %s\n", message.c_str());
    return;
  }
  log::write(log::Level::error, message, all_ranks);
}

}  // namespace

int main(int argc, char** argv) {
  // Before MPI starts: a command that needs LibTorch runs in tmdflow-learn (learn_handover.hpp).
#ifdef TMDFLOW_LEARN_EXE
  learn::prefer_passive_omp_wait(argv);
  learn::keep_freed_memory();
  stages::register_learn_stages();
#else
  try {
    app::hand_over_to_learn(argc, argv);
  } catch (const Error& e) {
    std::fprintf(stderr, "tmdflow: error: %s\n", e.what());
    return static_cast<int>(e.code());
  }
#endif
  par::Runtime runtime(argc, argv);
  const par::Comm& comm = runtime.world();
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return dispatch(comm, args);
  } catch (const par::CollectiveError& e) {
    // Every rank holds the same error: the root reports it once.
    if (comm.is_root()) report(e.what(), e.code(), false);
    // Interrupted: the launcher is tearing the job down, and MPI_Finalize would wait for it (until
    // mpiexec's kill timeout). The products are already cleaned up by the unwinding; leave now.
    if (static_cast<int>(e.code()) > 128) std::_Exit(static_cast<int>(e.code()));
    return static_cast<int>(e.code());
  } catch (...) {
    ExitCode code = ExitCode::failure;
    std::string msg = par::describe(std::current_exception(), &code);
    if (comm.size() == 1) {
      report(msg, code, false);
      return static_cast<int>(code);
    }
    // Only this rank knows: report and end the whole job (no rank may hang).
    report(msg, code, true);
    par::abort_job(static_cast<int>(code));
  }
}
