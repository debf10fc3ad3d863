// Runs one stage: parse and check options (every rank, agreed), check that the output destroys no
// data and fits on its file system, decide resume, open the product under a temporary name, run,
// agree on success, commit.
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>

#include "stage.hpp"
#include "stage_list.hpp"
#include "tmdflow/core/hash.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/core/progress.hpp"
#include "tmdflow/core/timer.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/io/image_ingest.hpp"
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
  if (is_learn_stage(name))
    throw UsageError("stage '" + name + "' runs LibTorch and is part of tmdflow-learn, which this build does not have "
                     "(LibTorch was not found or TMDFLOW_WITH_TORCH=OFF: install libtorch-dev and rebuild)");
  std::vector<std::string> names;
  for (const auto& [n, f] : registry()) names.push_back(n);
  throw UsageError("unknown stage '" + name + "': expected one of " + str::join(names, ", "));
}

std::vector<std::string> Stage::read_locations(const StageContext& ctx) const {
  std::vector<std::string> out;
  if (takes_input() && !ctx.input.empty()) out.push_back(ctx.input);
  for (const auto& extra : extra_inputs())
    if (!extra.empty()) out.push_back(extra);
  return out;
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
std::string who(const StageRequest& r) {
  const std::string p = prefix(r);
  return p.substr(0, p.size() - 2);
}

// A stage with its options parsed, ready to validate and run.
struct Prepared {
  std::unique_ptr<Stage> stage;
  std::unique_ptr<Options> options;
  po::variables_map vm;
  io::Target target;
};

// Options (names and value syntax), the request's input and output: rank-local.
void parse(const StageRequest& req, Prepared& p) {
  p.stage = make_stage(req.stage);
  p.options = std::make_unique<Options>("Options of stage '" + req.stage + "'");
  p.stage->declare(*p.options);
  std::vector<std::string> args;
  for (const auto& [k, v] : req.options) args.push_back("--" + canonical_option(k) + "=" + v);
  try {
    po::parsed_options parsed = po::command_line_parser(args).options(p.options->description()).run();
    po::store(parsed, p.vm);
    po::notify(p.vm);
  } catch (const po::error& e) {
    throw UsageError(prefix(req) + e.what() + " (see: tmdflow stage " + req.stage + " --help)");
  }
  if (p.stage->takes_input() && req.input.empty()) throw UsageError(prefix(req) + "no input given: expected --input PATH");
  if (!p.stage->takes_input() && !req.input.empty() && req.input.rfind("builtin:", 0) != 0)
    throw UsageError(prefix(req) + "stage '" + req.stage + "' takes no --input, found '" + req.input + "'");
  if (req.output.empty()) throw UsageError(prefix(req) + "no output given: expected --output FILE.h5[:/group]");
  try {
    p.target = io::parse_target(req.output, p.stage->default_group_for(req.input));
  } catch (const UsageError& e) {
    throw UsageError(prefix(req) + "output " + e.what());
  }
}

void check_input_exists(const StageRequest& req, const Prepared& p) {
  if (!p.stage->takes_input()) return;
  io::Target in = io::parse_target(req.input, "/");
  // A quoted glob ('dir/*.tif') names files by a pattern: the stage says when nothing matches.
  if (!fs::exists(in.file) && !io::is_glob(in.file)) throw IoError(in.file + ": no such file (the input of " + who(req) + ")");
}

void validate(const StageContext& ctx, const StageRequest& req, Prepared& p) {
  try {
    p.stage->validate(ctx);
  } catch (const ConfigError& e) {
    throw ConfigError(prefix(req) + e.what());
  }
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return fs::exists(a) && fs::exists(b) && fs::equivalent(a, b, ec);
}

bool inside_or_equal(const std::string& inner, const std::string& outer) {
  if (outer == "/" || inner == outer) return true;
  return inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 && inner[outer.size()] == '/';
}

std::string describe_object(const io::h5::Group& root, const std::string& path) {
  const auto kind = root.kind(path);
  if (kind != io::h5::LinkKind::group) return kind == io::h5::LinkKind::dataset ? "a dataset" : "an object that is not a group";
  io::h5::Group g = root.open_group(path);
  if (auto info = io::read_product_attrs(g))
    return "a '" + info->schema + "' product of stage '" + info->stage + "'" + (info->complete ? "" : " (incomplete)");
  return "a group that is not a tmdflow product (" + std::to_string(g.children().size()) + " members)";
}

// The outermost product (or EMD root) that holds `path`, below "/"; `path` itself when none does.
std::string product_scope(const io::h5::Group& root, const std::string& path) {
  std::string cur;
  for (const auto& part : str::split(path, '/', true)) {
    cur += "/" + part;
    if (root.kind(cur) != io::h5::LinkKind::group) break;
    io::h5::Group g = root.open_group(cur);
    if (io::read_product_attrs(g) || g.attr_string("emd_group_type").value_or("") == "root") return cur;
  }
  return path;
}

// No data destroyed. (1) The output must not overlap what the stage reads -- never, even with
// --force; checked when `reads_known` (the inputs exist). (2) It must not replace or nest into
// anything but a product of the same stage, unless --force, which says what it replaces (when
// `announce`). Rank-local, read-only.
void check_output(const StageContext& ctx, const StageRequest& req, const Prepared& p, bool reads_known, bool announce) {
  const io::Target& out = p.target;
  if (!fs::exists(out.file) || !io::h5::File::is_hdf5(out.file)) return;  // a new file, or refused by the writer
  if (req.replace && !announce && !reads_known) return;
  auto file = io::FileRegistry::open(out.file, io::h5::Mode::read, nullptr);
  const io::h5::Group root = file->root();
  if (reads_known) {
    for (const auto& spec : p.stage->read_locations(ctx)) {
      const io::Target in = io::parse_target(spec, "/");
      if (!same_file(in.file, out.file)) continue;
      const std::string scope = product_scope(root, in.group);
      if (inside_or_equal(out.group, scope) || inside_or_equal(scope, out.group))
        throw ConfigError(prefix(req) + "output " + out.str() + " overlaps what this stage reads (" + in.file + ":" + scope +
                          "): refusing to write over its own input; name another group, e.g. " + out.file + ":" +
                          p.stage->default_group_for(req.input));
    }
  }
  if (req.replace && !announce) return;
  const auto kind = root.kind(out.group);
  std::string replaced;
  if (kind != io::h5::LinkKind::missing) {
    std::optional<io::ProductInfo> info;
    if (kind == io::h5::LinkKind::group) info = io::read_product_attrs(root.open_group(out.group));
    if (!info || info->stage != p.stage->name()) replaced = out.str() + " holds " + describe_object(root, out.group);
  } else {
    const std::string scope = product_scope(root, out.group);
    if (scope != out.group) replaced = out.str() + " would go inside " + describe_object(root, scope) + " at " + scope;
  }
  if (replaced.empty()) return;
  if (!req.replace)
    throw ConfigError(prefix(req) + "output " + replaced + ": refusing to replace it (name another group, or give --force to replace it)");
  log::warn(who(req), ": --force: output ", replaced, "; replacing it");
}

// Free space of the file system that will hold `file` (its nearest existing folder).
std::uint64_t free_bytes(const std::string& file, std::string& folder) {
  fs::path dir = fs::absolute(fs::path(file)).parent_path();
  std::error_code ec;
  while (!dir.empty() && !fs::exists(dir, ec) && dir != dir.root_path()) dir = dir.parent_path();
  folder = dir.string();
  struct statvfs st {};
  if (::statvfs(folder.c_str(), &st) != 0) return UINT64_MAX;
  return std::uint64_t(st.f_bavail) * std::uint64_t(st.f_frsize);
}

// Prints the planned size of a large product and refuses one that cannot fit (unless --force).
void check_space(const StageContext& ctx, const StageRequest& req, const Prepared& p) {
  const std::uint64_t planned = p.stage->planned_bytes(ctx);
  if (planned == 0) return;
  std::string folder;
  const std::uint64_t free = free_bytes(p.target.file, folder);
  const bool large = planned >= (64u << 20);
  if (large) log::info(who(req), ": planned product size ", str::human_bytes(double(planned)), " (", str::human_bytes(double(free)),
                       " free in ", folder, ")");
  if (planned <= free) return;
  const std::string msg = p.target.file + ": the product needs about " + str::human_bytes(double(planned)) + " and " + folder +
                          " has " + str::human_bytes(double(free)) + " free";
  if (!req.replace) throw IoError(prefix(req) + msg + ": refusing to start (check the sizes, or give --force to try anyway)");
  log::warn(who(req), ": --force: ", msg, "; starting anyway");
}

}  // namespace

