"""Stage campaign-stats end to end, against planted ground truth: a stacking/1 product of 12 ReS2
bilayer images (5 x 5 windows each, written here with h5py) whose window slips are drawn around the
two minima of a planted landscape (CSV), each window given as either member of its class (s or -s,
the image cannot tell) and any lattice translation, some windows of low confidence and some without a
slip. The fraction of windows per basin, the counts left out, the per-image table and the basin maps
must be the planted ones; the histograms hold every kept window and the densities integrate to 1;
1 and 2 ranks write identical products; the built-in landscape is folded symmetrically; bad inputs
(a wrong product, a landscape of another material) fail with one line and leave nothing behind."""
import math
import os

import h5py
import numpy as np

from tmdtest import SOURCE, TMDFLOW, check, finish, leftovers, run, run_ok, scratch

tmp = scratch()
rng = np.random.default_rng(5)
A1C = np.array([6.352, 0.0])
A2C = np.array([3.12213044, 5.63943415])
# The planted landscape: minima at M1 (deepest), M2, -M2 and -M1 (shallowest), so that E(s) != E(-s):
# folded (the lower of s, -s) it has two basins of stacking, +-M1 and +-M2; unfolded, four.
M1, M2 = np.array([0.25, 0.25]), np.array([0.62, 0.30])


def energy(a, b):
    def bump(m):
        return np.exp(3 * (np.cos(2 * np.pi * (a - m[0])) + np.cos(2 * np.pi * (b - m[1])) - 2))
    return -60 * bump(M1) - 40 * bump(M2) - 30 * bump(-M2) - 20 * bump(-M1)


csv = os.path.join(tmp, "planted.csv")
with open(csv, "w") as f:
    f.write("slip_a,slip_b,energy_meV\n")
    for ib in range(24):
        for ia in range(24):
            f.write(f"{ia / 24},{ib / 24},{energy(ia / 24, ib / 24) + 100:.9f}\n")


def tedgen_da_db(dx, dy):
    """TED-Gen's (Da, Db) as analysis::tedgen_da_db computes it (data_schema/stacking.md)."""
    a, half_a, h, b_x = 6.42, 3.21, 5.71, 3.27
    for x, y in ((-dx, dy), (dx, -dy)):
        if x < 0:
            x += a
        if y < 0:
            x -= half_a
            y += h
        if 1.74 * x + y < 0:
            x += a
        if 1.74 * x + y > 11.21:
            x -= a
        if (h / (b_x + a)) * x + y > (h / (b_x + a)) * a:
            continue
        skew = math.radians(29.8)
        return y / math.cos(skew), x + y * math.tan(skew)
    return math.nan, math.nan


# ---- the image stack (for the file names) and the planted stacking/1 product -----------------------
N, R, K = 12, 5, 5
frames = os.path.join(tmp, "frames")
os.makedirs(frames)
for n in range(N):
    np.save(os.path.join(frames, f"area_{n:02d}.npy"), rng.normal(size=(16, 16)).astype(np.float32))
stack = os.path.join(tmp, "stack.h5")
run_ok(["stage", "ingest", "--input", frames, "--output", stack, "--pixel-size-A", "0.12"])

sa = np.zeros((N, 1, R, K))
sb = np.zeros((N, 1, R, K))
conf = rng.uniform(0.6, 1.0, (N, R, K))
kind = np.zeros((N, R, K), int)  # 0: basin of M1, 1: basin of M2, -1: low confidence, -2: no slip
for n in range(N):
    cells = rng.permutation(R * K)
    n1 = 6 + n  # windows at M1: 6 .. 17 of 25
    low, missing = n % 3, (n + 1) % 2
    for k, c in enumerate(cells):
        i, j = divmod(int(c), K)
        if k < n1:
            kind[n, i, j] = 0
        elif k < R * K - low - missing:
            kind[n, i, j] = 1
        elif k < R * K - missing:
            kind[n, i, j] = -1
        else:
            kind[n, i, j] = -2
        centre = M1 if kind[n, i, j] == 0 else M2
        s = centre + rng.normal(0, 0.02, 2)
        s = s * rng.choice([-1, 1]) + rng.integers(-1, 2, 2)  # any member of the class, any lattice translation
        sa[n, 0, i, j], sb[n, 0, i, j] = s
        if kind[n, i, j] == -1:
            conf[n, i, j] = 0.2
        if kind[n, i, j] == -2:
            sa[n, 0, i, j] = sb[n, 0, i, j] = np.nan
da = np.full_like(sa, np.nan)
db = np.full_like(sa, np.nan)
for idx in np.ndindex(sa.shape):
    if np.isfinite(sa[idx]):
        f = np.array([sa[idx], sb[idx]])
        f -= np.round(f)
        v = f[0] * A1C + f[1] * A2C
        da[idx], db[idx] = tedgen_da_db(v[0], -v[1])

