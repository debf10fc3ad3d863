"""Help of every command: `tmdflow help [COMMAND]` and `tmdflow COMMAND --help` print a usage and
exit 0 (on one rank and on two, printed once); an unknown command is a usage error (2)."""
from tmdtest import check, finish, run, run_ok

stage_names = [l.split()[0] for l in run_ok(["stages"]).splitlines() if l.strip()]
check(len(stage_names) >= 5, f"tmdflow stages lists {stage_names}")

cases = [(["help"], "usage: tmdflow COMMAND"), (["--help"], "usage: tmdflow COMMAND"),
         (["help", "run"], "usage: tmdflow run WORKFLOW.ini"), (["run", "--help"], "usage: tmdflow run WORKFLOW.ini"),
         (["run", "workflows/demo.ini", "-h"], "usage: tmdflow run WORKFLOW.ini"),
         (["stage", "--help"], "usage: tmdflow stage NAME"), (["help", "stage"], "usage: tmdflow stage NAME"),
         (["stages", "--help"], "usage: tmdflow stages"), (["inspect", "--help"], "usage: tmdflow inspect"),
         (["validate", "--help"], "usage: tmdflow validate"), (["help", "validate"], "usage: tmdflow validate"),
         (["help", "help"], "usage: tmdflow help")]
# Every case on one rank; a few on two (printed once, no rank left behind).
for ranks, subset in ((1, cases), (2, [cases[3], cases[5]])):
    for args, first in subset:
        code, out = run(args, ranks=ranks)
        check(code == 0, f"tmdflow {' '.join(args)} ({ranks} ranks): exit {code}, expected 0:\n{out}")
        check(out.startswith(first), f"tmdflow {' '.join(args)} ({ranks} ranks): expected '{first}...', found:\n{out}")
        check(out.count(first) == 1, f"tmdflow {' '.join(args)} ({ranks} ranks): printed {out.count(first)} times")
        check("error" not in out, f"tmdflow {' '.join(args)} ({ranks} ranks): an error:\n{out}")

# The general usage names every command and how to get its help.
usage = run_ok(["help"])
for command in ["run", "stage", "stages", "inspect", "validate", "help", "--dry-run"]:
    check(command in usage, f"tmdflow help does not mention '{command}'")

# `tmdflow stage --help` lists every stage; `help stage NAME` is the stage's own help.
stage_help = run_ok(["stage", "--help"])
for name in stage_names:
    check(f"  {name} " in stage_help, f"tmdflow stage --help does not list stage '{name}'")
name = stage_names[0]
own = run_ok(["stage", name, "--help"])
check(run_ok(["help", "stage", name]) == own, f"tmdflow help stage {name} differs from tmdflow stage {name} --help")
check(own.startswith(f"tmdflow stage {name}"), f"tmdflow stage {name} --help starts with:\n{own[:200]}")

# The run help documents every option that `run` accepts.
run_help = run_ok(["run", "--help"])
for option in ["--input", "--output", "--set", "--from", "--force", "--dry-run"]:
    check(option in run_help, f"tmdflow run --help does not document {option}")

# Errors stay errors: an unknown command to help, and no command at all.
for ranks in (1, 2):
    code, out = run(["help", "frobnicate"], ranks=ranks, timeout=60)
    check(code == 2 and "frobnicate" in out and "run, stage" in out, f"help frobnicate ({ranks} ranks): exit {code}:\n{out}")
    check(out.count("error") == 1, f"help frobnicate ({ranks} ranks): expected one error line:\n{out}")
code, out = run([])
check(code == 2 and out.startswith("usage: tmdflow COMMAND"), f"tmdflow without a command: exit {code}:\n{out}")
code, out = run(["stage"])
check(code == 2 and "stage name" in out, f"tmdflow stage without a name: exit {code}:\n{out}")

finish()