void check_stage(const par::Comm& comm, const StageRequest& req, bool input_ready) {
  Prepared p;
  parse(req, p);
  StageContext ctx{comm, req.stage, req.input, p.target, "", p.vm, req.replace, command_text(req, p.target)};
  if (!input_ready) {
    if (!p.stage->validate_reads_input()) validate(ctx, req, p);
  } else {
    check_input_exists(req, p);
    validate(ctx, req, p);
  }
  check_output(ctx, req, p, input_ready, false);  // with --force the step says what it replaces when it runs
}

StageOutcome run_stage(const par::Comm& comm, const StageRequest& req) {
  Prepared p;
  StageOutcome outcome;

  // 1. Options, input, output and hash: local work on every rank, then agreement.
  par::collectively(comm, [&] {
    parse(req, p);
    check_input_exists(req, p);
  });
  outcome.target = p.target;
  StageContext ctx{comm, req.stage, req.input, outcome.target, "", p.vm, req.replace, command_text(req, outcome.target)};
  par::collectively(comm, [&] {
    validate(ctx, req, p);
    ConfigHasher h;
    h.add("stage", p.stage->name()).add("schema", p.stage->product_schema());
    for (const auto& [name, print] : p.options->printers())
      if (p.vm.count(name)) h.add(name, print());
    h.add("input", input_identity(req.input));
    for (const auto& extra : p.stage->extra_inputs()) h.add("extra", input_identity(extra));
    outcome.config_hash = h.hex();
  });
  ctx.config_hash = outcome.config_hash;

  // 2. Resume: rank 0 looks at the existing product and tells everyone.
  if (!req.force) {
    int skip = 0;
    if (comm.is_root()) {
      auto info = io::probe_product(outcome.target);
      skip = info && info->complete && info->config_hash == outcome.config_hash && info->stage == p.stage->name();
    }
    comm.bcast(&skip, 1, 0);
    if (skip) {
      outcome.skipped = true;
      return outcome;
    }
  }

  // 3. Before any work: no data destroyed, and room for the product (rank 0 looks, all agree).
  par::collectively(comm, [&] {
    if (!comm.is_root()) return;
    check_output(ctx, req, p, true, true);
    check_space(ctx, req, p);
  });
  io::FileRegistry::prune();

  // 4. Run into a temporary product; agree; commit.
  Stopwatch clock;
  {
    std::unique_ptr<io::ProductWriter> out;
    par::collectively(comm, [&] {
      out = std::make_unique<io::ProductWriter>(
          comm, outcome.target,
          io::ProductInfo{p.stage->product_schema(), p.stage->name(), outcome.config_hash, false, ctx.command});
    });
    std::exception_ptr err;
    try {
      par::inject_fault(comm, "stage-run");
      p.stage->run(ctx, *out);
    } catch (const par::CollectiveError&) {
      throw;
    } catch (...) {
      err = std::current_exception();
    }
    par::agree(comm, err);
    par::collectively(comm, [&] { out->commit(); });
  }
  io::FileRegistry::prune();
  log::info(who(req), ": wrote ", outcome.target.str(), " in ", format_duration(clock.seconds()));
  return outcome;
}

std::string command_text(const StageRequest& req, const io::Target& output) {
  // Shell-quoted where needed, so the line can be pasted back into a shell.
  auto quote = [](const std::string& v) {
    if (!v.empty() && v.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.,:/=@%") == std::string::npos)
      return v;
    std::string q = "'";
    for (char c : v) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  std::string s = "tmdflow stage " + req.stage;
  if (!req.input.empty()) s += " --input " + quote(req.input);
  s += " --output " + quote(output.str());
  for (const auto& [name, value] : req.options) s += " --" + name + (value.empty() ? "" : " " + quote(value));
  return s;
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
  s << "--force replaces an output group that holds anything but this stage's product (it says what it replaces),\n"
       "and starts even when the planned product looks larger than the free space.\n\n";
  s << options.description();
  return s.str();
}

}  // namespace tmdflow::stages
