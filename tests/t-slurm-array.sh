#!/usr/bin/env bash
# The example sbatch script on a real Slurm cluster (tests/slurm/): an array
# of 3 runner tasks drains a shared spool of the example workload, 5 jobs of
# nn.py on the wine data and the seed article's job, which fails (a 400: it
# names a column the data lacks). Every job ran exactly once, in one of the
# tasks; the wine jobs are done, the seed job failed; the task that ran the
# seed job exited 1 (FAILED in Slurm), every other task 0 (COMPLETED).
# The cluster answers (sinfo: idle; srun hostname) and its stop script
# leaves none of its daemons running.
. "$TOP/tests/lib.sh"
. "$TOP/tests/slurm/lib.sh"
slurm_start
EX=$TOP/runner/scripts/examples
# the start script's own srun check may leave the node "completing" a moment
WAIT_S=60 wait_for sh -c '[ "$(sinfo -h -o %T)" = idle ]'
assert_eq "$(hostname)" "$(timeout 60 srun hostname)" "srun hostname"

$SC init
ids=$(python3 - "$EX/wine-job.json" <<'PY' | $SC sweep -
import json, sys
base = json.load(open(sys.argv[1]))
del base["_id"]
base["epochs"] = 20
print(json.dumps({"name": "slurm-array", "base": base,
                  "grid": {"learningRate": [0.003, 0.01, 0.03, 0.1, 0.3]}}))
PY
)
seed=$($SC submit "$EX/seed-job.json")
assert_eq 5 "$(echo "$ids" | wc -l)" "wine jobs submitted"

export SPOOL_SCRIPTS=$TOP/runner/scripts
array=$(sbatch_array --array=0-2)
slurm_wait_gone "$array" 300

tasks=$(slurm_tasks "$array")
assert_eq 3 "$(echo "$tasks" | wc -l)" "array tasks that ran: $tasks"
for id in $ids; do
	assert_eq done "$(field "$id" order.state)" "wine job $id"
	assert_eq 1 "$(field "$id" order.attempt)" "attempts of wine job $id"
	assert_eq 1 "$(runs "$id")" "runs of wine job $id"
	assert_match '^[0-9.e-]+$' "$(field "$id" outcome.loss)" "loss of wine job $id"
done
assert_eq failed "$(field "$seed" order.state)" "seed job"
assert_eq 1 "$(runs "$seed")" "runs of the seed job"
bad=$(task_of "$seed")
[ -n "$bad" ] || fail "no array task named in the seed job's outcome: $(field "$seed" outcome._run)"
while read -r task state code; do
	if [ "$task" = "$bad" ]; then
		assert_eq "FAILED 1:0" "$state $code" "task $task, which ran the failing seed job"
	else
		assert_eq "COMPLETED 0:0" "$state $code" "task $task, whose jobs are all done"
	fi
done <<<"$tasks"

# the cluster stops by PID and leaves nothing of it running
"$TOP/tests/slurm/stop" "$SLURM_DIR" || fail "tests/slurm/stop left something behind"
for d in munged slurmctld slurmd; do
	st=$(ps -o stat= -p "$(cat "$SLURM_DIR/run/$d.pid")" || true)
	case $st in ""|Z*) ;; *) fail "$d still runs after tests/slurm/stop";; esac
done
