// Runs one stage: parse and check options (every rank, agreed), decide resume, open the product
// under a temporary name, run, agree on success, commit.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "stage.hpp"
#include "tmdflow/core/hash.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/core/progress.hpp"
#include "tmdflow/core/timer.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/par/failure.hpp"

namespace fs = std::filesystem;

namespace tmdflow::stages {

std::string canonical_option(const std::string& key) {
  std::string k = str::trim(key);
  std::replace(k.begin(), k.end(), '_', '-');
  return k;
}

std::unique_ptr<Stage> make_stage(const std::string& name) {
  for (const auto& [n, factory] : registry())
    if (n == name) return factory();
  std::vector<std::string> names;
  for (const auto& [n, f] : registry()) names.push_back(n);
  throw UsageError("unknown stage '" + name + "': expected one of " + str::join(names, ", "));
}

namespace {

// Identity of an input for the configuration hash: the product hash for tmdflow products, else the
// file's path, size and modification time.
std::string input_identity(const std::string& spec) {
  if (spec.empty()) return "";
  if (spec.rfind("builtin:", 0) == 0) return spec;
  io::Target t = io::parse_target(spec, "/");
  if (spec.find(":/") != std::string::npos) {
    if (auto p = io::probe_product(t)) return "product:" + p->config_hash;
  }
  struct stat st {};
  if (::stat(t.file.c_str(), &st) != 0) return "missing:" + spec;
  return "file:" + fs::weakly_canonical(t.file).string() + ":" + std::to_string(st.st_size) + ":" +
         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
}

std::string prefix(const StageRequest& r) {
  return r.origin.empty() ? "stage '" + r.stage + "': " : r.origin + ": ";
}

}  // namespace

StageOutcome run_stage(const par::Comm& comm, const StageRequest& req) {
  std::unique_ptr<Stage> stage;
  Options options("Options of stage '" + req.stage + "'");
  po::variables_map vm;
  StageOutcome outcome;
  std::string hash_text;

  // 1. Options, input and hash: local work on every rank, then agreement.
  par::collectively(comm, [&] {
    stage = make_stage(req.stage);
    stage->declare(options);
    std::vector<std::string> args;
    for (const auto& [k, v] : req.options) args.push_back("--" + canonical_option(k) + "=" + v);
    try {
      po::parsed_options parsed = po::command_line_parser(args).options(options.description()).run();
      po::store(parsed, vm);
      po::notify(vm);
    } catch (const po::error& e) {
      throw UsageError(prefix(req) + e.what() + " (see: tmdflow stage " + req.stage + " --help)");
    }
    if (stage->takes_input() && req.input.empty())
      throw UsageError(prefix(req) + "no input given: expected --input PATH");
    if (!stage->takes_input() && !req.input.empty() && req.input.rfind("builtin:", 0) != 0)
      throw UsageError(prefix(req) + "stage '" + req.stage + "' takes no --input, found '" + req.input + "'");
    if (req.output.empty()) throw UsageError(prefix(req) + "no output given: expected --output FILE.h5[:/group]");
    outcome.target = io::parse_target(req.output, stage->default_group());
    if (stage->takes_input()) {
      io::Target in = io::parse_target(req.input, "/");
      if (!fs::exists(in.file)) throw IoError(in.file + ": no such file (the input of " + prefix(req).substr(0, prefix(req).size() - 2) + ")");
    }
  });

  StageContext ctx{comm, req.stage, req.input, outcome.target, "", vm};
  par::collectively(comm, [&] {
    try {
      stage->validate(ctx);
    } catch (const ConfigError& e) {
      throw ConfigError(prefix(req) + e.what());
    }
    ConfigHasher h;
    h.add("stage", stage->name()).add("schema", stage->product_schema());
    for (const auto& [name, print] : options.printers())
      if (vm.count(name)) h.add(name, print());
    h.add("input", input_identity(req.input));
    for (const auto& extra : stage->extra_inputs()) h.add("extra", input_identity(extra));
    outcome.config_hash = h.hex();
  });
  ctx.config_hash = outcome.config_hash;

  // 2. Resume: rank 0 looks at the existing product and tells everyone.
  if (!req.force) {
    int skip = 0;
    if (comm.is_root()) {
      auto p = io::probe_product(outcome.target);
      skip = p && p->complete && p->config_hash == outcome.config_hash && p->stage == stage->name();
    }
    comm.bcast(&skip, 1, 0);
    if (skip) {
      outcome.skipped = true;
      return outcome;
    }
  }

  // 3. Run into a temporary product; agree; commit.
  Stopwatch clock;
  {
    std::unique_ptr<io::ProductWriter> out;
    par::collectively(comm, [&] {
      out = std::make_unique<io::ProductWriter>(comm, outcome.target,
                                                io::ProductInfo{stage->product_schema(), stage->name(), outcome.config_hash, false});
    });
    std::exception_ptr err;
    try {
      par::inject_fault(comm, "stage-run");
      stage->run(ctx, *out);
    } catch (const par::CollectiveError&) {
      throw;
    } catch (...) {
      err = std::current_exception();
    }
    par::agree(comm, err);
    par::collectively(comm, [&] { out->commit(); });
  }
  io::FileRegistry::prune();
  log::info(prefix(req).substr(0, prefix(req).size() - 2), ": wrote ", outcome.target.str(), " in ", format_duration(clock.seconds()));
  return outcome;
}

void check_stage_options(const StageRequest& req) {
  auto stage = make_stage(req.stage);
  Options options;
  stage->declare(options);
  for (const auto& [k, v] : req.options) {
    const std::string name = canonical_option(k);
    if (!options.description().find_nothrow(name, false)) {
      std::vector<std::string> names;
      for (const auto& o : options.description().options()) names.push_back(o->long_name());
      throw UsageError(prefix(req) + "unknown option '" + k + "' of stage '" + req.stage + "': expected one of " +
                       str::join(names, ", "));
    }
  }
}

std::string stage_help(const std::string& name) {
  auto stage = make_stage(name);
  Options options("Options (units in brackets, defaults in parentheses)");
  stage->declare(options);
  std::ostringstream s;
  s << "tmdflow stage " << name << (stage->takes_input() ? " --input PATH" : "") << " --output FILE.h5[:/group] [options]\n\n";
  s << stage->description() << "\n\n";
  s << "Product: schema " << stage->product_schema() << " (data_schema/), default group " << stage->default_group() << "\n\n";
  s << options.description();
  return s.str();
}

}  // namespace tmdflow::stages
