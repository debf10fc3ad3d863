"""The PyTorch side of bench_models.cpp: the same models (torch_models.py, the twins of tmdflow's
families), the same batches, one thread, the same training step (forward, MSE, backward, Adam).
usage: bench_models_torch.py SECONDS NAME:SPEC:SIZE:BATCH ...
prints: RESULT impl=pytorch model=NAME train_samples_per_s=X infer_samples_per_s=Y
        train_samples_per_cpu_s=X' infer_samples_per_cpu_s=Y' (from the median CPU time of one step)
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402


def rate(seconds, step):
    """(calls per second of wall time, 1 / median CPU time of a call), at least 5 calls after 2 warm-ups."""
    for _ in range(2):
        step()
    cpu, t0 = [], time.perf_counter()
    t = t0
    while len(cpu) < 5 or t - t0 < seconds:
        c0 = time.process_time()
        step()
        cpu.append(time.process_time() - c0)
        t = time.perf_counter()
    return len(cpu) / (t - t0), 1 / sorted(cpu)[len(cpu) // 2]


def main():
    torch.set_num_threads(1)
    seconds = float(sys.argv[1])
    for arg in sys.argv[2:]:
        name, spec, size, batch = arg.split(":")
        size, batch = int(size), int(batch)
        family, params = torch_models.parse_spec(spec)
        torch.manual_seed(0)
        net = torch_models.build(family, params)
        channels = int(params.get("in_channels", 1))
        x = torch.randn(batch, channels, size, size)
        net.eval()
        with torch.no_grad():
            target = torch.randn_like(net(x))
        net.train()
        adam = torch.optim.Adam(net.parameters(), lr=1e-3)

        def train_step():
            adam.zero_grad()
            torch.nn.functional.mse_loss(net(x), target).backward()
            adam.step()

        train = rate(seconds, train_step)
        net.eval()

        def infer_step():
            with torch.inference_mode():
                net(x)

        infer = rate(seconds, infer_step)
        print(f"RESULT impl=pytorch model={name} train_samples_per_s={train[0] * batch:.2f} "
              f"infer_samples_per_s={infer[0] * batch:.2f} train_samples_per_cpu_s={train[1] * batch:.2f} "
              f"infer_samples_per_cpu_s={infer[1] * batch:.2f}", flush=True)


if __name__ == "__main__":
    main()
