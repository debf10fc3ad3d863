#!/usr/bin/env python3
"""Scale on paper: the wall time of (A) one 1 TB 4D-STEM datacube analysed by one job across nodes,
(B) the same terabyte as an archive of 1 GB scans reprocessed as a campaign, and (C) a 10,000-scan
campaign, versus nodes (1-64), from per-rank costs measured with tmdflow and the published figures
of a real parallel file system; it says which term limits each row and why. The workflow is
workflows/twist_polarity.ini (ring features -> NMF -> clustering -> Potts relabelling -> polarity cut
-> mean patterns) on 128 x 128 uint16 patterns. Every number is a parameter (--help); the defaults and
where they come from are in PARAMETERS. Output: markdown tables (benchmarks/README.md has them).

    python3 benchmarks/scale_model.py [--cores-per-node 128] [--fs-bandwidth-GBps 5000] ...
"""
import argparse
import math

# name: (default, unit, source)
PARAMETERS = {
    # Measured with tmdflow on this project's 2-core test machine (shared, loaded: conservative), 1 rank,
    # `tmdflow --verbose run workflows/twist_polarity.ini` on a simulated 64 x 64 scan of 128 x 128 uint16
    # patterns (simulate-4dstem --domains 6 --electrons 20000), debug timings per phase.
    "features_us": (122.0, "us/pattern/rank", "ring-feature pass, 8,200 patterns/s (measured)"),
    "nmf_cluster_us": (203.0, "us/pattern/rank", "PCA 5 + NMF 178 + k-means 20 us, rows sharded over ranks (measured)"),
    "mean_pass_us": (33.0, "us/pattern/rank", "second pass for the domains' mean patterns, 29.9k patterns/s (measured)"),
    "whole_scan_us": (15.0, "us/pattern", "Potts relabelling, polarity evidence and min-cut, orientation: run on the whole "
                      "scan on every rank after an allreduce of whole-scan arrays (measured; not divided by ranks)"),
    "whole_scan_bytes": (160.0, "bytes/pattern/rank", "whole-scan arrays every rank holds in that phase "
                         "(log-likelihoods of ~5 twist classes, signals, labels, evidence: ~20 doubles)"),
    "input_fixed_s": (0.6, "s/input", "per scan: polarity calibration (one multislice pattern, 0.3 s), files, start-up (measured)"),
    "pattern_bytes": (32768.0, "bytes", "128 x 128 uint16"),
    "write_fraction": (0.14, "of input", "ring profiles (3 x 360 float32 per pattern) + maps written back"),
    "slurm_task_s": (0.83, "slot-s/task", "job-array task overhead vs a serial loop (bench_campaign.py, measured)"),
    "campaign_input_s": (0.007, "s/input", "campaign run's own cost per input in a task (measured)"),
    "reduce_product_s": (0.010, "s/product", "reduce: 0.0016-0.0025 s per product measured in the page cache; "
                         "x4 for opening a file on a parallel file system (assumed)"),
    "launch_s": (2.0, "s + 1 ms/rank", "srun start of an MPI job (assumed)"),
    # A real parallel file system: NERSC Perlmutter scratch (docs.nersc.gov/filesystems/perlmutter-scratch):
    # all-flash Lustre, >5 TB/s aggregate, 274 OSSs, 16 metadata servers, files > 100 GB striped over 72 OSTs.
    "fs_bandwidth_GBps": (5000.0, "GB/s", "Perlmutter scratch aggregate (published)"),
    "fs_servers": (274.0, "OSS", "Perlmutter scratch (published): ~18 GB/s each"),
    "file_stripes": (72.0, "OSTs", "Perlmutter's layout for files > 100 GB (published): one file's ceiling"),
    "metadata_ops_per_s": (50000.0, "ops/s", "file creates/opens the metadata servers sustain for one job (assumed)"),
    "node_nic_GBps": (25.0, "GB/s", "one 200 Gb/s network interface per node (assumed)"),
    "cores_per_node": (128.0, "cores", "a 2-socket CPU node (Perlmutter CPU: 2 x 64 cores)"),
    "node_memory_GB": (512.0, "GB", "Perlmutter CPU node"),
    "core_speedup": (1.5, "x", "a server core vs this test machine's core (assumed)"),
}

NODES = [1, 2, 4, 8, 16, 32, 64]


