#!/bin/bash
# Brings up a real one-node Slurm (munged + slurmctld + slurmd) on this machine, for tests and for
# trying the templates: everything in DIR (configuration from slurm/ci/slurm.conf.in, keys, state,
# logs), nothing in /etc touched, no systemd. Tear it down with slurm/ci/down.sh DIR.
#
#   DIR=$(mktemp -d /tmp/tmdslurm.XXXXXX); slurm/ci/up.sh "$DIR" && . "$DIR/env.sh"   # SLURM_CONF, SLURM_MPI_TYPE
#   sbatch ...; squeue; ...; slurm/ci/down.sh "$DIR"
#
# Exit 0: up (the node is idle and munge answers). Exit 77: Slurm cannot run here (not installed, or
# not root and the daemons refuse an ordinary user): one line `slurm-ci: cannot run here: WHY`; the
# tests skip with it (TMDFLOW_SLURM_REQUIRED=1 makes it exit 1 instead). Exit 1: it should have come
# up and did not (the daemons' logs are printed). Whatever it started is stopped again on any failure.
# Every wait has a deadline (a daemon without its munge hangs rather than fails).
# Environment: TMDFLOW_SLURM_CPUS (CPUs the node declares; default max(2, nproc)),
# TMDFLOW_SLURM_OWNER (a pid: when that process ends, the cluster is torn down),
# TMDFLOW_SLURM_DISABLE=WHY (do not try: exit 77 with WHY, e.g. on a machine where it must not run).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
started=$(date +%s.%N)

