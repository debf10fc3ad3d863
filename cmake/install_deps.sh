#!/bin/sh
# Installs tmdflow's build and test dependencies from Debian 12 packages.
# Idempotent: does nothing when every package is present; otherwise apt-get installs only
# the missing ones (through sudo when not root). Nothing is downloaded from anywhere else.
set -eu

PACKAGES="
  build-essential cmake pkg-config
  openmpi-bin libopenmpi-dev
  libhdf5-openmpi-dev
  libtorch-dev
  libtrilinos-kokkos-dev
  libboost-program-options-dev libboost-dev
  libgtest-dev
  libfftw3-dev
  liblapack-dev
  libtiff-dev libpng-dev zlib1g-dev
  python3 python3-numpy python3-h5py python3-sklearn
  unzip
  clang libclang-rt-14-dev llvm
"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  exit 0
fi

echo "tmdflow: installing missing Debian packages:$missing"
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "tmdflow: error: packages missing ($missing) and not root and no sudo; install them with apt-get" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
