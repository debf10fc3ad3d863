"""Stage landscape end to end (data_schema/landscape.md): the built-in MoS2 estimate has the
literature's order (R-type: AB = BA lowest, AA highest; H-type: AA' lowest, A'B highest) and a sliding
barrier of some 5 to 30 meV per cell; it is the same at 1 and 2 ranks (rows sharded); a landscape read
back from CSV or HDF5 gives the same minima and barrier; bad files and options give one error line."""
import os

import h5py
import numpy as np

from tmdtest import check, finish, leftovers, run, run_ok, scratch

tmp = scratch()


def land(path):
    with h5py.File(path, "r") as f:
        g = f["landscape"]
        reg = {}
        if "registries" in g:
            names = [n.decode() if isinstance(n, bytes) else n for n in g["registries/name"][()]]
            reg = dict(zip(names, g["registries/energy_meV"][()]))
        return g["energy_meV"][()], dict(g.attrs), reg, g["minima/energy_meV"][()]


r3 = os.path.join(tmp, "r.h5")
figs = os.path.join(tmp, "figs")
run_ok(["stage", "landscape", "--output", r3, "--stacking", "AA", "--grid", "12,12", "--figures", figs])
e, attrs, reg, minima = land(r3)
check(abs(reg["AB"] - reg["BA"]) < 1e-6 and reg["AA"] > reg["AB"] + 40, f"R-type registries {reg}")
check(abs(e.max() - reg["AA"]) < 1e-6, f"AA is not the highest grid point: {e.max()} vs {reg}")
check(5 < attrs["barrier_meV"] < 30, f"R-type barrier {attrs['barrier_meV']}")
check(abs(e - e[(-np.arange(12)) % 12][:, (-np.arange(12)) % 12]).max() < 1e-6, "R-type about AA: E(s) != E(-s)")
check(len(minima) >= 2 and abs(minima[0] - minima[1]) < 1e-6, f"minima {minima}")
check(os.path.exists(os.path.join(figs, "r_landscape.png")), "no PNG")
check("valid" in run_ok(["validate", r3]), "landscape/1 does not validate")

h = os.path.join(tmp, "h.h5")
run_ok(["stage", "landscape", "--output", h, "--grid", "12,12", "--figures", "none"])
_, _, hreg, _ = land(h)
check(hreg["AA'"] < hreg["AB'"] < hreg["A'B"], f"H-type registries {hreg}")

# The same grid at 2 ranks (rows sharded, then summed).
two = os.path.join(tmp, "two.h5")
run_ok(["stage", "landscape", "--output", two, "--stacking", "AA", "--grid", "12,12", "--figures", "none"], ranks=2)
check(np.array_equal(land(two)[0], e), "1 and 2 ranks computed different landscapes")

# Read back: CSV (any order, an offset: energies are relative to the lowest) and a bare HDF5 dataset.
csv = os.path.join(tmp, "grid.csv")
with open(csv, "w") as f:
    f.write("# MoS2 R-type, from the built-in estimate\nslip_b,slip_a,energy_meV\n")
    for ib in reversed(range(12)):
        for ia in range(12):
            f.write(f"{ib / 12},{ia / 12},{e[ib, ia] + 250.0}\n")
from_csv = os.path.join(tmp, "csv.h5")
run_ok(["stage", "landscape", "--output", from_csv, "--from", csv, "--figures", "none"])
e2, a2, _, m2 = land(from_csv)
check(np.allclose(e2, e, atol=1e-9) and abs(a2["barrier_meV"] - attrs["barrier_meV"]) < 1e-9, "CSV read back differs")
check(np.allclose(m2, minima), "CSV minima differ")
raw = os.path.join(tmp, "raw.h5")
with h5py.File(raw, "w") as f:
    f["dft/grid"] = 2 * e
from_raw = os.path.join(tmp, "raw_out.h5")
run_ok(["stage", "landscape", "--output", from_raw, "--from", raw + ":/dft/grid", "--figures", "none"])
check(abs(land(from_raw)[1]["barrier_meV"] - 2 * attrs["barrier_meV"]) < 1e-9, "HDF5 dataset read back differs")

# Bad inputs.
bad = os.path.join(tmp, "bad.h5")


def expect_error(args, code, words):
    got, log = run(args)
    lines = [l for l in log.splitlines() if "error" in l]
    check(got == code, f"{args}: exit code {got}, expected {code}:\n{log}")
    for w in words:
        check(w in log, f"{args}: message lacks '{w}':\n{log}")
    check(len(lines) == 1, f"{args}: expected one error line, found {len(lines)}:\n{log}")
    check(not os.path.exists(bad), f"{args}: output left behind")


holey = os.path.join(tmp, "holey.csv")
with open(holey, "w") as f:
    f.write("slip_a,slip_b,energy_meV\n0,0,1\n0.5,0,2\n0,0.5,3\n")
expect_error(["stage", "landscape", "--output", bad, "--from", holey], 4, ["holey.csv", "full grid"])
expect_error(["stage", "landscape", "--output", bad, "--from", os.path.join(tmp, "none.csv")], 4, ["none.csv"])
expect_error(["stage", "landscape", "--output", bad, "--from", raw + ":/nothing"], 4, ["/nothing"])
expect_error(["stage", "landscape", "--output", bad, "--potential", "morse"], 3, ["potential", "morse"])
expect_error(["stage", "landscape", "--output", bad, "--material", "ReS2", "--stacking", "3R"], 3, ["ReS2", "AA"])
expect_error(["stage", "landscape", "--output", bad, "--grid", "2,40"], 3, ["grid"])
check(not leftovers(tmp), f"temporary files left: {leftovers(tmp)}")
finish(tmp)
