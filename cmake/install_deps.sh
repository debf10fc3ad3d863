#!/bin/sh
# Installs tmdflow's build and test dependencies from Debian 12 packages.
# Idempotent: does nothing when every package is present; otherwise apt-get installs only
# the missing ones (through sudo when not root). Nothing is downloaded from anywhere else.
# Where it cannot install (no apt-get: another distribution or a cluster; not root and no usable
# sudo) it lists what CMake needs and exits 0, so that `make build` goes on and CMake finds what the
# machine provides (e.g. after `module load`), naming anything it cannot find.
set -eu

PACKAGES="
  build-essential cmake pkg-config
  openmpi-bin libopenmpi-dev
  libhdf5-openmpi-dev
  bitshuffle hdf5-filter-plugin
  libtorch-dev libopenblas0-pthread
  nlohmann-json3-dev
  libtrilinos-kokkos-dev
  libboost-program-options-dev libboost-dev
  libgtest-dev
  libfftw3-dev
  liblapack-dev
  libtiff-dev libpng-dev zlib1g-dev
  libcairo2-dev fonts-dejavu-core
  python3 python3-numpy python3-h5py python3-sklearn python3-torch
  unzip
  slurm-wlm munge
  clang libclang-rt-14-dev llvm
"

# What CMake looks for, for machines without these packages (keep in step with PACKAGES and
# cmake/TmdflowDependencies.cmake).
needs() {
  cat <<'EOF'
tmdflow needs (found by CMake, cmake/TmdflowDependencies.cmake); tested with Debian 12's versions:
  a C++17 compiler (GCC 12), CMake >= 3.18 (3.25)
  MPI, C and C++ (Open MPI 4.1)                    FindMPI: mpicc/mpicxx on PATH
  HDF5 built with MPI (parallel), C API (1.10.8)   FindHDF5: h5pcc on PATH, or -DHDF5_C_COMPILER_EXECUTABLE=
  Kokkos (3.4, Serial; OpenMP/CUDA builds work)    KokkosConfig.cmake: -DKokkos_ROOT=
  FFTW3, double and single precision (3.3.10)      fftw3.h, libfftw3, libfftw3f
  nlohmann/json (3.11, header-only)
  LAPACK (3.11), libpng (1.6), libtiff (4.5), zlib, cairo with fontconfig (1.16) and a DejaVu Sans font
  the bitshuffle/LZ4 HDF5 filter plugin for DECTRIS files (bitshuffle 0.3.5), run time only
  Boost >= 1.71 with program_options (1.74)
  optional: LibTorch (1.13), only for tmdflow::learn, its tests and a benchmark: -DTorch_DIR=, or
            with a fast BLAS as libblas.so.3 (OpenBLAS: libopenblas0-pthread; the reference BLAS is ~8x slower);
            -DTMDFLOW_WITH_TORCH=OFF to skip it
  tests: GoogleTest (1.12); python3 with numpy, h5py and torch (models exported to PyTorch;
         scikit-learn and torch for the benchmarks); Slurm and munge (slurm-wlm 22.05) for the
         tests that submit to a real one-node Slurm (skipped without them)
On a cluster, load them first, e.g. `module load gcc openmpi hdf5/mpi kokkos fftw boost` (names vary:
`module avail`), then `make build NO_DEPS=1` (see slurm/README.md).
EOF
}

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  echo "tmdflow: no apt-get here: not installing packages; CMake will look for what this machine provides."
  needs
  exit 0
fi

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  # sudo without a password, or with a terminal to ask for one; never a hang in a batch job.
  if command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
    SUDO="sudo"
  else
    echo "tmdflow: Debian packages missing:$missing" >&2
    echo "tmdflow: not root and no usable sudo: not installing them (as root: apt-get install$missing)." >&2
    echo "tmdflow: going on; CMake will name what it cannot find." >&2
    needs >&2
    exit 0
  fi
fi
echo "tmdflow: installing missing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
