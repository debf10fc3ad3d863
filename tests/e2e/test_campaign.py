"""tmdflow campaign without Slurm: plan over a folder (recursive, --match), run on 2 ranks (each rank
alone on its inputs), a broken input recorded as failed with its error and nothing left of it; a new
plan redoes only what failed, what changed (a touched input) or everything when the workflow's
configuration changes; status says so with its exit code. Then the twist-domain analysis over
simulated scans and its reduce: the campaign tables and campaign.h5 agree with the per-input
products' own maps, counted here independently."""
import csv
import json
import os
import shutil

import h5py
import numpy as np

from tmdtest import SOURCE, check, finish, run, run_ok, scratch

tmp = scratch()


def ledger(camp):
    path = os.path.join(camp, "ledger.jsonl")
    return [json.loads(line) for line in open(path)] if os.path.exists(path) else []


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


# --- an archive of tiny scans: two folders, a hidden file, a notes file, one broken scan ---
archive = os.path.join(tmp, "archive")
names = ["2024-05/scan_a", "2024-05/scan_b", "2024-06/scan_c", "2024-06/deep/scan_d", "2024-06/scan_e"]
for i, name in enumerate(names):
    path = os.path.join(archive, name + ".h5")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    run_ok(["--quiet", "stage", "synthesize-datacube", "--output", path, "--scan", f"{3 + i},4", "--detector", "12,12"])
broken = os.path.join(archive, "2024-06", "scan_broken.h5")
open(broken, "w").write("not HDF5\n")
open(os.path.join(archive, "2024-06", ".scan_hidden.h5"), "w").write("hidden\n")
open(os.path.join(archive, "notes.txt"), "w").write("notes\n")
vi = os.path.join(tmp, "vi.ini")
open(vi, "w").write("[workflow]\ninput =\noutput = unused.h5\n\n[vi]\nstage = virtual-image\ncentre = 6,6\n")
camp = os.path.join(tmp, "camp")

out = run_ok(["campaign", "plan", camp, "--workflow", vi, "--inputs", archive, "--match", "*.h5"])
check("6 inputs: 0 done, 0 failed, 0 stale, 6 missing" in out, f"first plan:\n{out}")
check("6 input(s) to do in 6 task(s) of 1" in out, f"first plan:\n{out}")
plan = [line.split("\t") for line in open(os.path.join(camp, "plan.txt")).read().splitlines()]
check([k for k, _ in plan] == sorted(n + ".h5" for n in names + ["2024-06/scan_broken"]), f"plan.txt keys: {plan}")

# Two ranks, each alone on every other input; the broken one fails, the others are done.
code, out = run(["campaign", "run", camp], ranks=2)
check(code == 4, f"campaign run with a broken input: exit {code}, expected 4:\n{out}")
check(f"failed (exit 4): input {broken}" in out, f"the failed input is not named:\n{out}")
records = ledger(camp)
check(len(records) == 6, f"expected 6 ledger records, found {len(records)}")
by_key = {r["key"]: r for r in records}
check(by_key["2024-06/scan_broken.h5"]["state"] == "failed" and broken in by_key["2024-06/scan_broken.h5"]["error"],
      f"the broken input's record: {by_key.get('2024-06/scan_broken.h5')}")
check({r["task"] for r in records} == {"local rank 0", "local rank 1"}, f"both ranks should have worked: {records}")
for i, name in enumerate(names):
    r = by_key[name + ".h5"]
    check(r["state"] == "done" and r["size"] == os.path.getsize(os.path.join(archive, name + ".h5")), f"record of {name}: {r}")
    product = os.path.join(camp, r["product"])
    with h5py.File(product, "r") as f:
        check(f["vi"].attrs["tmdflow_complete"] == 1 and f["vi/bf/data"].shape == (3 + i, 4), f"{product}: wrong product")
check(not os.path.exists(os.path.join(camp, "products", "2024-06", "scan_broken")), "the failed input left a product folder")

code, out = run(["campaign", "status", camp])
check(code == 4 and "5 done, 1 failed" in out and "scan_broken.h5" in out, f"status after a failure: exit {code}:\n{out}")

# A new plan redoes only the failed input; once repaired it is done and the campaign complete.
out = run_ok(["campaign", "plan", camp])
check("1 input(s) to do" in out and "failed: 2024-06/scan_broken.h5" in out, f"plan after a failure:\n{out}")
shutil.copy(os.path.join(archive, "2024-05", "scan_a.h5"), broken)
run_ok(["campaign", "run", camp])
check(len(ledger(camp)) == 7, f"the repaired input: expected 7 records, found {len(ledger(camp))}")
code, out = run(["campaign", "status", camp])
check(code == 0 and "6 done, 0 failed, 0 stale, 0 missing" in out, f"status of a complete campaign: exit {code}:\n{out}")
out = run_ok(["campaign", "plan", camp])
check("0 input(s) to do" in out and "nothing to do" in out, f"a complete campaign planned again:\n{out}")