product = os.path.join(tmp, "stacking.h5")
with h5py.File(product, "w") as f:
    f.attrs.update({"emd_group_type": "file", "version_major": 1, "version_minor": 0, "authoring_program": "test"})
    g = f.create_group("stacking")
    g.attrs.update({"emd_group_type": "root", "python_class": "Root", "tmdflow_product": "stacking/1", "tmdflow_stage": "infer-stacking",
                    "tmdflow_config_hash": "0123456789abcdef", "tmdflow_complete": 1, "material": "ReS2", "layers": 2, "task": "slip",
                    "stacking": "AA", "source": stack + ":/image_stack"})
    for name, v in (("slip_a", sa[:, :, 0, 0]), ("slip_b", sb[:, :, 0, 0]), ("tedgen_Da_A", da[:, :, 0, 0]), ("tedgen_Db_A", db[:, :, 0, 0]),
                    ("maps/slip_a", sa), ("maps/slip_b", sb), ("maps/tedgen_Da_A", da), ("maps/tedgen_Db_A", db), ("maps/confidence", conf)):
        g[name] = v

kept = (kind >= 0).sum(axis=(1, 2))
truth = np.array([(kind == 0).sum(), (kind == 1).sum()]) / (kind >= 0).sum()


def stats(path):
    with h5py.File(path, "r") as f:
        g = f["stacking_stats"]
        out = {}
        g.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        return out, dict(g.attrs)


out1 = os.path.join(tmp, "stats1.h5")
figures = os.path.join(tmp, "figures")
args = ["stage", "campaign-stats", "--input", product, "--output", out1, "--landscape", csv, "--figures", figures]
run_ok(args)
s, attrs = stats(out1)
check("valid" in run_ok(["validate", out1]), "the product validates")
check(len(s["basins/fraction"]) == 2, f"two basins of stacking (M1 and M2 with their -s members): {s['basins/minimum_slip_a']}")
check(np.allclose(s["basins/fraction"], truth, atol=1e-12), f"fraction per basin {s['basins/fraction']} == planted {truth}")
check(list(s["basins/regions"]) == [2, 2], f"each basin holds s and -s: regions {s['basins/regions']}")
m = np.c_[s["basins/minimum_slip_a"], s["basins/minimum_slip_b"]]
for b, mt in enumerate((M1, M2)):
    d = min(np.abs(((sg * m[b] - mt) + 0.5) % 1 - 0.5).max() for sg in (1, -1))
    check(d < 0.03, f"basin {b}'s minimum {m[b]} is the planted {mt} (or -{mt})")
check(attrs["windows_kept"] == (kind >= 0).sum() and attrs["windows_low_confidence"] == (kind == -1).sum()
      and attrs["windows_missing"] == (kind == -2).sum(), f"counts {attrs['windows_kept']}, {attrs['windows_low_confidence']}, {attrs['windows_missing']}")
planted_map = np.where(kind >= 0, kind, -1)
check(np.array_equal(s["maps/basin"], planted_map), "maps/basin is the planted basin of each window (-1 where left out)")
check(np.array_equal(s["images/windows"], kept), f"windows per image {s['images/windows']} vs {kept}")
check(np.allclose(s["images/basin_fraction"][:, 0], (kind == 0).sum(axis=(1, 2)) / kept), "per-image fraction in basin 0")
names = [x.decode() if isinstance(x, bytes) else x for x in s["images/source_file"]]
check(all(os.path.basename(p) == f"area_{n:02d}.npy" for n, p in enumerate(names)), f"source files {names[:3]}")
fr = s["fractions/counts"]
check(abs(fr.sum() - attrs["windows_kept"]) < 1e-9, f"fraction histogram holds every kept window: {fr.sum()}")
with h5py.File(out1, "r") as f:
    area = f["stacking_stats/fractions"].attrs["bin_area_A2"]
    outside = f["stacking_stats/tedgen"].attrs["windows_outside"]
check(abs(s["fractions/density_per_A2"].sum() * area - 1) < 1e-9, "the density integrates to 1 over the cell")
check(abs(s["tedgen/counts"].sum() + outside - attrs["windows_kept"]) < 1e-9 and outside <= 2,
      f"TED-Gen histogram: {s['tedgen/counts'].sum()} + {outside} outside")
# The density peaks at the planted minima (either member) and is ~0 far from them.
dens = s["fractions/density_per_A2"]
iy, ix = np.unravel_index(np.argmax(dens), dens.shape)
peak = np.array([(ix + 0.5) / dens.shape[1], (iy + 0.5) / dens.shape[0]])
check(min(np.abs(((peak - sg * M1) + 0.5) % 1 - 0.5).max() for sg in (1, -1)) < 0.04, f"density peak {peak} at +-M1")
for name in ("stats1_campaign_landscape.png", "stats1_campaign_density.png"):
    check(os.path.exists(os.path.join(figures, name)), f"figure {name}")
# The pairs of unfolded basins (numbered by depth: M1, M2, -M2, -M1): s and -s of a window at M1 lie in
# the basins of M1 and -M1, those of a window at M2 in the basins of M2 and -M2.
u = np.c_[s["unfolded_basins/minimum_slip_a"], s["unfolded_basins/minimum_slip_b"]]
check(len(u) == 4 and all(np.abs(((u[k] - mt) + 0.5) % 1 - 0.5).max() < 0.03 for k, mt in enumerate((M1, M2, -M2, -M1))),
      f"unfolded minima {u}")
