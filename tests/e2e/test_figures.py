"""Figures of the demo (workflows/demo.ini) end to end: every PNG has a title, a caption (printed by
the run and listed in captions.txt) and its map at the layout's size; the found domains are coloured
like the ground truth's; diffraction patterns are on a log scale (outer spots visible); the demo's
sample has holes that the virtual ADF and BF images show far above the noise, and that the domain
analysis leaves undetermined without losing its accuracy on the film."""
import os

import h5py
import numpy as np
from sklearn.metrics import adjusted_rand_score

import pngfile
from tmdtest import SOURCE, check, finish, run_ok, scratch

tmp = scratch()
out = os.path.join(tmp, "demo.h5")
log = run_ok(["run", os.path.join(SOURCE, "workflows", "demo.ini"), "--output", out], ranks=2, timeout=600)
figs = os.path.join(tmp, "figures")
pngs = sorted(f for f in os.listdir(figs) if f.endswith(".png"))
expected = {"ground_truth_orientation", "ground_truth_polarity", "ground_truth_label", "demo_bf", "demo_adf", "demo_sum", "demo_com",
            "demo_mean_pattern", "demo_max_pattern", "domains_orientation", "domains_polarity", "domains_label",
            "domains_confidence", "domains_mean_patterns"}
check(set(p[:-4] for p in pngs) == expected, f"figures: expected {sorted(expected)}, found {pngs}")

with h5py.File(out, "r") as f:
    gt = f["datacube_root/ground_truth"]
    truth, vacuum = gt["label"][()], gt["vacuum"][()].astype(bool)
    origin, step = gt.attrs["scan_origin_A"], gt.attrs["scan_step_A"]
    hx, hy, hr = gt["holes/x"][()], gt["holes/y"][()], gt["holes/radius"][()]
    bf, adf = f["virtual_image/bf/data"][()], f["virtual_image/adf/data"][()]
    mean_pattern = f["virtual_image/mean_pattern/data"][()]
    found = f["domains/label/data"][()]
    rx, ry = truth.shape

# ---- every figure: title, caption, layout; the run says what each shows --------------------------
with open(os.path.join(figs, "captions.txt"), encoding="utf-8") as c:
    captions = dict(line.rstrip("\n").split(": ", 1) for line in c if line.strip())
