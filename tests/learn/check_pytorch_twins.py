"""Loads state dicts exported by tmdflow (learn::export_state_dict) into the PyTorch twins of
benchmarks/torch_models.py and checks their outputs against tmdflow's on the same input.
usage: check_pytorch_twins.py STEM [STEM ...]   (STEM.state_dict.pt, STEM.io.pt, STEM.spec.json)
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "benchmarks"))
import torch_models  # noqa: E402

torch.set_num_threads(1)
for stem in sys.argv[1:]:
    spec = json.load(open(stem + ".spec.json"))
    model = torch_models.build(spec["family"], spec["params"])
    state = torch.load(stem + ".state_dict.pt")
    model.load_state_dict(state, strict=True)  # same keys and shapes, none missing or extra
    model.eval()
    pair = torch.load(stem + ".io.pt")
    with torch.no_grad():
        out = model(pair["input"])
    expected = pair["output"]
    if out.shape != expected.shape:
        sys.exit(f"{spec['family']}: output shape {tuple(out.shape)} in PyTorch, {tuple(expected.shape)} in tmdflow")
    err = (out - expected).abs().max().item()
    scale = expected.abs().max().item() + 1e-6
    if err > 1e-4 * scale:
        sys.exit(f"{spec['family']}: outputs differ by {err:g} (scale {scale:g})")
    print(f"{spec['family']}: {len(state)} tensors, outputs agree to {err:.2g}")
print(f"{len(sys.argv) - 1} families agree")
