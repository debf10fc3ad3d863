"""Stage simulate-movie end to end: the same seed gives identical products on 1 and 2 ranks (another
seed another movie); the product validates as movie/1 and ingests like any movie; its ground truth is
consistent -- every defect's class and every dopant's complex agree with the atoms (rebuilt here by
replaying the events from frame 0 over the column geometry), the events add up, the isolation flags,
populations and transition counts agree with the tables, the truth pixels follow the drift -- and the
rendered frames darken where a chalcogen atom is missing. Bad options fail with one line and no file."""
import math
import os

import h5py
import numpy as np

from tmdtest import check, finish, leftovers, run, run_ok, scratch

tmp = scratch()


def contents(path, group):
    """Every dataset (name -> array) and attribute ((object, name) -> value) under group, but the
    recorded command line (it names the output file)."""
    data, attrs = {}, {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            for k, v in obj.attrs.items():
                if k != "tmdflow_command":
                    attrs[(name, k)] = v.tobytes() if isinstance(v, np.ndarray) else v
            if isinstance(obj, h5py.Dataset):
                data[name] = obj[()]
        f[group].visititems(visit)
    return data, attrs


def same(a, b):
    (da, aa), (db, ab) = a, b
    if da.keys() != db.keys() or aa != ab:
        return False
    for k in da:
        x, y = np.asarray(da[k]), np.asarray(db[k])
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            return False
    return True


chemistry = ["--material", "WS2", "--dopant", "Mo:0.05", "--initial-single-vacancy", "0.04", "--initial-double-vacancy", "0.01",
             "--sputter-barn", "30", "--hop-rate-per-frame", "0.3", "--line-eV", "0.05", "--pixel-A", "0.12"]
movie_args = ["--size", "150,170", "--frames", "7", "--drift-A-per-frame", "0.25,-0.15", "--jitter-A", "0.03", "--frame-time-s", "0.5"] + chemistry

# ---- determinism: 1 vs 2 ranks (7 frames: uneven shards) ---------------------------------------
m1, m2, m3 = (os.path.join(tmp, n) for n in ("m1.h5", "m2.h5", "m3.h5"))
run_ok(["stage", "simulate-movie", "--output", m1, "--seed", "4"] + movie_args)
run_ok(["stage", "simulate-movie", "--output", m2, "--seed", "4"] + movie_args, ranks=2)
run_ok(["stage", "simulate-movie", "--output", m3, "--seed", "5"] + movie_args)
c1, c2, c3 = (contents(p, "movie") for p in (m1, m2, m3))
check(same(c1, c2), "simulate-movie: same seed gives identical products (data and attributes) on 1 and 2 ranks")
check(c1[0]["images/data"].tobytes() != c3[0]["images/data"].tobytes(), "simulate-movie: another seed gives another movie")
code, out = run(["validate", m1])
check(code == 0, f"validate movie/1: {out}")

# ---- it reads like an ingested movie --------------------------------------------------------------
ing = os.path.join(tmp, "ingested.h5")
run_ok(["stage", "ingest", "--input", m1, "--output", ing])
with h5py.File(ing, "r") as f, h5py.File(m1, "r") as g:
    s = f["image_stack"]
    check(s.attrs["pixel_size_x_A"] == 0.12 and s.attrs["calibrated"] == 1, "ingest keeps the movie's pixel size")
    check(abs(s.attrs["frame_time_s"] - 0.5) < 1e-12, "ingest keeps the movie's frame time")
    check(np.array_equal(s["images/data"][()], g["movie/images/data"][()]), "ingest reads the movie's frames")

# ---- ground truth ---------------------------------------------------------------------------------
d, _ = c1
img = d["images/data"]
T, H, W = img.shape
check((T, H, W) == (7, 150, 170) and img.dtype == np.float32, f"frames (T, H, W) float32: {img.shape} {img.dtype}")
check(np.all(img == np.round(img)) and img.min() >= 0, "noisy frames hold detected-electron counts")
with h5py.File(m1, "r") as f:
    t = f["movie/truth"]
    a = t.attrs["lattice_constant_A"]
    class_names = [x.decode() for x in t["class_names"][()]]
    complex_names = [x.decode() for x in t["complex_names"][()]]
    rates = dict(t["rates"].attrs)
check(class_names == ["V_S", "V_S2", "Mo"], f"class names {class_names}")
check(complex_names == ["Mo", "Mo+V_S", "Mo+2V_S", "Mo+3V_S"], f"complex names {complex_names}")

cx, cy = d["truth/structure/columns/x"], d["truth/structure/columns/y"]
sub, kind = d["truth/structure/columns/sublattice"], d["truth/structure/columns/defect"]
chalcogens = np.flatnonzero(sub == 1)
dopants = np.flatnonzero(kind == 4)
check(len(dopants) > 5, f"dopants in the structure: {len(dopants)}")


def near(centre, candidates, distance):
    r = np.hypot(cx[candidates] - cx[centre], cy[candidates] - cy[centre])
    return candidates[np.abs(r - distance) < 0.05 * a]


# Replay: column -> vacancies (slot -> id) from frame 0 and the events, frame by frame.
vac = {k: d["truth/vacancies/" + k] for k in ("frame", "vacancy_id", "slot", "column", "isolated", "x_px", "y_px", "in_field")}
ev = {k: d["truth/events/" + k] for k in ("time_frames", "step", "kind", "vacancy_id", "slot", "from_column", "to_column")}
state = {}
for i in np.flatnonzero(vac["frame"] == 0):
    state[(vac["column"][i], vac["slot"][i])] = vac["vacancy_id"][i]
initial = len(state)
created = int(np.sum(ev["kind"] == 0))
hops = int(np.sum(ev["kind"] == 1))
check(created == rates["sputtered"] and hops == rates["hops"] and initial == rates["initial_vacancies"], "event counts agree with truth/rates")
check(created > 3 and hops > 10, f"the movie has events: {created} creations, {hops} hops")
check(np.all(np.diff(ev["time_frames"]) > 0) and np.all(ev["step"] == np.ceil(ev["time_frames"]) - 1), "events in time order, step = frame before")
ok_hops = ok_frames = ok_classes = ok_complex = ok_isolated = True
defects = {k: d["truth/defects/" + k] for k in ("frame", "defect_class", "complex", "missing", "column", "identity", "in_field", "x_px", "y_px")}
for frame in range(T):
    if frame > 0:
        for e in np.flatnonzero(ev["step"] == frame - 1):
            key_to = (ev["to_column"][e], ev["slot"][e])
            if ev["kind"][e] == 1:
                key_from = (ev["from_column"][e], ev["slot"][e])
                ok_hops &= state.get(key_from) == ev["vacancy_id"][e] and key_to not in state
                ok_hops &= abs(math.hypot(cx[key_to[0]] - cx[key_from[0]], cy[key_to[0]] - cy[key_from[0]]) - a) < 1e-6
                state.pop(key_from, None)
            state[key_to] = ev["vacancy_id"][e]
    rows = np.flatnonzero(vac["frame"] == frame)
    ok_frames &= {(vac["column"][i], vac["slot"][i]): vac["vacancy_id"][i] for i in rows} == state
    missing = {}
    for (col, slot) in state:
        missing[col] = missing.get(col, 0) + 1
    # Classes: every column missing atoms is a V_S (one) or V_S2 (two), and nothing else is.
    drows = np.flatnonzero((defects["frame"] == frame) & (defects["defect_class"] < 2))
    ok_classes &= {defects["column"][i]: defects["defect_class"][i] + 1 for i in drows} == missing
    # Complexes: missing atoms among the six bonded to each dopant (its three nearest chalcogen columns).
    for i in np.flatnonzero((defects["frame"] == frame) & (defects["defect_class"] == 2) & (defects["in_field"] == 1)):
        bonded = near(defects["column"][i], chalcogens, a / math.sqrt(3))
        n = sum(missing.get(c, 0) for c in bonded)
        ok_complex &= len(bonded) == 3 and defects["missing"][i] == n and defects["complex"][i] == min(n, 3)
    # Isolation: a single vacancy, no dopant among its three metals, no vacancy in its six neighbours.
    for i in rows:
        col = vac["column"][i]
        metals = near(col, np.flatnonzero(sub == 0), a / math.sqrt(3))
        neighbours = near(col, chalcogens, a)
        isolated = missing[col] == 1 and not np.any(kind[metals] == 4) and not any(missing.get(c, 0) for c in neighbours)
        ok_isolated &= bool(vac["isolated"][i]) == isolated
check(ok_hops, "every hop moves a vacancy that is there to an empty neighbouring site one lattice constant away")
check(ok_frames, "replaying the events from frame 0 gives every frame's vacancies")
check(ok_classes, "V_S / V_S2 classes agree with the atoms missing in each column")
check(ok_complex, "dopant complexes count the missing atoms among the six bonded to the dopant")
check(ok_isolated, "isolation flags agree with the neighbourhood")
check(len(state) == initial + created, "vacancies at the end = initial + created")

# Populations and transition counts from the tables.
pop = np.zeros((T, 3), np.int64)
for f_, c_, inf in zip(defects["frame"], defects["defect_class"], defects["in_field"]):
    pop[f_, c_] += inf
check(np.array_equal(pop, d["truth/class_populations"]), "class populations count the defects in the field")
seq = {}
for i in np.flatnonzero(defects["defect_class"] == 2):
    if defects["in_field"][i]:
        seq[(defects["identity"][i], defects["frame"][i])] = defects["complex"][i]
counts = np.zeros((T - 1, 4, 4), np.int64)
for (ident, frame), c in seq.items():
    if (ident, frame + 1) in seq:
        counts[frame, c, seq[(ident, frame + 1)]] += 1
check(np.array_equal(counts, d["truth/transition_counts"]), "transition counts: dopants in the field at both frames")
check(np.array_equal(counts.sum(axis=0), d["truth/transition_counts_total"]), "total transition counts = sum over steps")
P = d["truth/transition_matrix"]
rows_seen = counts.sum(axis=(0, 2)) > 0
check(np.allclose(P[rows_seen].sum(axis=1), 1), "transition matrix rows sum to 1 where steps exist")

# Truth pixels invert the scan: frame k's pixel (i, j) shows x = x0 + j p - (k + t) dx (y likewise),
# t = (i W + j) / (H W - 1) the scan's progress; and they move with the drift from frame to frame.
with h5py.File(m1, "r") as f:
    tt = f["movie/truth"]
    ox, oy, px = tt.attrs["image_origin_x_A"], tt.attrs["image_origin_y_A"], tt.attrs["pixel_A"]
    ddx, ddy = tt.attrs["drift_x_A_per_frame"], tt.attrs["drift_y_A_per_frame"]
    xa, ya = tt["defects/x_A"][()], tt["defects/y_A"][()]
fx, fy, ff = defects["x_px"].astype(float), defects["y_px"].astype(float), defects["frame"]
progress = np.clip((np.round(fy) * W + fx) / (H * W - 1), 0, 1)
check(np.allclose(ox + fx * px - (ff + progress) * ddx, xa, atol=0.01) and np.allclose(oy + fy * px - (ff + progress) * ddy, ya, atol=0.01),
      "truth pixels are where the drifting scan sees each defect")
drift = d["truth/drift_px"]
check(np.allclose(drift[3], [3 * -0.15 / 0.12, 3 * 0.25 / 0.12]), f"drift_px (row, col) at frame 3: {drift[3]}")
ok_drift = True
for ident in np.unique(defects["identity"][defects["defect_class"] == 2]):
    sel = np.flatnonzero((defects["defect_class"] == 2) & (defects["identity"] == ident))
    if np.all(defects["in_field"][sel]):
        ok_drift &= np.allclose(fx[sel] - fx[sel][0], drift[:, 1], atol=0.3) and np.allclose(fy[sel] - fy[sel][0], drift[:, 0], atol=0.3)
check(ok_drift, "dopants' truth pixels move with the drift")
check(abs(rates["isolated_diffusion_A2_per_frame"] - 1.5 * 0.3 * a * a) < 1e-9, "model D = 1.5 Gamma0 a^2")
per_frame, per_s = d["truth/diffusion_A2_per_frame"], d["truth/diffusion_A2_per_s"]
check(abs(per_s - per_frame / 0.5) < 1e-9 or (d["truth/diffusion_steps"] == 0 and np.isnan(per_s)), "D per second with the frame time")

# ---- free vacancies, noise-free, no drift: the truth's D, and a vacancy darkens its column -------
clean = os.path.join(tmp, "clean.h5")
run_ok(["stage", "simulate-movie", "--output", clean, "--seed", "4", "--size", "200,220", "--frames", "16", "--counting-noise", "false",
        "--pixel-A", "0.12", "--dopant", "Mo:0.02", "--initial-single-vacancy", "0.08", "--sputter-barn", "0", "--hop-rate-per-frame", "0.3",
        "--bind-vacancy-eV", "0", "--bind-double-eV", "0"])
d, _ = contents(clean, "movie")
T, H, W = d["images/data"].shape
vac = {k: d["truth/vacancies/" + k] for k in ("frame", "vacancy_id", "isolated", "x_px", "y_px")}

# D of the truth, recomputed: one-frame steps of a vacancy isolated at the start and at least one hop
# inside the field there (distances in the structure frame: drift-free).
vx, vy = d["truth/vacancies/x_A"], d["truth/vacancies/y_A"]
edge = np.minimum.reduce([vac["x_px"] + 0.5, W - 0.5 - vac["x_px"], vac["y_px"] + 0.5, H - 0.5 - vac["y_px"]]) * 0.12
where = {(vac["vacancy_id"][i], vac["frame"][i]): i for i in range(len(vx))}
r2 = [(vx[j] - vx[i]) ** 2 + (vy[j] - vy[i]) ** 2 for (ident, frame), i in where.items()
      if vac["isolated"][i] and edge[i] >= a and (j := where.get((ident, frame + 1))) is not None]
check(len(r2) == d["truth/diffusion_steps"] and len(r2) > 20, f"isolated-vacancy steps: {len(r2)} here, {d['truth/diffusion_steps']} in the truth")
check(abs(np.mean(r2) / 4 - d["truth/diffusion_A2_per_frame"]) < 1e-9, "truth D = <|dr|^2>/4 over those steps")
lo, hi = d["truth/diffusion_interval_A2_per_frame"]
check(lo <= d["truth/diffusion_A2_per_frame"] <= hi, "truth D inside its interval")
with h5py.File(clean, "r") as f:
    t = f["movie/truth"]
    frame0 = f["movie/images/data"][0]
    dc, dx, dy, inf, fr = (t["defects/" + k][()] for k in ("defect_class", "x_px", "y_px", "in_field", "frame"))
    ox, oy, px = t.attrs["image_origin_x_A"], t.attrs["image_origin_y_A"], t.attrs["pixel_A"]
    col_x, col_y, col_sub = t["structure/columns/x"][()], t["structure/columns/y"][()], t["structure/columns/sublattice"][()]


def value(x, y):
    return frame0[int(round(y)), int(round(x))]


inside = lambda x, y: 2 <= x <= W - 3 and 2 <= y <= H - 3
ix, iy = (col_x - ox) / px, (col_y - oy) / px
defect_cols = set(zip(np.round(dx[fr == 0], 3), np.round(dy[fr == 0], 3)))
intact = [value(x, y) for x, y, s in zip(ix, iy, col_sub) if s == 1 and inside(x, y) and (round(x, 3), round(y, 3)) not in defect_cols]
singles = [value(x, y) for x, y, c, i, f_ in zip(dx, dy, dc, inf, fr) if f_ == 0 and c == 0 and i and inside(x, y)]
check(len(intact) > 20 and len(singles) > 0, f"columns to compare: {len(intact)} intact, {len(singles)} single vacancies")
check(max(singles) < 0.8 * np.median(intact), f"single vacancies darker: {singles} vs intact median {np.median(intact)}")

# ---- bad options: one line, the documented code, no file -------------------------------------------
bad_out = os.path.join(tmp, "bad.h5")
for args, code, words in [
    (["--frames", "0"], 3, ["frames"]),
    (["--material", "ReS2"], 3, ["material", "MX2"]),
    (["--dopant", "W:0.1"], 3, ["dopant", "host"]),
    (["--drift-A-per-frame", "1"], 3, ["drift-A-per-frame"]),
    (["--sputter-barn", "1e9"], 3, ["sputter-barn"]),
    (["--kT-eV", "0"], 3, ["kT-eV"]),
    (["--initial-single-vacancy", "0.8", "--initial-double-vacancy", "0.5"], 3, ["initial"]),
    (["--pixel-A", "0.6"], 3, ["pixel-A"]),
    (["--counting-noise", "maybe"], 2, ["counting-noise"]),
]:
    for ranks in ((1, 2) if args[0] in ("--frames", "--pixel-A", "--counting-noise") else (1,)):
        got, log = run(["stage", "simulate-movie", "--output", bad_out, "--size", "32,32"] + args, ranks=ranks)
        lines = [l for l in log.splitlines() if "error" in l]
        check(got == code, f"{args} ({ranks} ranks): exit code {got}, expected {code}:\n{log}")
        check(len(lines) == 1 and all(w in lines[0] for w in words), f"{args} ({ranks} ranks): one line naming {words}:\n{log}")
        check(not os.path.exists(bad_out) and not leftovers(tmp), f"{args}: no output left behind")

finish(tmp)
