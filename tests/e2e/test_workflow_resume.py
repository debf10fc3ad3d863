"""Workflows: chaining, resume (a complete step with the same hash is skipped), --force, --from,
--set overrides changing the hash, and the products' attributes; at 1 and 2 ranks."""
import os

import h5py

from tmdtest import check, finish, run, run_ok, scratch, leftovers

tmp = scratch()
wf = os.path.join(tmp, "wf.ini")
with open(wf, "w") as f:
    f.write("""
[workflow]
input =
output = out/result.h5

[make]
stage = synthesize-datacube
scan = 6,5
detector = 16,16
spot-radius-px = 5

[vi]
stage = virtual-image
detectors = bf,com
figures = ${workflow.output_dir}/figures
""")
out = os.path.join(tmp, "out", "result.h5")


def product(group):
    with h5py.File(out, "r") as f:
        g = f[group]
        return dict(hash=g.attrs["tmdflow_config_hash"], complete=int(g.attrs["tmdflow_complete"]),
                    stage=g.attrs["tmdflow_stage"], schema=g.attrs["tmdflow_product"])


def mtime_ns():
    return os.stat(out).st_mtime_ns


for ranks in (1, 2):
    if os.path.exists(out):
        os.remove(out)
    log = run_ok(["run", wf, "--output", out], ranks=ranks)
    make, vi = product("make"), product("vi")
    check(make["complete"] == 1 and vi["complete"] == 1, "both steps complete")
    check(make["schema"] == "datacube/1" and vi["schema"] == "virtual_images/1", "schemas recorded")
    check(vi["stage"] == "virtual-image", "stage recorded")
    check(os.path.exists(os.path.join(tmp, "out", "figures", "result_bf.png")), "figures next to the output")
    check("2 of 2 steps run" in log, f"first run runs both steps:\n{log}")

    # Rerun: both skipped, file untouched.
    before = mtime_ns()
    log = run_ok(["run", wf, "--output", out], ranks=ranks)
    check("0 of 2 steps run" in log and "skipped" in log, f"rerun skips complete steps:\n{log}")
    check(mtime_ns() == before, "a skipped workflow does not rewrite the file")

    # --from vi: only vi redone, same hash.
    log = run_ok(["run", wf, "--output", out, "--from", "vi"], ranks=ranks)
    check("1 of 2 steps run" in log, f"--from vi redoes one step:\n{log}")
    check(product("vi")["hash"] == vi["hash"], "same configuration, same hash")

    # --force: both redone.
    log = run_ok(["run", wf, "--output", out, "--force"], ranks=ranks)
    check("2 of 2 steps run" in log, f"--force redoes both:\n{log}")

    # Changing an option of the first step changes its hash and, through its product, the second's.
    log = run_ok(["run", wf, "--output", out, "--set", "make.seed=7"], ranks=ranks)
    check("2 of 2 steps run" in log, f"a changed option redoes the step and the steps after it:\n{log}")
    check(product("make")["hash"] != make["hash"] and product("vi")["hash"] != vi["hash"], "hashes changed")

    # An incomplete product (a crash mid-write, simulated) is redone even with the same hash.
    with h5py.File(out, "r+") as f:
        f["vi"].attrs["tmdflow_complete"] = 0
    log = run_ok(["run", wf, "--output", out, "--set", "make.seed=7"], ranks=ranks)
    check("1 of 2 steps run" in log and product("vi")["complete"] == 1, f"incomplete step redone:\n{log}")
    check(not leftovers(os.path.join(tmp, "out")), "no temporary files left")

# Unknown keys and options are errors before any step runs (exit code 2), nothing written.
os.remove(out)
code, log = run(["run", wf, "--output", out, "--set", "vi.no-such-option=1"])
check(code == 2 and "no-such-option" in log and "unknown option" in log, f"unknown step option: {code} {log}")
check(not os.path.exists(out), "nothing written when a key is unknown")
code, log = run(["run", wf, "--output", out, "--set", "workflow.colour=red"])
check(code == 2 and "colour" in log, f"unknown [workflow] key: {code} {log}")
code, log = run(["run", wf, "--output", out, "--from", "nope"])
check(code == 2 and "nope" in log and "make, vi" in log, f"unknown --from step: {code} {log}")
code, log = run(["run", wf, "--bogus"])
check(code == 2 and "--bogus" in log, f"unknown run option: {code} {log}")
check(not os.path.exists(out), "nothing written by failed runs")

finish(tmp)
