/*
 * gate: claims that sync nothing, made on one handle of a process while
 * other handles of it sync new/ (spool-layout.md, "Claims that are not
 * synced").
 *
 * A claim is a rename of new/Q to assigned/C. Under POSIX alone a sync of
 * new/ makes every removal from it durable, a claim's too, while the
 * claim's name in assigned/ may not be yet: a power cut would then keep
 * neither name, and an acknowledged job would be lost. So a handle with a
 * gate syncs new/ (or the whole file system) only with the gate shut and
 * only after an fsync of assigned/ that follows every claim made through
 * the gate; and claims are made only while the gate is open. A claimer
 * never waits for a sync: spool_gate_enter says -EBUSY while a sync holds
 * the gate, and opened() is called once the gate opens again.
 *
 * The gate's mutex is held by a claimer for the few renames of one
 * dispatch, and by a syncer for one fsync of assigned/ plus its round.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

void spool_gate_init(struct spool_gate *g, void (*opened)(void *), void *arg)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->mu, NULL);
	g->opened = opened;
	g->arg = arg;
}

void spool_gate_destroy(struct spool_gate *g)
{
	pthread_mutex_destroy(&g->mu);
}

void spool_set_gate(struct spool *sp, struct spool_gate *g)
{
	sp->gate = g;
}

int spool_gate_enter(struct spool_gate *g)
{
	/* said before trying, so a syncer that unlocks after our try fails
	 * is sure to see it (sp_gate_open reads it after its unlock) */
	__atomic_store_n(&g->wanted, 1, __ATOMIC_SEQ_CST);
	if (pthread_mutex_trylock(&g->mu) != 0)
		return -EBUSY;
	__atomic_store_n(&g->wanted, 0, __ATOMIC_SEQ_CST);	/* we are in */
	return 0;
}

void spool_gate_leave(struct spool_gate *g, unsigned claims)
{
	g->made += claims;
	pthread_mutex_unlock(&g->mu);
}

/* After an unlock: a claimer that found the gate shut hears it is open. */
static void wake(struct spool_gate *g)
{
	if (__atomic_exchange_n(&g->wanted, 0, __ATOMIC_SEQ_CST) && g->opened)
		g->opened(g->arg);
}

/*
 * Before a round of syncs of sp: *made gets the number of claims made
 * through its gate so far. With hold (the round syncs new/, or the whole
 * file system), the gate stays shut through the round (it waits for a
 * claimer's few renames), and the claims not yet known durable get their
 * fsync of assigned/ first: 0, or its error (then the round must not sync
 * new/). 1: sp has no gate. sp_gate_open after the round, either way.
 */
int sp_gate_shut(struct spool *sp, int hold, uint64_t *made)
{
	struct spool_gate *g = sp->gate;
	int fd, opened, r;

	if (!g)
		return 1;
	pthread_mutex_lock(&g->mu);
	*made = g->made;
	if (!hold) {
		pthread_mutex_unlock(&g->mu);
		wake(g);
		return 0;
	}
	if (g->synced == g->made)
		return 0;
	if ((fd = sp_dir_fd(sp, "assigned", &opened)) < 0)
		return fd;
	r = sys_fsync(fd);
	if (opened)
		close(fd);
	if (r == 0)
		g->synced = *made;
	return r;
}

/* The round is over (held: the gate was shut through it). With
 * synced_assigned it fsynced assigned/ after sp_gate_shut, so the claims
 * made before are durable now. */
void sp_gate_open(struct spool *sp, uint64_t made, int held, int synced_assigned)
{
	struct spool_gate *g = sp->gate;

	if (!held)
		pthread_mutex_lock(&g->mu);
	if (synced_assigned && g->synced < made)
		g->synced = made;
	pthread_mutex_unlock(&g->mu);
	wake(g);
}

void spool_sync_claims(struct spool *sp)
{
	sp_dirty(sp, "assigned");
}
