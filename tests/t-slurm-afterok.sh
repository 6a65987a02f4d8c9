#!/usr/bin/env bash
# --dependency=afterok gates the next step of a pipeline on the runners' exit
# codes: two example arrays, one on a spool of wine jobs of nn.py that all
# succeed, one on a spool where the seed article's job fails (a 400). The
# step after the clean array runs; the step after the other never starts
# (Slurm: DependencyNeverSatisfied), since the task that ran the failing job
# exited 1.
. "$TOP/tests/lib.sh"
. "$TOP/tests/slurm/lib.sh"
slurm_start
EX=$TOP/runner/scripts/examples
export SPOOL_SCRIPTS=$TOP/runner/scripts

for s in good bad; do $BIN/spoolctl --spool "$TESTDIR/$s" init; done
$BIN/spoolctl --spool "$TESTDIR/good" submit "$EX/wine-job.json" >/dev/null
$BIN/spoolctl --spool "$TESTDIR/bad" submit "$EX/wine-job.json" "$EX/seed-job.json" >/dev/null

good=$(SPOOL_DIR=$TESTDIR/good sbatch_array --array=0-1)
bad=$(SPOOL_DIR=$TESTDIR/bad sbatch_array --array=0-1)
next() { sbatch --parsable --dependency="afterok:$1" -o "$TESTDIR/next-$2.out" \
	--wrap "touch '$TESTDIR/next-$2-ran'" | cut -d';' -f1; }
next_good=$(next "$good" good)
next_bad=$(next "$bad" bad)

slurm_wait_gone "$good" 300
slurm_wait_gone "$bad" 300
# a dependency is judged by the scheduler's next pass: wait for its verdict
reason() { scontrol -o show job "$1" | sed -n 's/.* Reason=\([^ ]*\) .*/\1/p'; }
judged() { slurm_gone "$1" || [ "$(reason "$1")" = DependencyNeverSatisfied ]; }
WAIT_S=120 wait_for judged "$next_good"
WAIT_S=120 wait_for judged "$next_bad"
assert_eq "COMPLETED 0:0" "$(scontrol -o show job "$next_good" | sed -n 's/.*JobState=\([A-Z]*\) .*ExitCode=\([0-9:]*\).*/\1 \2/p')" \
	"the step after the clean array"
[ -e "$TESTDIR/next-good-ran" ] || fail "the step after the clean array did not run"
[ ! -e "$TESTDIR/next-bad-ran" ] || fail "the step after the array with a failed job ran (tasks: $(slurm_tasks "$bad" | tr '\n' ';'))"
assert_eq "PENDING DependencyNeverSatisfied" \
	"$(scontrol -o show job "$next_bad" | sed -n 's/.*JobState=\([A-Z]*\) .*/\1/p') $(reason "$next_bad")" \
	"the step after the array with a failed job"
