"""Shared helpers of the end-to-end tests (run with Debian's python3: h5py + numpy)."""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile

TMDFLOW = os.environ.get("TMDFLOW", "build/bin/tmdflow")
LAUNCH = os.environ.get("TMDFLOW_LAUNCH", "build/bin/tmdflow-mpiexec")
SOURCE = os.environ.get("TMDFLOW_SOURCE_DIR", ".")
SHARED = os.environ.get("TMDFLOW_SHARED_DATA", os.path.join(SOURCE, "..", "shared", "data"))

failures = []

# Open MPI keeps a session directory per user and machine (/tmp/ompi.HOST.UID): a 1-rank tmdflow
# (a singleton) of one test failed to start when another test's process, ending, removed it at that
# moment. Each test's processes get their own (tmdflow-mpiexec gives each launch its own anyway).
if "OMPI_MCA_orte_tmpdir_base" not in os.environ:
    _ompi_session = tempfile.mkdtemp(prefix="tmdflow-ompi-")
    os.environ["OMPI_MCA_orte_tmpdir_base"] = _ompi_session
    atexit.register(shutil.rmtree, _ompi_session, True)


def run(args, ranks=1, timeout=120, cwd=None, env=None):
    """Runs tmdflow with `args` on `ranks` MPI ranks; returns (exit code, stdout+stderr). `env` adds
    to (or overrides) the environment."""
    cmd = ([LAUNCH, str(ranks), TMDFLOW] if ranks > 1 else [TMDFLOW]) + [str(a) for a in args]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, cwd=cwd,
                       env={**os.environ, "TMDFLOW_PROGRESS": "off", **(env or {})})
    return p.returncode, p.stdout.decode("utf-8", "replace")


def run_ok(args, ranks=1, **kw):
    code, out = run(args, ranks, **kw)
    if code != 0:
        raise AssertionError(f"tmdflow {' '.join(map(str, args))} (ranks={ranks}) exited {code}:\n{out}")
    return out


def check(cond, message):
    """Records a failed expectation (the test goes on, and fails at the end)."""
    if not cond:
        failures.append(message)
        print("FAIL:", message, file=sys.stderr)


def scratch():
    return tempfile.mkdtemp(prefix="tmdflow-e2e-")


def finish(tmpdir=None):
    if tmpdir and not os.environ.get("TMDFLOW_KEEP_TEST_FILES"):
        shutil.rmtree(tmpdir, ignore_errors=True)
    if failures:
        print(f"{len(failures)} expectation(s) failed", file=sys.stderr)
        sys.exit(1)
    print("ok")


def leftovers(directory):
    """Temporary product files left in a directory (there must be none after any run)."""
    return [f for f in os.listdir(directory) if ".tmp-" in f]
