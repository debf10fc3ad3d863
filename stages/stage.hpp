#pragma once
// The stage contract. A stage is one MPI-collective step: options -> read its shard -> call the
// library -> write one product group. Stages are thin: physics and math live in src/tmdflow.
#include <boost/program_options.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <sstream>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/product.hpp"
#include "tmdflow/par/comm.hpp"

namespace tmdflow::stages {

namespace po = boost::program_options;

/// Declares a stage's options, binding each to a field of the stage's parameter struct, and
/// remembers how to print each value (for the configuration hash and the product's record).
class Options {
 public:
  explicit Options(const std::string& caption = "Options") : desc_(caption) {}

  template <class T>
  Options& add(const std::string& name, T* target, const T& default_value, const std::string& help) {
    desc_.add_options()(name.c_str(), po::value<T>(target)->default_value(default_value, text(default_value)), help.c_str());
    printers_.emplace_back(name, [target] { return text(*target); });
    return *this;
  }
  /// An option without default: absent unless given (the stage checks `given(name)`).
  template <class T>
  Options& add_optional(const std::string& name, T* target, const std::string& help) {
    desc_.add_options()(name.c_str(), po::value<T>(target), help.c_str());
    printers_.emplace_back(name, [target] { return text(*target); });
    return *this;
  }
  po::options_description& description() { return desc_; }
  const std::vector<std::pair<std::string, std::function<std::string()>>>& printers() const { return printers_; }

  static std::string text(const std::string& v) { return v; }
  static std::string text(bool v) { return v ? "true" : "false"; }
  template <class T>
  static std::string text(const T& v) {
    std::ostringstream s;
    if constexpr (std::is_floating_point_v<T>) {
      // The shortest text that reads back as the same value (0.2, not 0.20000000000000001).
      for (int p = 6; p <= 17; ++p) {
        s.str("");
        s.precision(p);
        s << v;
        if (static_cast<T>(std::stod(s.str())) == v) break;
      }
    } else {
      s << v;
    }
    return s.str();
  }

 private:
  po::options_description desc_;
  std::vector<std::pair<std::string, std::function<std::string()>>> printers_;
};

/// Throws ConfigError("OPTION: expected a positive number ...") unless `value` is positive and
/// finite -- or, with `automatic` (e.g. "from the file"), exactly -1, the option's "not given".
inline void require_positive(const std::string& option, double value, const char* automatic = nullptr) {
  if ((value > 0 && value < HUGE_VAL) || (automatic && value == -1)) return;
  throw ConfigError(option + ": expected a positive number" + (automatic ? std::string(", or -1 (") + automatic + ")" : std::string()) +
                    ", found " + Options::text(value));
}

/// The folder of a stage's PNG figures from its --figures value: "auto" -> figures/ beside the
/// output file, "" or "none" -> no figures (returns ""), anything else -> that folder.
inline std::string figures_folder(const std::string& value, const std::string& output_file) {
  if (value.empty() || value == "none") return "";
  if (value == "auto") return (std::filesystem::absolute(output_file).parent_path() / "figures").string();
  return value;
}

struct StageContext {
  const par::Comm& comm;
  std::string stage;        // stage name
  std::string input;        // main input as given ("" when the stage takes none)
  io::Target output;        // where the product goes
  std::string config_hash;
  const po::variables_map& vm;
  bool replace = false;     // --force: the stage may replace files it writes beside the product
  std::string command;      // the request as a command line (command_text)
  bool given(const std::string& option) const { return vm.count(option) && !vm[option].defaulted(); }
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string name() const = 0;
  /// One line for `tmdflow stages`.
  virtual std::string summary() const = 0;
  /// Longer description for `tmdflow stage NAME --help` (inputs, product, conventions).
  virtual std::string description() const { return summary(); }
  /// Product schema written, "name/version" (see data_schema/).
  virtual std::string product_schema() const = 0;
  /// Product group when --output names only a file.
  virtual std::string default_group() const = 0;
  /// The same for a given main input, when the product depends on it (ingest: images or 4D-STEM);
  /// called after the options are parsed into the stage's fields.
  virtual std::string default_group_for(const std::string& input) const { return default_group(); }
  virtual bool takes_input() const { return true; }

  /// Declares the options (bound to the stage's parameters).
  virtual void declare(Options& options) = 0;
  /// After parsing, on every rank, before any collective work: check and derive parameters,
  /// rejecting physically impossible values (ranges, units, positions). Throw ConfigError /
  /// InputError naming the option or file. `tmdflow run` calls it for every step before the first
  /// step runs; it must not read the input unless validate_reads_input() says so.
  virtual void validate(const StageContext& ctx) {}
  /// True when validate() opens the input (a workflow checks such a step before the first step
  /// runs only when its input exists already, else when the step starts).
  virtual bool validate_reads_input() const { return false; }
  /// The data the stage reads, as FILE or FILE:/path (resolved when the input names only a file),
  /// after validate(); the runner refuses an output that overlaps any of them. Default: the main
  /// input and extra_inputs().
  virtual std::vector<std::string> read_locations(const StageContext& ctx) const;
  /// Bytes the product will take (0: small or unknown), after validate(); the runner prints it
  /// and refuses to start when the output's file system has less free space (unless --force).
  virtual std::uint64_t planned_bytes(const StageContext& ctx) const { return 0; }
  /// Files besides --input whose content the product depends on (for the configuration hash).
  virtual std::vector<std::string> extra_inputs() const { return {}; }
  /// Reads the input and writes the product into `out` (opened under a temporary name).
  virtual void run(const StageContext& ctx, io::ProductWriter& out) = 0;
};

using StageFactory = std::function<std::unique_ptr<Stage>()>;

/// Every stage, in the order `tmdflow stages` lists them.
const std::vector<std::pair<std::string, StageFactory>>& registry();
/// Throws UsageError listing the stages when `name` is unknown.
std::unique_ptr<Stage> make_stage(const std::string& name);

/// What to run: a stage with its main input, its output target and options (canonical names
/// use dashes; keys written with underscores are accepted).
struct StageRequest {
  std::string stage;
  std::string input;
  std::string output;
  std::vector<std::pair<std::string, std::string>> options;
  bool force = true;        // false: skip when the product is complete with the same hash
  bool replace = false;     // --force: replace an output group holding anything but this stage's product,
                            // and start even when the planned product does not fit the free space
  std::string origin;       // "step 'vi' of demo.ini" for messages; empty for `tmdflow stage`
};

struct StageOutcome {
  bool skipped = false;
  std::string config_hash;
  io::Target target;
};

/// Runs a stage on every rank of comm (collective). Errors are agreed: every rank throws the same
/// CollectiveError (or, with one rank, the original error).
StageOutcome run_stage(const par::Comm& comm, const StageRequest& request);

/// The request as one shell command line (recorded with the product as tmdflow_command).
std::string command_text(const StageRequest& request, const io::Target& output);

/// Throws UsageError when the request names an option its stage does not have (no other checks).
void check_stage_options(const StageRequest& request);

/// Everything a stage can check before it runs, rank-local: option names and values (parsed and
/// validated), the input's existence, and, when `input_ready`, the stage's input-dependent checks
/// and the output's safety (no overlap with what it reads; no foreign group replaced without
/// --force). Throws the error the stage would give when run.
void check_stage(const par::Comm& comm, const StageRequest& request, bool input_ready);

/// The text of `tmdflow stage NAME --help`.
std::string stage_help(const std::string& name);

/// Canonical option name: lower dashes ("inner_mrad" -> "inner-mrad").
std::string canonical_option(const std::string& key);

}  // namespace tmdflow::stages
