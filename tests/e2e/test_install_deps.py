"""cmake/install_deps.sh: apt-get runs only where it exists and packages are missing; without apt-get,
or without root and a usable sudo, it lists what CMake needs and exits 0 (the build goes on). The
machine's package tools are replaced by stand-ins that record their calls, so nothing is installed."""
import os
import stat
import subprocess

from tmdtest import SOURCE, check, finish, scratch

tmp = scratch()
script = os.path.join(SOURCE, "cmake", "install_deps.sh")
calls = os.path.join(tmp, "calls.log")


def tool(folder, name, body):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    if os.path.lexists(path):
        os.remove(path)  # never write through a link to the real tool
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\necho \"{name} $*\" >> \"{calls}\"\n{body}\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


def base_tools(folder):
    # What the script needs besides the package tools (and nothing else: no apt-get unless added).
    os.makedirs(folder, exist_ok=True)
    for name in ("cat", "grep", "sh"):
        target = subprocess.run(["sh", "-c", f"command -v {name}"], stdout=subprocess.PIPE).stdout.decode().strip()
        os.symlink(target, os.path.join(folder, name))


def run(folder, uid="0", stdin=subprocess.DEVNULL):
    if os.path.exists(calls):
        os.remove(calls)
    tool(folder, "id", f'[ "$1" = "-u" ] && echo {uid} || exec /usr/bin/id "$@"')
    p = subprocess.run(["/bin/sh", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=stdin,
                       env={"PATH": folder, "HOME": tmp}, timeout=60)
    recorded = open(calls).read() if os.path.exists(calls) else ""
    return p.returncode, p.stdout.decode("utf-8", "replace"), recorded


def cmake_needs_listed(out, where):
    for word in ["MPI", "HDF5", "Kokkos", "FFTW", "LAPACK", "Boost", "LibTorch", "TMDFLOW_WITH_TORCH=OFF",
                 "module load", "NO_DEPS=1"]:
        check(word in out, f"{where}: the list of what CMake needs lacks '{word}':\n{out}")


# 1. No apt-get (another distribution, a cluster): the list, exit 0, no package tool called.
no_apt = os.path.join(tmp, "no_apt")
base_tools(no_apt)
code, out, recorded = run(no_apt)
check(code == 0, f"without apt-get: exit {code}, expected 0:\n{out}")
check("no apt-get" in out, f"without apt-get: no word of it:\n{out}")
cmake_needs_listed(out, "without apt-get")

# 2. Debian, every package installed: silent, apt-get never called.
debian = os.path.join(tmp, "debian")
base_tools(debian)
tool(debian, "dpkg-query", "printf 'install ok installed'")
tool(debian, "apt-get", "exit 0")
code, out, recorded = run(debian)
check(code == 0 and out == "", f"all installed: exit {code}, output:\n{out}")
check("apt-get" not in recorded, f"all installed: apt-get was called:\n{recorded}")

# 3. Debian, packages missing, root: apt-get installs exactly the missing ones.
tool(debian, "dpkg-query", 'case "$*" in *libtorch-dev*|*libfftw3-dev*) exit 1;; *) printf "install ok installed";; esac')
code, out, recorded = run(debian)
installs = [l for l in recorded.splitlines() if l.startswith("apt-get") and " install " in l]
check(code == 0, f"missing as root: exit {code}:\n{out}")
check(len(installs) == 1 and installs[0].split()[-2:] == ["libtorch-dev", "libfftw3-dev"],
      f"missing as root: expected one apt-get install of libtorch-dev libfftw3-dev, found:\n{recorded}")

# 4. Packages missing, not root, no sudo: no apt-get, the missing packages and the list, exit 0.
code, out, recorded = run(debian, uid="1000")
check(code == 0, f"missing, not root, no sudo: exit {code}, expected 0 (the build goes on):\n{out}")
check("apt-get" not in recorded, f"missing, not root, no sudo: apt-get was called:\n{recorded}")
check("libtorch-dev libfftw3-dev" in out and "not root" in out, f"missing, not root, no sudo: output:\n{out}")
cmake_needs_listed(out, "missing, not root, no sudo")

# 5. Not root, sudo that needs a password, no terminal (a batch job): never a hang, no apt-get.
tool(debian, "sudo", '[ "$1" = "-n" ] && exit 1; exec "$@"')
code, out, recorded = run(debian, uid="1000")
check(code == 0 and "apt-get install" not in recorded, f"sudo with a password, no terminal: exit {code}:\n{out}\n{recorded}")
# ... and a sudo without a password is used.
tool(debian, "sudo", '[ "$1" = "-n" ] && exit 0; exec "$@"')
code, out, recorded = run(debian, uid="1000")
check(code == 0 and "sudo apt-get install" in recorded, f"passwordless sudo: expected sudo apt-get install:\n{recorded}")

# The Makefile's package step: skipped with NO_DEPS=1 (make -n prints, runs nothing).
def make_n(*args):
    p = subprocess.run(["make", "-n", "-C", SOURCE, "deps"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p.returncode, p.stdout.decode("utf-8", "replace")


code, out = make_n()
check(code == 0 and "install_deps.sh" in out, f"make -n deps: exit {code}, expected the installer:\n{out}")
code, out = make_n("NO_DEPS=1")
check(code == 0 and "install_deps.sh" not in out and "NO_DEPS" in out, f"make -n deps NO_DEPS=1: exit {code}:\n{out}")

finish(tmp)
