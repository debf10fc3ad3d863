"""A real one-node Slurm for the end-to-end tests (tests/e2e/test_slurm_*.py, ctest label `slurm`).

    with SlurmCluster() as slurm:
        job = slurm.sbatch(["--ntasks=2", script, ...])
        state = slurm.wait(job)          # polls squeue, then reads the job's state and exit code

`SlurmCluster` brings the cluster up with slurm/ci/up.sh in a new folder under /tmp and always tears
it down with slurm/ci/down.sh (on leaving the block, on an exception, on SIGTERM; and, should this
process be killed outright, a watcher started by up.sh does it). Where Slurm cannot run here
(slurm/ci/up.sh exits 77: not installed, or not root and the daemons refuse), the test prints
`SKIPPED: <why>` and exits 77, which ctest reports as skipped."""
import os
import signal
import subprocess
import sys
import tempfile
import time

from tmdtest import SOURCE

UP = os.path.join(SOURCE, "slurm", "ci", "up.sh")
DOWN = os.path.join(SOURCE, "slurm", "ci", "down.sh")
SKIP = 77


def _raise_on_term(signum, frame):
    raise SystemExit(128 + signum)  # unwinds through `finally`: the cluster goes down


class SlurmCluster:
    def __init__(self, cpus=None):
        self.cpus = cpus
        self.folder = None
        self.env = None
        self.up_seconds = None
        self.down_seconds = None
        self.started = None

    def __enter__(self):
        signal.signal(signal.SIGTERM, _raise_on_term)
        self.started = time.time()
        self.folder = tempfile.mkdtemp(prefix="tmdslurm.", dir="/tmp")
        env = dict(os.environ, TMDFLOW_SLURM_OWNER=str(os.getpid()))
        if self.cpus:
            env["TMDFLOW_SLURM_CPUS"] = str(self.cpus)
        p = subprocess.run(["bash", UP, self.folder], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=90)
        out = p.stdout.decode("utf-8", "replace")
        self.up_seconds = time.time() - self.started
        if p.returncode == SKIP:
            reason = out.strip().splitlines()[-1] if out.strip() else "slurm/ci/up.sh exited 77"
            print(f"SKIPPED: no Slurm for this test: {reason}")
            subprocess.run(["bash", DOWN, self.folder], timeout=60)
            sys.exit(SKIP)
        if p.returncode != 0:
            subprocess.run(["bash", DOWN, self.folder], timeout=60)
            raise AssertionError(f"slurm/ci/up.sh exited {p.returncode}:\n{out}")
        print(out.strip())
        self.env = dict(os.environ, SLURM_CONF=os.path.join(self.folder, "slurm.conf"), SLURM_MPI_TYPE="pmix",
                        PATH=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        for k in list(self.env):
            if k.startswith("SLURM_") and k not in ("SLURM_CONF", "SLURM_MPI_TYPE"):
                del self.env[k]
        # The jobs choose their Open MPI session directories themselves (the sbatch templates), not
        # the test's own (tmdtest.py).
        self.env.pop("OMPI_MCA_orte_tmpdir_base", None)
        return self

    def __exit__(self, *exc):
        t = time.time()
        p = subprocess.run(["bash", DOWN, self.folder], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=90)
        self.down_seconds = time.time() - t
        out = p.stdout.decode("utf-8", "replace").strip()
        print(out)
        print(f"slurm-ci: bring-up to tear-down {time.time() - self.started:.1f} s")
        if p.returncode != 0 and not exc[0]:
            raise AssertionError(f"slurm/ci/down.sh exited {p.returncode}:\n{out}")
        return False

    def cmd(self, args, timeout=60, cwd=None, check=True):
        """Runs a Slurm client command (sbatch, squeue, ...) against this cluster: (exit code, output)."""
        p = subprocess.run([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env,
                           timeout=timeout, cwd=cwd)
        out = p.stdout.decode("utf-8", "replace")
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(map(str, args))} exited {p.returncode}:\n{out}")
        return p.returncode, out

    def sbatch(self, args, cwd=None, env=None):
        """Submits; returns the job id (sbatch --parsable)."""
        p = subprocess.run(["sbatch", "--parsable"] + [str(a) for a in args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env={**self.env, **(env or {})}, timeout=60, cwd=cwd)
        if p.returncode != 0:
            raise AssertionError(f"sbatch {args} exited {p.returncode}:\n{p.stderr.decode()}")
        return p.stdout.decode().strip().split(";")[0]

    def queued(self, job):
        """The job's (or array's) entries still in the queue: [(id, state)]."""
        code, out = self.cmd(["squeue", "-h", "-r", "-j", job, "-o", "%i %T"], check=False)
        if code != 0:
            return []  # an unknown job id: gone
        return [tuple(line.split()) for line in out.splitlines() if line.strip()]

    def wait_until(self, predicate, what, timeout=60, poll=0.1):
        end = time.time() + timeout
        while time.time() < end:
            if predicate():
                return True
            time.sleep(poll)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; queue:\n{self.cmd(['squeue'], check=False)[1]}")

    def wait(self, job, timeout=60):
        """Waits until the job (every task of an array) has left the queue; returns its records
        {id: (state, exit code)} from scontrol (kept for MinJobAge)."""
        self.wait_until(lambda: not self.queued(job), f"job {job} to end", timeout)
        return self.records(job)

    def records(self, job):
        code, out = self.cmd(["scontrol", "-o", "show", "job", job], check=False)
        records = {}
        for line in out.splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            jid = fields.get("JobId", "?")
            if "ArrayTaskId" in fields:
                jid = f"{fields.get('ArrayJobId')}_{fields['ArrayTaskId']}"
            records[jid] = (fields.get("JobState"), fields.get("ExitCode"))
        return records
