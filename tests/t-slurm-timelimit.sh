#!/usr/bin/env bash
# tests/run: light 90
# A time limit cuts a task: the example array with --time=1 (Slurm counts in
# minutes) and a runner of two slots whose scripts outlast it. The warning
# (--signal=B:TERM, here @1 so that it comes after the claims) tells the
# runner to stop; its drain timeout is longer than what is left, so the limit
# itself cuts the task: SIGTERM to every process, the scripts included, which
# die of it while their runner is stopping. Both jobs go back to the queue
# with no attempt used, and the array's next task runs them, as attempt 1.
# The cut task ends TIMEOUT with exit 143 (128 + SIGTERM), the next 0.
. "$TOP/tests/lib.sh"
. "$TOP/tests/slurm/lib.sh"
slurm_start

$SC init
nap_script "$TESTDIR/scripts"
touch "$T_MARKS/hold"
a=$(echo '{"scriptName":"nap.sh","n":1}' | $SC submit -)
b=$(echo '{"scriptName":"nap.sh","n":2}' | $SC submit -)

export SPOOL_SCRIPTS=$TESTDIR/scripts SPOOL_SLOTS=2 SPOOL_DRAIN_TIMEOUT=600
array=$(sbatch_array --array=0-1%1 --time=1 --signal=B:TERM@1)
WAIT_S=120 wait_for started 2
assert_eq "slurm-$array-0-r0 slurm-$array-0-r0" "$(field "$a" order.worker) $(field "$b" order.worker)" \
	"the runner of task 0 runs both jobs"
# the limit strikes 60 to 90 s after the start (slurmctld looks every 30 s)
WAIT_S=240 wait_for slurm_task_ended "$array" 0
rm "$T_MARKS/hold"
slurm_wait_gone "$array" 180

for id in $a $b; do
	assert_eq done "$(field "$id" order.state)" "job $id"
	assert_eq 1 "$(field "$id" outcome.attempt)" "the attempt that ran job $id to its end"
	assert_eq 2 "$(runs "$id")" "runs of job $id (cut, then run again)"
	assert_eq 1 "$(task_of "$id")" "the task that ran job $id to its end"
done
assert_eq "0 TIMEOUT 143:0
1 COMPLETED 0:0" "$(slurm_tasks "$array")" "the array's tasks (TASK STATE EXIT:SIGNAL)"