# A touched input is stale: only it is redone, and the ledger says why.
os.utime(os.path.join(archive, "2024-06", "scan_c.h5"))
out = run_ok(["campaign", "plan", camp])
check("1 stale" in out and "1 input(s) to do" in out, f"plan after touching an input:\n{out}")
check(ledger(camp)[-1]["state"] == "stale" and "input changed" in ledger(camp)[-1]["error"], f"no stale record: {ledger(camp)[-1]}")
run_ok(["campaign", "run", camp])
check(ledger(camp)[-1]["key"] == "2024-06/scan_c.h5" and ledger(camp)[-1]["state"] == "done", "the stale input was not redone")
check(len(ledger(camp)) == 9, f"expected 9 records (one stale, one done more), found {len(ledger(camp))}")

# Another configuration: every input is stale and redone with it.
out = run_ok(["campaign", "plan", camp, "--set", "vi.centre=5,5"])
check("6 stale" in out and "6 input(s) to do" in out, f"plan after changing the configuration:\n{out}")
run_ok(["campaign", "run", camp], ranks=2)
code, out = run(["campaign", "status", camp])
check(code == 0, f"status after redoing with the new configuration: exit {code}:\n{out}")

# Usage errors name what is wrong.
code, out = run(["campaign", "plan", os.path.join(tmp, "new")])
check(code == 2 and "--workflow" in out and "--inputs" in out, f"a new campaign without workflow: exit {code}:\n{out}")
code, out = run(["campaign", "run", camp, "--task", "99"])
check(code == 2 and "--task 99" in out and "has tasks 1..6" in out, f"a task beyond the plan: exit {code}:\n{out}")
code, out = run(["campaign", "frobnicate", camp])
check(code == 2 and "plan, run, status or reduce" in out, f"an unknown subcommand: exit {code}:\n{out}")

# --- the twist-domain analysis over three simulated scans, reduced into campaign statistics ---
scans = os.path.join(tmp, "scans")
os.mkdir(scans)
for seed in (1, 2, 3):
    run_ok(["--quiet", "stage", "simulate-4dstem", "--output", os.path.join(scans, f"sim{seed}.h5"), "--scan", "16,16",
            "--domains", "3", "--detector-px", "64", "--electrons", "20000", "--dtype", "uint16", "--seed", str(seed)])
domains = os.path.join(tmp, "domains")
run_ok(["campaign", "plan", domains, "--workflow", os.path.join(SOURCE, "workflows", "twist_polarity.ini"), "--inputs",
        os.path.join(scans, "*.h5")])
run_ok(["campaign", "run", domains], ranks=2)
out = run_ok(["campaign", "reduce", domains, "--require-all"])
check("3 product(s) reduced" in out and "domains: 3 inputs" in out, f"reduce:\n{out}")
result = os.path.join(domains, "campaign")
table = rows(os.path.join(result, "domains_inputs.csv"))
per_domain = rows(os.path.join(result, "domains_domains.csv"))
check(len(table) == 3, f"domains_inputs.csv has {len(table)} rows, expected 3")
twists = []
for row in table:
    product = os.path.join(domains, "products", row["key"][:-3], row["key"])
    with h5py.File(product, "r") as f:
        label = f["domains/label/data"][()]
        polarity = f["domains/polarity/data"][()]
        table_patterns = f["domains/domain_table/patterns"][()]
        twists += list(f["domains/domain_table/twist_deg"][()])
    # Counted from the maps, not from the product's table.
    labelled = label >= 0
    check(int(row["patterns"]) == label.size and int(row["labelled"]) == int(labelled.sum()), f"{row['key']}: counts {row}")
    frac = float((polarity[labelled] > 0).sum()) / labelled.sum()
    check(abs(float(row["polarity_plus_fraction"]) - frac) < 1e-12, f"{row['key']}: polarity fraction {row['polarity_plus_fraction']} vs {frac}")
    sizes = sorted(np.bincount(label[labelled].ravel()).tolist(), reverse=True)
    mine = sorted((int(d["patterns"]) for d in per_domain if d["key"] == row["key"]), reverse=True)
    check(mine == sizes == sorted(table_patterns.tolist(), reverse=True), f"{row['key']}: domain sizes {mine} vs the map's {sizes}")
    check(int(row["domains"]) == len(sizes), f"{row['key']}: {row['domains']} domains, the map has {len(sizes)}")
with h5py.File(os.path.join(result, "campaign.h5"), "r") as f:
    g = f["domains"]
    check(g.attrs["tmdflow_product"] == "campaign_domains/1", "campaign.h5 is not a campaign_domains/1 product")
    check(int(g["twist_histogram/domains"][()].sum()) == len(twists) == len(per_domain), "twist histogram counts")
    expected, _ = np.histogram(np.minimum(twists, 60), bins=60, range=(0, 60))
    check(np.array_equal(g["twist_histogram/domains"][()], expected), "twist histogram differs from numpy's")
    check(int(g["polarity_histogram/inputs"][()].sum()) == 3, "polarity histogram: expected 3 files")
check(run(["validate", os.path.join(result, "campaign.h5")])[0] == 0, "campaign.h5 does not validate")
check(os.path.getsize(os.path.join(result, "figures", "domains_campaign.png")) > 10000, "no campaign figure")
check(len(rows(os.path.join(result, "inputs.csv"))) == 3, "inputs.csv: expected one row per input")

# --require-all refuses while an input is not done.
os.utime(os.path.join(scans, "sim2.h5"))
code, out = run(["campaign", "reduce", domains, "--require-all"])
check(code == 4 and "sim2.h5" in out and "stale" in out, f"reduce --require-all with a stale input: exit {code}:\n{out}")

finish(tmp)
