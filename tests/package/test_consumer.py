"""Packaging: `cmake --install` into a temporary prefix gives a working executable, the data folders
and a package config with which a downstream C++ project (tests/package/consumer) configures,
builds and reads a datacube; its numbers are compared with h5py's. When tmdflow was built with
LibTorch, the project also links tmdflow::learn (COMPONENTS learn).

usage: test_consumer.py CMAKE BUILD_DIR C_COMPILER CXX_COMPILER [COMPILER_LAUNCHER]"""
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

cmake, build, cc, cxx = sys.argv[1:5]
launcher = sys.argv[5] if len(sys.argv) > 5 else ""
here = os.path.dirname(os.path.abspath(__file__))
tmp = tempfile.mkdtemp(prefix="tmdflow-package-")
prefix = os.path.join(tmp, "prefix")
failures = []


def check(cond, message):
    if not cond:
        failures.append(message)
        print("FAIL:", message, file=sys.stderr)


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, **kw)
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{out}")
    return out


# The install is a copy of the finished build: nothing is compiled here.
run([cmake, "--install", build, "--prefix", prefix])
for path in ["bin/tmdflow", "bin/tmdflow-mpiexec", "include/tmdflow/io/datacube.hpp",
             "include/tmdflow/core/error.hpp", "include/tmdflow/stages/stage.hpp",
             "share/tmdflow/workflows/demo.ini", "share/tmdflow/data_schema/domains.md",
             "share/tmdflow/data_schema/products/datacube.1.schema", "share/tmdflow/models/README.md"]:
    check(os.path.exists(os.path.join(prefix, path)), f"installed tree lacks {path}")
libdirs = [d for d in ("lib", "lib64") if os.path.isdir(os.path.join(prefix, d))]
configs = [os.path.join(r, f) for d in libdirs for r, _, fs in os.walk(os.path.join(prefix, d)) for f in fs]
for name in ["libtmdflow_io.a", "libtmdflow_core.a", "tmdflowConfig.cmake", "tmdflowConfigVersion.cmake",
             "tmdflowTargets.cmake"]:
    check(any(os.path.basename(c) == name for c in configs), f"installed tree lacks {name}")

# The installed executable, run away from the source and build trees: it needs no file of theirs
# (the product schemas are compiled in).
tmdflow = os.path.join(prefix, "bin", "tmdflow")
env = dict(os.environ, TMDFLOW_PROGRESS="off")
cube = os.path.join(tmp, "cube.h5")
run([tmdflow, "--quiet", "stage", "synthesize-datacube", "--output", cube, "--scan", "5,3", "--detector", "12,10",
     "--dtype", "uint16", "--counts", "300"], cwd=tmp, env=env)
out = run([tmdflow, "validate", cube], cwd=tmp, env=env)
check("datacube/1" in out, f"installed tmdflow validate did not check the datacube:\n{out}")

# A downstream project: find_package(tmdflow) and tmdflow::io (and tmdflow::learn when installed).
with_learn = any(os.path.basename(c) == "tmdflowLearnTargets.cmake" for c in configs)
consumer_build = os.path.join(tmp, "consumer-build")
configure = [cmake, "-S", os.path.join(here, "consumer"), "-B", consumer_build, f"-DCMAKE_PREFIX_PATH={prefix}",
             f"-DCMAKE_C_COMPILER={cc}", f"-DCMAKE_CXX_COMPILER={cxx}", f"-DCONSUMER_LEARN={'ON' if with_learn else 'OFF'}"]
if launcher:
    configure += [f"-DCMAKE_CXX_COMPILER_LAUNCHER={launcher}", f"-DCMAKE_C_COMPILER_LAUNCHER={launcher}"]
log = run(configure)
check(prefix in open(os.path.join(consumer_build, "CMakeCache.txt")).read(),
      "the consumer did not find tmdflow in the temporary prefix")
run([cmake, "--build", consumer_build])
consumer = os.path.join(consumer_build, "consumer")

with h5py.File(cube, "r") as f:
    data = f["datacube_root/datacube/data"][()]
expected_sum = float(np.asarray(data, np.float64).sum())
for ranks in (1, 2):
    cmd = [consumer, cube] if ranks == 1 else [os.path.join(prefix, "bin", "tmdflow-mpiexec"), "2", consumer, cube]
    lines = dict(l.split(" ", 1) for l in run(cmd, env=env).splitlines() if " " in l)
    check(lines.get("shape") == " ".join(map(str, data.shape)), f"{ranks} rank(s): shape {lines.get('shape')}, h5py {data.shape}")
    check(lines.get("dtype") == "uint16", f"{ranks} rank(s): dtype {lines.get('dtype')}, expected uint16")
    check(lines.get("product") == "datacube/1", f"{ranks} rank(s): product {lines.get('product')}, expected datacube/1")
    check(abs(float(lines.get("sum", "nan")) - expected_sum) <= 1e-9 * max(1.0, expected_sum),
          f"{ranks} rank(s): sum {lines.get('sum')}, h5py {expected_sum}")
check(expected_sum > 0, "the synthesized datacube is empty")

if with_learn:
    lines = dict(l.split(" ", 1) for l in run([os.path.join(consumer_build, "consumer_learn")]).splitlines())
    numpy_reflect = " ".join(map(str, np.pad(np.arange(10), 3, mode="reflect")))
    check(lines.get("reflect") == numpy_reflect, f"tmdflow::learn reflect_index: {lines.get('reflect')}, numpy {numpy_reflect}")
    check(lines.get("windows") == f"{(25 - 5) // 2 + 1} {(19 - 6) // 3 + 1}", f"tmdflow::learn windows: {lines.get('windows')}")
print("tmdflow::learn consumer:", "built and checked" if with_learn else "skipped (tmdflow built without LibTorch)")

if not os.environ.get("TMDFLOW_KEEP_TEST_FILES"):
    shutil.rmtree(tmp, ignore_errors=True)
if failures:
    print(f"{len(failures)} expectation(s) failed", file=sys.stderr)
    sys.exit(1)
print("ok")
