/*
 * Unit tests of lib/gate.c: a claimer with unsynced claims on one handle,
 * a writer syncing new/ on another (spoold's loop and writer). While a
 * writer's round of syncs of new/ holds the gate, a claimer is refused at
 * once (it never waits) and hears when the gate opens; a writer's round
 * that syncs new/ waits for the claimer's renames and fsyncs assigned/
 * first, which covers every claim made through the gate.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "check.h"
#include "internal.h"

#define JOB "{\"scriptName\":\"a.py\"}"

static struct spool claimer, writer;
static struct spool_gate gate;
static int opened_calls;
static const struct claimant W = { "w1", 0, NULL, 60, 0 };

static void on_opened(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&opened_calls, 1, __ATOMIC_SEQ_CST);
}

static void open_both(void)
{
	CHECK_INT(0, spool_open(&writer, "s", 1));
	CHECK_INT(0, spool_open(&claimer, "s", 0));
	spool_gate_init(&gate, on_opened, NULL);
	spool_set_gate(&writer, &gate);
	spool_set_claim_sync(&claimer, 0);
}

static void submit(char *id)
{
	CHECK_INT(0, spool_submit(&writer, JOB, strlen(JOB), NULL, id));
}

TEST(claims_are_counted_and_synced_by_the_writers_next_sync_of_new)
{
	char id[25];
	struct order o;

	open_both();
	submit(id);
	submit(id);
	CHECK_INT(0, spool_gate_enter(&gate));
	CHECK_INT(0, spool_claim(&claimer, &W, &o));
	CHECK_INT(0, spool_claim(&claimer, &W, &o));
	spool_gate_leave(&gate, 2);
	CHECK_INT(2, gate.made);
	CHECK_INT(0, gate.synced);
	/* a submit's commit syncs new/: assigned/ goes first */
	submit(id);
	CHECK_INT(2, gate.synced);
	/* a claim's fsync on its own (spoold's claims_sync) counts too */
	CHECK_INT(0, spool_gate_enter(&gate));
	CHECK_INT(0, spool_claim(&claimer, &W, &o));
	spool_gate_leave(&gate, 1);
	spool_begin(&writer);
	spool_sync_claims(&writer);
	CHECK_INT(0, spool_commit(&writer));
	CHECK_INT(3, gate.synced);
}

TEST(a_claimer_is_refused_while_a_sync_of_new_holds_the_gate_and_hears_it_open)
{
	uint64_t made = 0;

	open_both();
	CHECK_INT(0, sp_gate_shut(&writer, 1, &made));
	CHECK_INT(-EBUSY, spool_gate_enter(&gate));
	CHECK_INT(0, opened_calls);
	sp_gate_open(&writer, made, 1, 1);
	CHECK_INT(1, opened_calls);
	/* once in, the claimer is not called back for nothing */
	CHECK_INT(0, spool_gate_enter(&gate));
	spool_gate_leave(&gate, 0);
	CHECK_INT(0, sp_gate_shut(&writer, 1, &made));
	sp_gate_open(&writer, made, 1, 1);
	CHECK_INT(1, opened_calls);
	/* a round that syncs neither new/ nor the file system does not hold it */
	CHECK_INT(0, sp_gate_shut(&writer, 0, &made));
	CHECK_INT(0, spool_gate_enter(&gate));
	spool_gate_leave(&gate, 0);
	sp_gate_open(&writer, made, 0, 0);
}

static void *commit_submit(void *arg)
{
	char id[25];

	(void)arg;
	submit(id);
	return NULL;
}

TEST(a_sync_of_new_waits_for_the_claimers_renames)
{
	pthread_t t;
	char id[25];
	struct order o;

	open_both();
	submit(id);
	CHECK_INT(0, spool_gate_enter(&gate));
	CHECK_INT(0, pthread_create(&t, NULL, commit_submit, NULL));
	usleep(100 * 1000);
	/* the writer's round is waiting at the gate: nothing synced yet */
	CHECK_INT(0, gate.synced);
	CHECK_INT(0, spool_claim(&claimer, &W, &o));
	spool_gate_leave(&gate, 1);
	CHECK_INT(0, pthread_join(t, NULL));
	CHECK_INT(1, gate.synced);
}

TEST(a_failing_fsync_of_assigned_fails_the_round)
{
	char id[25];
	struct order o;

	open_both();
	submit(id);
	CHECK_INT(0, spool_gate_enter(&gate));
	CHECK_INT(0, spool_claim(&claimer, &W, &o));
	spool_gate_leave(&gate, 1);
	sys_fault_set("fsync", 1, EIO);
	spool_begin(&writer);
	CHECK_INT(0, sp_dirty(&writer, "new"));
	CHECK_INT(-EIO, spool_commit(&writer));
	CHECK(strstr(spool_error(&writer), "assigned") != NULL);
	CHECK_INT(0, gate.synced);
	sys_fault_clear();
	/* the gate is open again */
	CHECK_INT(0, spool_gate_enter(&gate));
	spool_gate_leave(&gate, 0);
}