images = {}
for name in pngs:
    px, text = pngfile.read(os.path.join(figs, name))
    images[name] = (px, text)
    check(len(text.get("Title", "")) > 5, f"{name}: no title")
    check(len(text.get("Description", "")) > 20, f"{name}: no caption")
    check(captions.get(name) == text.get("Description"), f"{name}: captions.txt does not hold its caption")
    check(f"figure {name}: " in log, f"{name}: the run printed no line saying what it shows")
    boxes = pngfile.layout(text)
    check(len(boxes) >= 1, f"{name}: no layout")
    for x, y, w, h, zoom in boxes:
        # A map with margins for the title, axes and key around it.
        check(x > 30 and y > 25 and px.shape[1] > x + w + 10 and px.shape[0] > y + h + 25, f"{name}: map {x, y, w, h} fills its figure {px.shape}")
        # The map's frame is drawn (black) and the title row above it holds dark text.
        check(np.all(px[y - 1, x:x + w] < 60), f"{name}: no frame above the map")
    title_rows = px[: boxes[0][1] - 4]
    check((title_rows.mean(axis=2) < 100).sum() > 80, f"{name}: no title text above the map")
    x, y, w, h, zoom = boxes[0]
    grey = px.mean(axis=2)
    # Axis ticks and labels below and left of the map, a key (colour bar, wheel or legend) right of it
    # (the panels of a sheet share one bar, right of the last column).
    check((grey[y + h + 2:y + h + 45, x:x + w] < 100).sum() > 100, f"{name}: no x-axis ticks and label below the map")
    check((grey[y:y + h, :x - 2] < 100).sum() > 100, f"{name}: no y-axis ticks and label left of the map")
    key = grey[y:y + h, max(x + w for x, _, w, _, _ in boxes) + 8:]
    check((key < 200).sum() > 300, f"{name}: no key right of the map")
    # The scale bar: a white bar in the map's lower left, on a dark box.
    corner = grey[y + int(0.8 * h):y + h, x:x + w // 2] == 255
    check(corner.sum(axis=1).max() >= 20, f"{name}: no scale bar in the map's lower left")
for name in ("demo_bf.png", "demo_adf.png", "domains_label.png", "ground_truth_label.png", "domains_orientation.png"):
    x, y, w, h, zoom = pngfile.layout(images[name][1])[0]
    check((w, h) == (ry * zoom, rx * zoom) and zoom >= 4, f"{name}: expected a {ry}x{rx} map enlarged >= 4 times, found {w}x{h} at zoom {zoom}")

# ---- found domains in the ground truth's colours --------------------------------------------------
def map_pixels(name):
    px, text = images[name]
    x, y, w, h, zoom = pngfile.layout(text)[0]
    return px[y + zoom // 2: y + h: zoom, x + zoom // 2: x + w: zoom].astype(int)  # one sample per scan position

def sample_without_scale_bar(a):
    keep = np.ones(a.shape[:2], bool)
    keep[int(0.8 * rx):, : int(0.35 * ry)] = False  # the scale bar's box, lower left
    return keep

gt_px, found_px = map_pixels("ground_truth_label.png"), map_pixels("domains_label.png")
keep = sample_without_scale_bar(gt_px) & (truth >= 0) & (found >= 0)
same = np.all(gt_px == found_px, axis=2)
agree = same[keep].mean()
check(agree > 0.95, f"domains_label.png and ground_truth_label.png: expected the same colour on > 95% of the film, found {agree:.3f}")
print(f"label colours agree on {agree:.3f} of the film")

# ---- diffraction patterns on a log scale: the {200} spots are not black ---------------------------
px, text = images["demo_mean_pattern.png"]
x, y, w, h, zoom = pngfile.layout(text)[0]
q = mean_pattern.shape[0]
yy, xx = np.mgrid[0:q, 0:q]
r = np.hypot(yy - q / 2, xx - q / 2)
ring200 = (r > 46) & (r < 52)
sy, sx = np.unravel_index(np.argmax(np.where(ring200, mean_pattern, 0)), mean_pattern.shape)
spot_grey = px[y + sy * zoom + zoom // 2, x + sx * zoom + zoom // 2].mean()
linear_grey = 255 * mean_pattern[sy, sx] / mean_pattern.max()
check(spot_grey > 70, f"demo_mean_pattern.png: the brightest {{200}} spot is grey {spot_grey:.0f} (linear would be {linear_grey:.1f})")
print(f"brightest {{200}} spot: grey {spot_grey:.0f} on the log scale, {linear_grey:.1f} on a linear one")

# ---- the sample shows in the virtual images: holes far above the noise ---------------------------
yy, xx = np.mgrid[0:rx, 0:ry]
X, Y = origin + xx * step, origin + yy * step
depth = np.max([hr[k] - np.hypot(X - hx[k], Y - hy[k]) for k in range(len(hx))], axis=0)  # > 0 inside a hole
check(np.array_equal(vacuum, depth > 0), "ground_truth/vacuum is not the holes' disc")
deep, film = depth > 20, depth < -20  # 2 nm from the edge: the probe (Airy radius 1.7 nm) sees one or the other
check(deep.sum() >= 40 and film.sum() > 1000, f"holes: expected >= 40 deep vacuum and > 1000 film positions, found {deep.sum()}, {film.sum()}")
adf_gap = (adf[film].mean() - adf[deep].mean()) / adf[film].std()
bf_gap = (bf[deep].mean() - bf[film].mean()) / bf[film].std()
check(adf_gap > 8, f"virtual ADF: expected the film > 8 sd of its noise above the holes, found {adf_gap:.1f}")
check(bf_gap > 1.5, f"virtual BF: expected the holes > 1.5 sd of the film's noise above it, found {bf_gap:.1f}")
print(f"ADF: film - holes = {adf_gap:.1f} sd; BF: holes - film = {bf_gap:.1f} sd")

# ---- the analysis: holes undetermined, accuracy kept on the film ----------------------------------
undetermined = (found[deep] == -1).mean()
check(undetermined > 0.9, f"domains: expected deep vacuum undetermined (-1), found {undetermined:.2f} of it")
ari = adjusted_rand_score(truth[~vacuum], found[~vacuum])
check(ari > 0.95, f"domains: expected an adjusted Rand index > 0.95 on the film, found {ari:.3f}")
print(f"vacuum undetermined {undetermined:.2f}, ARI on the film {ari:.3f}")

finish(tmp)
