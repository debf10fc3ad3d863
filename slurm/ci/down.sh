#!/bin/bash
# Stops the Slurm of slurm/ci/up.sh DIR and removes DIR (--keep leaves it, e.g. to read the logs):
# cancels every job, shuts the daemons down, then ends by pid whatever of that cluster is left (job
# steps, batch scripts, their tasks: the processes whose environment names DIR's slurm.conf), then
# munged. Every wait has a deadline; exit 1 when a process of the cluster is still alive at the end.
# Safe to call twice, or on a half-started cluster.
set -uo pipefail

if [ $# -lt 1 ] || [ -z "$1" ]; then
  echo "usage: slurm/ci/down.sh DIR [--keep]" >&2
  exit 2
fi
DIR="$1"
keep="${2:-}"
[ -d "$DIR" ] || exit 0
DIR="$(cd "$DIR" && pwd)"
export PATH="$PATH:/usr/sbin:/sbin"
started=$(date +%s.%N)
conf="$DIR/slurm.conf"

# The pids of this cluster's processes: its daemons (pid files) and every process started with
# SLURM_CONF=DIR/slurm.conf that is a daemon, a step or part of a job -- never this script or the
# shell that called it (which may have sourced env.sh).
cluster_pids() {
  python3 - "$DIR" "$$" <<'EOF'
import os, sys
folder, me = sys.argv[1], int(sys.argv[2])
conf = ("SLURM_CONF=" + folder + "/slurm.conf").encode()
mine = set()
pid = me
while pid > 1:  # this script and its ancestors
    mine.add(pid)
    try:
        pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    except OSError:
        break
found = set()
for name in ("slurmctld.pid", "slurmd.pid", "munge/munged.pid", "watch.pid"):
    try:
        pid = int(open(os.path.join(folder, name)).read().split()[0])
        # Still ours (not a reused pid): its command line or environment names the folder.
        if pid not in mine and (folder.encode() in open(f"/proc/{pid}/cmdline", "rb").read()
                                or conf in open(f"/proc/{pid}/environ", "rb").read().split(b"\0")):
            found.add(pid)
    except (OSError, ValueError, IndexError):
        pass
for d in os.listdir("/proc"):
    if not d.isdigit() or int(d) in mine:
        continue
    try:
        env = open(f"/proc/{d}/environ", "rb").read().split(b"\0")
        argv0 = open(f"/proc/{d}/cmdline", "rb").read().split(b"\0")[0]
    except OSError:
        continue
    if conf in env and (any(e.startswith(b"SLURM_JOB_ID=") for e in env) or os.path.basename(argv0).startswith(b"slurm")):
        found.add(int(d))
alive = []
for p in sorted(found):
    try:
        if open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
            alive.append(p)
    except OSError:
        pass
print(" ".join(map(str, alive)))
EOF
}

wait_gone() {  # wait_gone SECONDS PID...: 0 when all are gone in time
  local deadline=$(( $(date +%s) + $1 )); shift
  while [ "$(date +%s)" -le "$deadline" ]; do
    local left=0
    for p in "$@"; do
      if kill -0 "$p" 2>/dev/null && ! grep -q '^[^)]*) Z' "/proc/$p/stat" 2>/dev/null; then left=1; fi
    done
    [ "$left" = 0 ] && return 0
    sleep 0.1
  done
  return 1
}

if [ -f "$conf" ]; then
  export SLURM_CONF="$conf"
  if timeout 3 scontrol ping 2>/dev/null | grep -q 'is UP'; then
    jobs="$(timeout 5 squeue -h -o %A 2>/dev/null | sort -u)"
    if [ -n "$jobs" ]; then
      # shellcheck disable=SC2086
      timeout 5 scancel $jobs 2>/dev/null
      for _ in $(seq 100); do
        [ -z "$(timeout 5 squeue -h -o %A 2>/dev/null)" ] && break
        sleep 0.1
      done
    fi
    timeout 5 scontrol shutdown >/dev/null 2>&1
  fi
fi

daemons=()
for f in slurmctld.pid slurmd.pid; do
  [ -s "$DIR/$f" ] && daemons+=("$(cat "$DIR/$f")")
done
if [ ${#daemons[@]} -gt 0 ] && ! wait_gone 10 "${daemons[@]}"; then
  kill -TERM "${daemons[@]}" 2>/dev/null
  wait_gone 5 "${daemons[@]}" || kill -KILL "${daemons[@]}" 2>/dev/null
fi

# What is left of jobs and steps (a cluster whose controller never answered), then munged.
left="$(cluster_pids)"
if [ -n "$left" ]; then
  # shellcheck disable=SC2086
  kill -TERM $left 2>/dev/null
  # shellcheck disable=SC2086
  wait_gone 5 $left || kill -KILL $left 2>/dev/null
  # shellcheck disable=SC2086
  wait_gone 5 $left
fi

left="$(cluster_pids)"
elapsed=$(python3 -c "import time; print(f'{time.time() - $started:.2f}')")
if [ -n "$left" ]; then
  echo "slurm-ci: processes of $DIR still alive after tear-down: $left" >&2
  exit 1
fi
if [ "$keep" = "--keep" ]; then
  echo "slurm-ci: down in ${elapsed} s; kept $DIR"
else
  rm -rf "$DIR"
  echo "slurm-ci: down in ${elapsed} s; removed $DIR"
fi