def fmt(seconds):
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def one_datacube(p, nodes, total_bytes):
    """(A) one datacube, one job, all ranks on it."""
    n = total_bytes / p["pattern_bytes"]
    per_rank_mem = n * p["whole_scan_bytes"] / 1e9
    ranks_per_node = int(min(p["cores_per_node"], max(1, math.floor(0.8 * p["node_memory_GB"] / per_rank_mem))))
    ranks = nodes * ranks_per_node
    speed = p["core_speedup"]
    t_sharded = n * (p["features_us"] + p["nmf_cluster_us"] + p["mean_pass_us"]) * 1e-6 / ranks / speed
    t_whole = n * p["whole_scan_us"] * 1e-6 / speed  # every rank does it all
    io_bytes = total_bytes * (2 + p["write_fraction"])  # two read passes, the features and maps written
    bw = min(nodes * p["node_nic_GBps"], p["file_stripes"] * p["fs_bandwidth_GBps"] / p["fs_servers"]) * 1e9
    t_io = io_bytes / bw
    t_fixed = p["launch_s"] + 1e-3 * ranks + p["input_fixed_s"]
    total = max(t_sharded, t_io) + t_whole + t_fixed
    terms = {"compute (sharded)": t_sharded, "I/O": t_io, "whole-scan phase": t_whole, "start-up": t_fixed}
    limit = max(terms, key=terms.get)
    return total, ranks_per_node, per_rank_mem, terms, limit


def campaign(p, nodes, inputs, input_bytes, per_task):
    """(B, C) many scans, one array task per `per_task` of them, each task one rank."""
    n = input_bytes / p["pattern_bytes"]
    speed = p["core_speedup"]
    t_input = p["input_fixed_s"] + n * (p["features_us"] + p["nmf_cluster_us"] + p["mean_pass_us"] + p["whole_scan_us"]) * 1e-6 / speed
    slots = nodes * p["cores_per_node"]
    tasks = math.ceil(inputs / per_task)
    t_task = per_task * (t_input + p["campaign_input_s"]) + p["slurm_task_s"]
    # Tasks are the unit of parallelism: never faster than one task, never more slots than tasks.
    t_compute = max(t_task, tasks * t_task / slots)
    io_bytes = inputs * input_bytes * (2 + p["write_fraction"])
    bw = min(nodes * p["node_nic_GBps"], p["fs_bandwidth_GBps"]) * 1e9
    t_io = io_bytes / bw
    # per input: open input, create product + lock, rename, mkdir, ledger append (locked): ~8 metadata ops
    t_meta = inputs * 8 / p["metadata_ops_per_s"]
    t_reduce = inputs * p["reduce_product_s"]
    # Slurm refuses array indices above 1,000 (MaxArraySize default): at least inputs/1000 per task.
    total = max(t_compute, t_io, t_meta) + t_reduce + p["launch_s"]
    terms = {"compute": t_compute, "I/O": t_io, "metadata": t_meta, "reduce (serial)": t_reduce}
    limit = max(terms, key=terms.get)
    if limit == "compute" and t_compute == t_task:
        limit = f"task granularity ({tasks} tasks of {per_task})"
    return total, t_input, terms, limit


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, (default, unit, source) in PARAMETERS.items():
        ap.add_argument("--" + name.replace("_", "-"), type=float, default=default, help=f"{unit}: {source} (default {default})")
    ap.add_argument("--total-TB", type=float, default=1.0)
    ap.add_argument("--campaign-inputs", type=int, default=10000)
    ap.add_argument("--campaign-input-MB", type=float, default=134.0, help="a 64 x 64 scan of 128 x 128 uint16 patterns")
    p = vars(ap.parse_args())
    total = p["total_TB"] * 1e12

    print(f"## (A) one {p['total_TB']:g} TB datacube ({total / p['pattern_bytes'] / 1e6:.1f} M patterns), one job across nodes\n")
    print("| nodes | ranks/node | whole-scan memory/rank | compute (sharded) | I/O | whole-scan phase | wall | limited by |")
    print("|---|---|---|---|---|---|---|---|")
    for nodes in NODES:
        t, rpn, mem, terms, limit = one_datacube(p, nodes, total)
        print(f"| {nodes} | {rpn} | {mem:.1f} GB | {fmt(terms['compute (sharded)'])} | {fmt(terms['I/O'])} | "
              f"{fmt(terms['whole-scan phase'])} | {fmt(t)} | {limit} |")

    for title, inputs, size in ((f"(B) the same {p['total_TB']:g} TB as {int(total / 1e9)} scans of 1 GB, a campaign",
                                 int(total / 1e9), 1e9),
                                (f"(C) a {p['campaign_inputs']:,}-scan campaign ({p['campaign_input_MB']:g} MB each, "
                                 f"{p['campaign_inputs'] * p['campaign_input_MB'] / 1e6:.2f} TB)",
                                 p["campaign_inputs"], p["campaign_input_MB"] * 1e6)):
        per_task = max(1, math.ceil(inputs / 1000))
        print(f"\n## {title}, {per_task} input(s) per array task\n")
        print("| nodes | per input (1 rank) | compute | I/O | metadata | reduce | wall | limited by |")
        print("|---|---|---|---|---|---|---|---|")
        for nodes in NODES:
            t, t_in, terms, limit = campaign(p, nodes, inputs, size, per_task)
            print(f"| {nodes} | {fmt(t_in)} | {fmt(terms['compute'])} | {fmt(terms['I/O'])} | {fmt(terms['metadata'])} | "
                  f"{fmt(terms['reduce (serial)'])} | {fmt(t)} | {limit} |")


if __name__ == "__main__":
    main()
