// The texts say what each command does, its arguments and options, and an example; the options of
// each stage are documented by the stage itself (tmdflow stage NAME --help).
#include "command_help.hpp"

#include <algorithm>

namespace tmdflow::app {

std::string command_help(const std::string& command) {
  if (command == "run")
    return "usage: tmdflow run WORKFLOW.ini [--input PATH] [--output FILE.h5] [--set SECTION.KEY=VALUE ...]\n"
           "                   [--from STEP] [--force] [--dry-run]\n"
           "\n"
           "Runs the steps of a workflow in order (an INI file: workflows/README.md). Each step runs one stage and\n"
           "writes its product into a group of the output file. Running again resumes: a step whose product is\n"
           "complete with the same configuration is skipped. Before the first step runs, every step is checked:\n"
           "stages, option names and values, ${...} references, the inputs that exist, and outputs that would\n"
           "replace other data (refused). Interrupted (Ctrl-C, SIGTERM), every rank stops within seconds, the\n"
           "partial product is removed, and the exit code is 128 + the signal (130, 143).\n"
           "\n"
           "  --input PATH        the workflow's main input (default: input of its [workflow] section)\n"
           "  --output FILE.h5    the workflow's output file (default: output of its [workflow] section)\n"
           "  --set S.K=VALUE     sets key K of section S: a stage option of step S, or a [workflow] key\n"
           "                      (repeatable)\n"
           "  --from STEP         redoes STEP and every step after it\n"
           "  --force             redoes every step, lets steps replace what their output groups hold (it says\n"
           "                      what), and starts steps whose planned product exceeds the free space\n"
           "  --dry-run           does the checks above, prints the steps it would run, and runs none of them\n"
           "\n"
           "examples:\n"
           "  tmdflow run workflows/demo.ini --output out/demo.h5 --set simulate.scan=96,96\n"
           "  tmdflow run workflows/twist_polarity.ini --input scan.h5 --output out/twist.h5 --dry-run\n"
           "  tmdflow-mpiexec 4 tmdflow run workflows/demo.ini      (under Slurm: srun tmdflow run ...)\n";
  if (command == "stage")
    return "usage: tmdflow stage NAME [--input PATH] --output FILE.h5[:/group] [--force] [options]\n"
           "       tmdflow stage NAME --help      every option of stage NAME, with its unit and default\n"
           "\n"
           "Runs one stage. --input names its main input (FILE.h5[:/group], or a foreign format for ingest);\n"
           "--output names its product: a group of an HDF5 file (the stage's default group when only FILE.h5\n"
           "is given). The product is written under a temporary name and renamed when complete. The output may\n"
           "not overlap the input; an output group holding anything but this stage's earlier product, or a\n"
           "product larger than the free space, is refused unless --force (which says what it replaces).\n"
           "\n"
           "example:\n"
           "  tmdflow stage virtual-image --input scan.h5 --output scan.h5 --adf-inner-mrad 40 --figures figs\n"
           "\n"
           "stages:\n";
  if (command == "stages")
    return "usage: tmdflow stages\n"
           "\n"
           "Lists the stages, one line each (tmdflow stage NAME --help documents one).\n";
  if (command == "inspect")
    return "usage: tmdflow inspect FILE.h5\n"
           "\n"
           "Prints the tree of an HDF5 file: groups with their EMD type, Python class and tmdflow product\n"
           "attributes (schema, stage, configuration hash, complete); datasets with their shape, type and chunks.\n";
  if (command == "validate")
    return "usage: tmdflow validate FILE.h5 [FILE.h5 ...]\n"
           "\n"
           "Checks every tmdflow product in each file (each group with a tmdflow_product attribute) against the\n"
           "schema it names (data_schema/products/, compiled into tmdflow), the EMD 1.0 tree, and every\n"
           "calibration (py4DSTEM's R and Q pixel sizes, the Rx/Ry/Qx/Qy axes: positive and finite), and prints\n"
           "what was checked and every problem found. Exit code 0 when every file is valid, 4 when one has a\n"
           "problem, 5 when one cannot be read (the others are still checked).\n";
  if (command == "models")
    return "usage: tmdflow models\n"
           "\n"
           "Lists the trained models that --model NAME finds: each folder NAME/ with a manifest.json in the\n"
           "folders of $TMDFLOW_MODELS (':'-separated), then the shipped models (models/ of the source tree,\n"
           "<prefix>/share/tmdflow/models). For each: task, architecture, input size and pixel size, the\n"
           "conditions it was trained for and its test metrics, and whether the model file's sha256 matches\n"
           "its manifest. Exit code 0 when every model is intact, 4 when one is not (models/README.md).\n";
  if (command == "campaign")
    return "usage: tmdflow campaign plan DIR [--workflow WORKFLOW.ini --inputs FOLDER|GLOB|LIST] [--match GLOB]\n"
           "                             [--set SECTION.KEY=VALUE ...] [--per-task K] [--force]\n"
           "       tmdflow campaign run DIR [--task T] [--plan P]\n"
           "       tmdflow campaign status DIR\n"
           "       tmdflow campaign reduce DIR [--require-all]\n"
           "\n"
           "One workflow over many inputs (an archive), one product per input in DIR/products/, resumable\n"
           "(docs/CAMPAIGNS.md). plan: expands the inputs (a folder, recursively; a glob with * ? [..] and **;\n"
           "a list file, @FILE or *.txt, one path per line), reads the ledger DIR/ledger.jsonl and lists in\n"
           "DIR/plan.txt the inputs that are missing, failed or stale (input size or time changed, workflow\n"
           "or a file it names changed, product gone); the first plan stores the workflow, inputs, --match\n"
           "and --set in DIR/campaign.json, a later one reuses them (options given again replace them).\n"
           "run: works through plan.txt: --task T does the T-th share of --per-task inputs on all ranks\n"
           "together (a Slurm array task; --plan P refuses a share of an older plan); without --task every\n"
           "input, spread over the ranks, each rank alone on its inputs. Each input's outcome is appended to\n"
           "the ledger (done, or failed with its error); exit 0 when all are done, else the highest exit code.\n"
           "status: counts per state, the failed and stale inputs with why; exit 0 when all are done, 4 if not.\n"
           "reduce: merges the done inputs' products, one file at a time, into DIR/campaign/ (inputs.csv,\n"
           "tables per analysis, campaign.h5, figures/); --require-all refuses while an input is not done.\n"
           "\n"
           "examples:\n"
           "  tmdflow campaign plan out/c1 --workflow workflows/twist_polarity.ini --inputs /data/2024 --match '*.h5'\n"
           "  tmdflow-mpiexec 4 tmdflow campaign run out/c1; tmdflow campaign reduce out/c1\n"
           "  slurm/campaign.sh out/c1 --max-running 20     (plans, submits the job array and the reduce)\n";
  if (command == "help")
    return "usage: tmdflow help [COMMAND]    (or tmdflow COMMAND --help)\n"
           "\n"
           "Prints the usage of tmdflow, or of COMMAND: run, stage, stages, inspect, validate, models, campaign;\n"
           "tmdflow help stage NAME prints the options of stage NAME.\n";
  return "";
}

bool asks_for_help(const std::string& command, const std::vector<std::string>& args) {
  auto is_help = [](const std::string& a) { return a == "--help" || a == "-h"; };
  // `tmdflow stage NAME --help` is the stage's own help; only `tmdflow stage --help` is this one.
  if (command == "stage") return !args.empty() && is_help(args[0]);
  return std::any_of(args.begin(), args.end(), is_help);
}

}  // namespace tmdflow::app
