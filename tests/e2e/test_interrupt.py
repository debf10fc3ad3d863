"""Clean interruption: SIGINT and SIGTERM on the launcher or on any rank end every rank within
seconds with exit 128 + signal, one "interrupted" line and no temporary file, also when the signal
lands while the ranks are inside a collective write; after kill -9 the next run that writes the
same output removes the stale temporary files it can prove dead and says so; a product written
into an existing file leaves the file's other products intact; workflow resume still works."""
import os
import signal
import subprocess
import threading
import time

import h5py
import numpy as np

from tmdtest import LAUNCH, TMDFLOW, check, finish, leftovers, run, run_ok, scratch

tmp = scratch()
BIG = ["--scan", "600,400", "--detector", "64,64"]  # ~4 GB: tens of seconds to write, never finished here


class Job:
    """A tmdflow command in its own process group (as a shell runs it in the foreground)."""

    def __init__(self, args, ranks, inject=None):
        cmd = ([LAUNCH, str(ranks), TMDFLOW] if ranks > 1 else [TMDFLOW]) + [str(a) for a in args]
        env = dict(os.environ, TMDFLOW_PROGRESS="off")
        if inject:
            env["TMDFLOW_INJECT_FAULT"] = inject
        self.ranks = ranks
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.p.stdout:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def text(self):
        return "\n".join(self.lines)

    def wait_for(self, predicate, what, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if predicate():
                return True
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        check(False, f"never saw {what}; exit {self.p.poll()}:\n{self.text()}")
        return False

    def rank_pids(self):
        """The tmdflow processes started by this job, in rank order of their pids (ranks start in order)."""
        if self.ranks == 1:
            return [self.p.pid]
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    argv0 = f.read().split(b"\0")[0].decode()
            except OSError:
                continue
            if os.path.realpath(argv0) == os.path.realpath(TMDFLOW) and self._descends(int(d)):
                pids.append(int(d))
        return sorted(pids)

    def _descends(self, pid):
        while pid > 1:
            if pid == self.p.pid:
                return True
            try:
                with open(f"/proc/{pid}/stat") as f:
                    pid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                return False
        return False

    def finish(self, timeout=30):
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            check(False, f"job still running {timeout} s after the signal:\n{self.text()}")
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()
        self.reader.join(timeout=5)
        return self.p.returncode


def alive(pids):
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    out.append(pid)
        except OSError:
            pass
    return out


def wait_for_temp(job, directory, name):
    # The lock is written before the temporary file: wait for the file itself, or a kill can land between the two.
    return job.wait_for(lambda: any(f.startswith(name + ".tmp-") and not f.endswith(".lock") for f in os.listdir(directory)),
                        f"the temporary file of {name}")


def interrupted_lines(job):
    return [l for l in job.lines if "interrupted" in l]


def expect_clean_stop(job, code, label, pids, max_seconds, sig_name=None):
    t0 = time.time()
    got = job.finish()
    took = time.time() - t0
    check(got == code, f"{label}: exit code {got}, expected {code}:\n{job.text()}")
    check(took < max_seconds, f"{label}: took {took:.1f} s to stop (expected < {max_seconds})")
    lines = interrupted_lines(job)
    check(len(lines) == 1, f"{label}: expected one 'interrupted' line, found {len(lines)}:\n{job.text()}")
    if sig_name and lines:
        check(sig_name in lines[0], f"{label}: the message does not name {sig_name}: {lines[0]}")
    check(not [l for l in job.lines if "error" in l], f"{label}: an error line besides the interruption:\n{job.text()}")
    time.sleep(0.2)
    check(not alive(pids), f"{label}: processes left running: {alive(pids)}")
    check(not leftovers(tmp), f"{label}: temporary files left: {leftovers(tmp)}")


# --- 1. SIGINT and SIGTERM on the launcher (Ctrl-C reaches the whole foreground process group) and on one rank.
for ranks in (1, 2):
    for sig in (signal.SIGINT, signal.SIGTERM):
        targets = ["launcher"] + (["rank 1"] if ranks > 1 else [])
        for target in targets:
            label = f"{sig.name} to the {target} ({ranks} rank{'s' if ranks > 1 else ''})"
            out = os.path.join(tmp, "big.h5")
            job = Job(["stage", "synthesize-datacube", "--output", out] + BIG, ranks)
            if not wait_for_temp(job, tmp, "big.h5"):
                job.finish()
                continue
            time.sleep(0.5)
            pids = job.rank_pids()
            check(len(pids) == ranks, f"{label}: found rank pids {pids}")
            if target == "launcher":
                if sig == signal.SIGINT:
                    os.killpg(job.p.pid, sig)  # what a terminal's Ctrl-C does
                else:
                    os.kill(job.p.pid, sig)  # what a batch system or `kill` does
            else:
                os.kill(pids[-1], sig)
            expect_clean_stop(job, 128 + sig, label, pids, 10, sig.name)
            check(not os.path.exists(out), f"{label}: output created")

# --- 2. A signal while the ranks are inside a collective write: rank 1 stalls just before the block
# write of each row, so rank 0 waits inside the collective write for it.
for sig, victim, code in ((signal.SIGTERM, 0, 143), (signal.SIGINT, 1, 130)):
    label = f"{sig.name} to rank {victim} during a collective write"
    out = os.path.join(tmp, "coll.h5")
    job = Job(["stage", "synthesize-datacube", "--output", out] + BIG, 2, inject="block-write:1:stall")
    if job.wait_for(lambda: any("stalling" in l for l in job.lines), "rank 1 stalling"):
        time.sleep(0.5)
        pids = job.rank_pids()
        os.kill(pids[victim], sig)
        t0 = time.time()
        got = job.finish()
        check(got == code, f"{label}: exit code {got}, expected {code}:\n{job.text()}")
        check(time.time() - t0 < 15, f"{label}: took {time.time() - t0:.1f} s")
        check(len(interrupted_lines(job)) == 1, f"{label}: expected one 'interrupted' line:\n{job.text()}")
        time.sleep(0.2)
        check(not alive(pids), f"{label}: processes left running: {alive(pids)}")
        check(not leftovers(tmp), f"{label}: temporary files left: {leftovers(tmp)}")
    else:
        job.finish()
# One rank stalled at the same place (between its writes): a signal stops it cleanly.
job = Job(["stage", "synthesize-datacube", "--output", os.path.join(tmp, "one.h5")] + BIG, 1, inject="block-write:0:stall")
if job.wait_for(lambda: any("stalling" in l for l in job.lines), "the rank stalling"):
    os.kill(job.p.pid, signal.SIGTERM)
    expect_clean_stop(job, 143, "SIGTERM to one rank between writes", [job.p.pid], 10, "SIGTERM")

# --- 3. kill -9: nothing can clean up at once, but the next run removes what it can prove dead.
out = os.path.join(tmp, "nine.h5")
job = Job(["stage", "synthesize-datacube", "--output", out] + BIG, 1)
if wait_for_temp(job, tmp, "nine.h5"):
    os.kill(job.p.pid, signal.SIGKILL)
    job.finish()
    stale = leftovers(tmp)
    check(len(stale) == 2, f"kill -9 leaves its temporary file and lock: {stale}")
    log = run_ok(["stage", "synthesize-datacube", "--output", out, "--scan", "4,4", "--detector", "8,8"])
    check("removed the stale temporary file" in log and stale and stale[0].split(".lock")[0] in log,
          f"the next run says it removed the stale file:\n{log}")
    check(not leftovers(tmp), f"stale files removed: {leftovers(tmp)}")
    with h5py.File(out, "r") as f:
        check(f["datacube_root/datacube/data"].shape == (4, 4, 8, 8), "the next run completed its product")
    os.remove(out)
# kill -9 of one rank of two: the other ends too, and nothing is left.
job = Job(["stage", "synthesize-datacube", "--output", out] + BIG, 2)
if wait_for_temp(job, tmp, "nine.h5"):
    time.sleep(0.5)
    pids = job.rank_pids()
    os.kill(pids[1], signal.SIGKILL)
    got = job.finish()
    check(got != 0, f"kill -9 of rank 1: exit code {got}")
    time.sleep(0.2)
    check(not alive(pids), f"kill -9 of rank 1: processes left running: {alive(pids)}")
    check(not leftovers(tmp), f"kill -9 of rank 1: temporary files left: {leftovers(tmp)}")
# kill -9 of tmdflow-mpiexec itself: mpiexec and the ranks end with it.
job = Job(["stage", "synthesize-datacube", "--output", out] + BIG, 2)
if wait_for_temp(job, tmp, "nine.h5"):
    time.sleep(0.5)
    pids = job.rank_pids()
    os.kill(job.p.pid, signal.SIGKILL)
    job.finish()
    end = time.time() + 10
    while alive(pids) and time.time() < end:
        time.sleep(0.1)
    check(not alive(pids), f"kill -9 of tmdflow-mpiexec: ranks left running: {alive(pids)}")
    check(not leftovers(tmp), f"kill -9 of tmdflow-mpiexec: temporary files left: {leftovers(tmp)}")
# Temporary files whose writer cannot be proven dead are left, with the reason.
foreign = os.path.join(tmp, "keep.h5.tmp-0badf00d")
mine = os.path.join(tmp, "keep.h5.tmp-0000beef")
with open(foreign, "w") as f:
    f.write("partial")
with open(foreign + ".lock", "w") as f:
    f.write(f"tmdflow temporary output {foreign}\nhost some-other-node\npid 1234\nstart 99\n")
with open(mine, "w") as f:
    f.write("partial")
with open(f"/proc/{os.getpid()}/stat") as f:
    start_ticks = f.read().rsplit(")", 1)[1].split()[19]
with open(mine + ".lock", "w") as f:
    f.write(f"tmdflow temporary output {mine}\nhost {os.uname().nodename}\npid {os.getpid()}\nstart {start_ticks}\n")
log = run_ok(["stage", "synthesize-datacube", "--output", os.path.join(tmp, "keep.h5"), "--scan", "2,2", "--detector", "8,8"])
check(os.path.exists(foreign) and "some-other-node" in log, f"a temporary file of another host is left and named:\n{log}")
check(os.path.exists(mine) and "still running" in log, f"a temporary file of a running process is left:\n{log}")
for p in (foreign, mine):
    os.remove(p)
    os.remove(p + ".lock")

# --- 4. A product written into an existing file: its other products survive any interruption.
base = os.path.join(tmp, "base.h5")
run_ok(["stage", "synthesize-datacube", "--output", base + ":/first", "--scan", "3,3", "--detector", "8,8"])
with h5py.File(base, "r") as f:
    first = np.array(f["first/datacube/data"])
for ranks in (1, 2):
    job = Job(["stage", "synthesize-datacube", "--output", base + ":/second"] + BIG, ranks, inject="block-write:0:stall")
    if job.wait_for(lambda: any("stalling" in l for l in job.lines), "the writer stalling"):
        pids = job.rank_pids()
        os.killpg(job.p.pid, signal.SIGINT)
        expect_clean_stop(job, 130, f"SIGINT while writing into an existing file ({ranks} ranks)", pids, 10)
    else:
        job.finish()
    with h5py.File(base, "r") as f:
        check(sorted(f.keys()) == ["first"], f"only the first product remains: {list(f.keys())}")
        check(np.array_equal(np.array(f["first/datacube/data"]), first), "the first product is unchanged")
# kill -9 while writing into it: the file on disk is as it was (its metadata are held back until the
# commit), and the next run writes the product.
for ranks in (1, 2):
    job = Job(["stage", "synthesize-datacube", "--output", base + ":/second"] + BIG, ranks, inject="block-write:0:stall")
    if job.wait_for(lambda: any("stalling" in l for l in job.lines), "the writer stalling"):
        time.sleep(0.3)
        pids = job.rank_pids()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        job.finish()
        with h5py.File(base, "r") as f:
            check(sorted(f.keys()) == ["first"], f"kill -9 of a writer ({ranks} ranks) leaves the file as it was: {list(f.keys())}")
            check(np.array_equal(np.array(f["first/datacube/data"]), first), "the first product survives kill -9 of a writer")
run_ok(["stage", "synthesize-datacube", "--output", base + ":/second", "--scan", "2,2", "--detector", "8,8"])
with h5py.File(base, "r") as f:
    check(sorted(f.keys()) == ["first", "second"], f"products after the rerun: {list(f.keys())}")
    check(np.array_equal(np.array(f["first/datacube/data"]), first), "the first product is unchanged by the rerun")

# --- 5. Workflow resume after an interruption: the complete step is skipped, the interrupted one redone.
wf = os.path.join(tmp, "wf.ini")
with open(wf, "w") as f:
    f.write("[workflow]\ninput =\noutput = " + os.path.join(tmp, "wf.h5") + "\n\n"
            "[cube]\nstage = synthesize-datacube\nscan = 6,5\ndetector = 16,16\n\n"
            "[vi]\nstage = virtual-image\n")
for ranks in (1, 2):
    wf_out = os.path.join(tmp, "wf.h5")
    if os.path.exists(wf_out):
        os.remove(wf_out)
    job = Job(["run", wf], ranks, inject="pattern-read:0:stall")
    if job.wait_for(lambda: any("stalling" in l for l in job.lines), "step vi stalling"):
        pids = job.rank_pids()
        os.killpg(job.p.pid, signal.SIGINT)
        expect_clean_stop(job, 130, f"SIGINT during step 2 of a workflow ({ranks} ranks)", pids, 10, "SIGINT")
    else:
        job.finish()
    with h5py.File(wf_out, "r") as f:
        check("cube" in f and "vi" not in f, f"after the interruption: {list(f.keys())}")
    log = run_ok(["run", wf], ranks=ranks)
    check("step 'cube': skipped" in log and "1 of 2 steps run" in log, f"the rerun skips the complete step:\n{log}")

finish(tmp)