pairs = {tuple(p): fr for p, fr in zip(s["basin_pairs/basins"], s["basin_pairs/fraction"])}
check(set(pairs) == {(0, 3), (1, 2)} and abs(pairs[(0, 3)] - truth[0]) < 1e-12 and abs(pairs[(1, 2)] - truth[1]) < 1e-12,
      f"basin pairs {pairs} vs planted {truth}")

# ---- 2 ranks: the same product --------------------------------------------------------------------
out2 = os.path.join(tmp, "stats2.h5")
run_ok([a if a != out1 else out2 for a in args], ranks=2)
s2, _ = stats(out2)
same = [k for k in s if not (s[k].dtype.kind in "fiu" and np.array_equal(s[k], s2[k], equal_nan=s[k].dtype.kind == "f"))
        and not (s[k].dtype.kind not in "fiu" and list(s[k]) == list(s2[k]))]
check(not same, f"2 ranks == 1 rank, bit for bit: differing {same}")

# ---- the built-in landscape: folded, so symmetric under s -> -s -------------------------------------
out3 = os.path.join(tmp, "builtin.h5")
run_ok(["stage", "campaign-stats", "--input", product, "--output", out3, "--landscape-grid", "8,8", "--basin-grid", "48", "--figures", "none"])
s3, a3 = stats(out3)
F = s3["landscape/folded_energy_meV"]
n = F.shape[0]
check(np.array_equal(F, F[(-np.arange(n)) % n][:, (-np.arange(n)) % n]), "the folded built-in landscape is symmetric under s -> -s")
check("built-in" in a3["landscape_source"], f"landscape source {a3['landscape_source']}")
check(abs(s3["basins/fraction"].sum() - 1) < 1e-12, "every kept window in a basin")

# ---- workflows/campaign_stacking.ini: its steps and options check (the inference needs a model) ----
if os.path.exists(os.path.join(os.path.dirname(TMDFLOW), "tmdflow-learn")):
    wf = os.path.join(SOURCE, "workflows", "campaign_stacking.ini")
    text = run_ok(["run", wf, "--input", frames, "--output", os.path.join(tmp, "wf.h5"), "--set", "workflow.pixel_size_A=0.12",
                   "--set", "workflow.landscape=" + csv, "--dry-run"])
    check("3 steps checked" in text and "campaign-stats" in text and "--window-nm=2.0" in text, f"campaign_stacking.ini --dry-run: {text[-600:]}")

# ---- an MX2 campaign (MoS2 2H): no TED-Gen plane; a landscape/1 product of the same material --------
mos2 = os.path.join(tmp, "mos2.h5")
run_ok(["stage", "landscape", "--output", mos2, "--material", "MoS2", "--grid", "6,6", "--figures", "none"])
mx2 = os.path.join(tmp, "mx2.h5")
with h5py.File(product, "r") as f, h5py.File(mx2, "w") as g:
    f.copy("stacking", g)
    st = g["stacking"]
    st.attrs.update({"material": "MoS2", "stacking": "2H"})
    for name in ("tedgen_Da_A", "tedgen_Db_A", "maps/tedgen_Da_A", "maps/tedgen_Db_A"):
        del st[name]
out4 = os.path.join(tmp, "mx2_stats.h5")
run_ok(["stage", "campaign-stats", "--input", mx2, "--output", out4, "--landscape", mos2, "--figures", figures])
s4, a4 = stats(out4)
check("tedgen/counts" not in s4 and abs(s4["basins/fraction"].sum() - 1) < 1e-12 and a4["windows_kept"] == attrs["windows_kept"],
      f"MoS2: no TED-Gen plane, every kept window in a basin: {sorted(s4)[:6]}")
check("valid" in run_ok(["validate", out4]) and os.path.exists(os.path.join(figures, "mx2_stats_campaign_landscape.png")), "MoS2 product and PNG")

# ---- bad inputs ---------------------------------------------------------------------------------
before = sorted(os.listdir(tmp))
for inp, extra, words in (
    (mos2 + ":/landscape", ["--landscape", csv], "stacking/1"),  # a landscape given as the campaign
    (product, ["--landscape", mos2], "MoS2"),                    # the landscape of another material
    (product, ["--landscape", product + ":/stacking"], "landscape/1"),
    (product, ["--min-confidence", "2"], "min-confidence"),
):
    bad = os.path.join(tmp, "bad.h5")
    code, text = run(["stage", "campaign-stats", "--input", inp, "--output", bad, "--figures", "none"] + extra)
    lines = [l for l in text.strip().splitlines() if "error" in l.lower()]
    check(code != 0 and words in text and len(lines) == 1, f"{extra}: one error line naming '{words}': exit {code}, {text.strip()[-400:]}")
    check(not os.path.exists(bad), f"{extra}: no partial output")
check(sorted(os.listdir(tmp)) == before and not leftovers(tmp), "nothing left behind")
finish(tmp)
