#!/usr/bin/env bash
# A running array stopped the two ways scancel stops a task:
#  - `scancel --full --signal=TERM` of task 0: Slurm signals the task's
#    process group, that is the runner (each script has a group of its own):
#    it claims no more, stops its script at the drain timeout and gives the
#    job back;
#  - `scancel` of task 1 (a cancellation, as a preemption or a time limit
#    does it): SIGTERM to every process of the task, the script included,
#    which dies of it while its runner is stopping.
# Either way no attempt is used: both jobs go back to the queue and the
# array's later tasks run them, as attempt 1; every job ends done. Tasks 0
# and 1 exit 143 (128 + SIGTERM), the later ones 0.
. "$TOP/tests/lib.sh"
. "$TOP/tests/slurm/lib.sh"
slurm_start

$SC init
nap_script "$TESTDIR/scripts"
touch "$T_MARKS/hold"
jobs=""
for i in 1 2 3; do jobs+=" $(echo "{\"scriptName\":\"nap.sh\",\"n\":$i}" | $SC submit -)"; done

export SPOOL_SCRIPTS=$TESTDIR/scripts SPOOL_SLOTS=1 SPOOL_DRAIN_TIMEOUT=2
array=$(sbatch_array --array=0-3%2)
WAIT_S=120 wait_for started 2
assert_eq "RUNNING RUNNING" "$(slurm_task_state "$array" 0) $(slurm_task_state "$array" 1)" "tasks 0 and 1"
cut=$(ls "$T_MARKS" | sed -n 's/^started-\([0-9a-f]*\)-1$/\1/p')
for id in $cut; do
	case $(field "$id" order.worker) in
	"slurm-$array-0-r0") by0=$id;;
	"slurm-$array-1-r0") by1=$id;;
	*) fail "job $id is run by $(field "$id" order.worker), not by task 0 or 1";;
	esac
done
# (scancel may answer "Job can not be altered now" of a task launched a
# moment ago, having done it: whether the runners stopped is checked below)
scancel --full --signal=TERM "${array}_0" || echo "scancel --signal=TERM exited $?"
scancel "${array}_1" || echo "scancel exited $?"
WAIT_S=120 wait_for slurm_task_ended "$array" 0
WAIT_S=120 wait_for slurm_task_ended "$array" 1
rm "$T_MARKS/hold"
slurm_wait_gone "$array" 180

for id in $jobs; do
	assert_eq done "$(field "$id" order.state)" "job $id"
	assert_eq 1 "$(field "$id" outcome.attempt)" "the attempt that ran job $id to its end"
done
for id in $by0 $by1; do
	assert_eq 2 "$(runs "$id")" "runs of job $id (stopped, then run again)"
	case $(task_of "$id") in 2|3) ;; *) fail "job $id was ended by task $(task_of "$id"), not by a later one";; esac
done
assert_eq "0 FAILED 143:0
1 CANCELLED 143:0
2 COMPLETED 0:0
3 COMPLETED 0:0" "$(slurm_tasks "$array")" "the array's tasks (TASK STATE EXIT:SIGNAL)"