cannot() {
  echo "slurm-ci: cannot run here: $*" >&2
  if [ "${TMDFLOW_SLURM_REQUIRED:-0}" = 1 ]; then exit 1; fi
  exit 77
}
fail() {
  echo "slurm-ci: failed to bring Slurm up: $*" >&2
  for log in "$DIR"/log/*.log "$DIR"/munge/munged.log; do
    [ -s "$log" ] && { echo "--- $log (last lines)" >&2; tail -n 15 "$log" >&2; }
  done
  exit 1
}

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: slurm/ci/up.sh DIR   (an empty or new folder, short path: sockets live in it)" >&2
  exit 2
fi
DIR="$1"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
if [ -n "$(ls -A "$DIR")" ]; then
  echo "slurm-ci: $DIR is not empty: expected a new folder" >&2
  exit 2
fi
# A unix socket path holds at most 107 bytes.
if [ ${#DIR} -gt 80 ]; then
  echo "slurm-ci: $DIR: path too long for the munge socket (${#DIR} > 80 characters): use a folder under /tmp" >&2
  exit 2
fi

if [ -n "${TMDFLOW_SLURM_DISABLE:-}" ]; then
  cannot "TMDFLOW_SLURM_DISABLE is set ($TMDFLOW_SLURM_DISABLE)"
fi
for tool in munged munge unmunge slurmctld slurmd sbatch srun squeue scontrol sinfo scancel python3; do
  command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null 2>&1 ||
    cannot "$tool not found (Debian: apt-get install slurm-wlm munge; make deps installs them as root)"
done
export PATH="$PATH:/usr/sbin:/sbin"

# TMDFLOW_SLURM_OWNER=PID: a watcher tears the cluster down once that process is gone, even when it
# was killed outright (no `finally` ran), so that no daemon outlives its test.
if [ -n "${TMDFLOW_SLURM_OWNER:-}" ]; then
  setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done; exec "$3" "$2"' tmdflow-slurm-watch \
    "$TMDFLOW_SLURM_OWNER" "$DIR" "$here/down.sh" </dev/null >/dev/null 2>&1 &
  echo $! > "$DIR/watch.pid"
fi

# From here on, whatever fails stops what was started.
trap 'status=$?; if [ $status -ne 0 ]; then "$here/down.sh" "$DIR" --keep >/dev/null 2>&1 || true; fi' EXIT

user="$(id -un)"
node="$(hostname -s)"
cpus="${TMDFLOW_SLURM_CPUS:-$(nproc)}"
[ "$cpus" -ge 2 ] || cpus=2
task_plugin=task/affinity
[ "$cpus" -le "$(nproc)" ] || task_plugin=task/none  # cannot bind to cores that do not exist
memory_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 / 2 ))
mkdir -p "$DIR/munge" "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/tmp"
touch "$DIR/plugstack.conf"  # no SPANK plugins (the system's plugstack.conf may name some)

# Two free TCP ports (the system's Slurm, or another test's, may hold the standard 6817/6818).
read -r ctld_port slurmd_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')

# munged: its own key and socket. As root it runs as the munge user (it refuses root without
# --force); otherwise as this user.
munge_user="$user"
run_as=()
if [ "$(id -u)" = 0 ] && id munge >/dev/null 2>&1; then
  munge_user=munge
  run_as=(setpriv --reuid=munge --regid=munge --init-groups)
fi
key="$DIR/munge/munge.key"
if ! mungekey --create --keyfile="$key" >/dev/null 2>&1; then
  dd if=/dev/urandom of="$key" bs=1024 count=1 status=none
fi
chmod 0600 "$key"
chmod 0700 "$DIR/munge"
if [ "$munge_user" != "$user" ]; then
  chown -R munge:munge "$DIR/munge"
  chmod o+x "$DIR"  # mktemp -d makes it 0700: munged must reach its folder
fi
socket="$DIR/munge/munge.socket"
"${run_as[@]}" munged --force --socket="$socket" --key-file="$key" --pid-file="$DIR/munge/munged.pid" \
  --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/munged.seed" --num-threads=4 </dev/null >/dev/null 2>&1 ||
  fail "munged did not start ($(tail -n 1 "$DIR/munge/munged.log" 2>/dev/null))"
# The munge socket must be reachable by every process of the cluster (jobs of this user included).
chmod 0755 "$DIR/munge"
munge_ok=0
for _ in $(seq 100); do
  if timeout 5 munge -n -S "$socket" 2>/dev/null | timeout 5 unmunge -S "$socket" >/dev/null 2>&1; then munge_ok=1; break; fi
  sleep 0.05
done
[ "$munge_ok" = 1 ] || fail "munge -n | unmunge did not answer within 5 s"

sed -e "s|@DIR@|$DIR|g" -e "s|@NODE@|$node|g" -e "s|@USER@|$user|g" -e "s|@SLURMD_USER@|$user|g" \
    -e "s|@CTLD_PORT@|$ctld_port|g" -e "s|@SLURMD_PORT@|$slurmd_port|g" -e "s|@CPUS@|$cpus|g" -e "s|@TASK_PLUGIN@|$task_plugin|g" \
    -e "s|@MEMORY_MB@|$memory_mb|g" "$here/slurm.conf.in" > "$DIR/slurm.conf"
export SLURM_CONF="$DIR/slurm.conf"
cat > "$DIR/env.sh" <<EOF
# . this file to use the test Slurm of $DIR (slurm/ci/up.sh)
export SLURM_CONF='$DIR/slurm.conf'
export SLURM_MPI_TYPE=pmix
export PATH="\$PATH:/usr/sbin:/sbin"
EOF

# slurmctld and slurmd fork into the background (and write their pid files); -i: ignore any state.
slurmctld -i </dev/null >"$DIR/log/slurmctld.out" 2>&1 || {
  if [ "$(id -u)" != 0 ]; then cannot "slurmctld refused to start as $user (not root): $(tail -n 1 "$DIR/log/slurmctld.out")"; fi
  fail "slurmctld did not start"
}
up=0
for _ in $(seq 100); do
  if timeout 5 scontrol ping 2>/dev/null | grep -q 'is UP'; then up=1; break; fi
  sleep 0.1
done
[ "$up" = 1 ] || fail "slurmctld did not answer scontrol ping within 10 s"

slurmd </dev/null >"$DIR/log/slurmd.out" 2>&1 || {
  if [ "$(id -u)" != 0 ]; then cannot "slurmd refused to start as $user (not root): $(tail -n 1 "$DIR/log/slurmd.out")"; fi
  fail "slurmd did not start"
}
state=""
for _ in $(seq 200); do
  state="$(timeout 5 sinfo -h -n "$node" -o %T 2>/dev/null || true)"
  [ "$state" = idle ] && break
  sleep 0.1
done
if [ "$state" != idle ]; then
  if [ "$(id -u)" != 0 ]; then cannot "the node never became idle as $user (not root; state '${state:-none}')"; fi
  fail "node $node is '${state:-unknown}', not idle, after 20 s"
fi

elapsed=$(python3 -c "import time; print(f'{time.time() - $started:.2f}')")
echo "slurm-ci: up in ${elapsed} s: node $node ($cpus CPUs), slurmctld :$ctld_port, slurmd :$slurmd_port, munge $socket"
echo "slurm-ci: use it with: . $DIR/env.sh   (SLURM_CONF=$DIR/slurm.conf); stop it with: slurm/ci/down.sh $DIR"
