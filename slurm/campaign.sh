#!/bin/bash
# Plans a campaign and submits it to Slurm: a job array over what is missing, failed or stale (at
# most N tasks at a time) and, after it (afterok), the reduce. Run it again to resubmit: only what is
# not done is redone. See docs/CAMPAIGNS.md.
#
#   slurm/campaign.sh DIR --workflow workflows/twist_polarity.ini --inputs /data/2024 --match '*.mib' \
#                     [--max-running 20] [--task-sbatch "--ntasks=4 --time=01:00:00"] [--reduce-sbatch "..."]
#   slurm/campaign.sh DIR                       (again: resubmits what is not done, same workflow and inputs)
#
# Options besides the three below go to `tmdflow campaign plan` (--workflow, --inputs, --match, --set,
# --per-task, --force). Logs: DIR/logs/. Job ids: DIR/slurm_jobs.txt. A reduce still pending from an
# earlier submission is cancelled first (its array failed: its dependency can never be met).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
usage() {
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  ""|--*) echo "campaign.sh: expected the campaign folder DIR first" >&2; usage >&2; exit 2 ;;
esac
DIR="$(mkdir -p "$1" && cd "$1" && pwd)"  # absolute: the jobs may start elsewhere
shift
max_running=20
task_sbatch=""
reduce_sbatch=""
plan_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --max-running) max_running="${2:?--max-running needs a number}"; shift 2 ;;
    --max-running=*) max_running="${1#*=}"; shift ;;
    --task-sbatch) task_sbatch="${2?--task-sbatch needs sbatch options}"; shift 2 ;;
    --task-sbatch=*) task_sbatch="${1#*=}"; shift ;;
    --reduce-sbatch) reduce_sbatch="${2?--reduce-sbatch needs sbatch options}"; shift 2 ;;
    --reduce-sbatch=*) reduce_sbatch="${1#*=}"; shift ;;
    *) plan_args+=("$1"); shift ;;
  esac
done
case "$max_running" in ''|*[!0-9]*|0) echo "campaign.sh: --max-running: expected a positive integer, found '$max_running'" >&2; exit 2 ;; esac

if [ -z "${TMDFLOW:-}" ]; then
  TMDFLOW="$PWD/build/bin/tmdflow"
  if [ ! -x "$TMDFLOW" ] && command -v tmdflow >/dev/null 2>&1; then TMDFLOW="$(command -v tmdflow)"; fi
fi
[ -x "$TMDFLOW" ] || { echo "campaign.sh: no executable at $TMDFLOW: build it (make build), put tmdflow on PATH or set TMDFLOW" >&2; exit 2; }
export TMDFLOW

# An earlier reduce that is still pending waits for an array that failed: cancel it.
if [ -f "$DIR/slurm_jobs.txt" ]; then
  old_reduce="$(awk '{ for (i = 1; i < NF; ++i) if ($i == "reduce") r = $(i + 1) } END { print r }' "$DIR/slurm_jobs.txt")"
  if [ -n "$old_reduce" ] && [ "$(squeue -h -j "$old_reduce" -o %T 2>/dev/null)" = PENDING ]; then
    scancel "$old_reduce" && echo "campaign.sh: cancelled the pending reduce $old_reduce of the earlier submission"
  fi
fi

"$TMDFLOW" campaign plan "$DIR" "${plan_args[@]}"
plan_value() { sed -n "s/^ *\"$1\": *\\([0-9]*\\).*/\\1/p" "$DIR/plan.json"; }
plan="$(plan_value plan)"
tasks="$(plan_value tasks)"
mkdir -p "$DIR/logs"

dependency=()
array_job=""
if [ "$tasks" -gt 0 ]; then
  # shellcheck disable=SC2086
  array_job="$(sbatch --parsable --array="1-$tasks%$max_running" --output="$DIR/logs/task-%A_%a.log" $task_sbatch \
               "$here/campaign.sbatch" task "$DIR" "$plan")"
  array_job="${array_job%%;*}"
  dependency=(--dependency="afterok:$array_job")
  echo "campaign.sh: plan $plan: job array $array_job, $tasks task(s), at most $max_running at a time"
fi
# shellcheck disable=SC2086
reduce_job="$(sbatch --parsable "${dependency[@]}" --output="$DIR/logs/reduce-%j.log" $reduce_sbatch \
              "$here/campaign.sbatch" reduce "$DIR")"
reduce_job="${reduce_job%%;*}"
echo "plan $plan array ${array_job:-none} reduce $reduce_job $(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "$DIR/slurm_jobs.txt"
echo "campaign.sh: reduce $reduce_job${array_job:+ after job $array_job succeeds}; logs in $DIR/logs/; progress: tmdflow campaign status $DIR"
