/*
 * index_bench: memory and speed of spoold's claim index at a million queued
 * orders. Not part of the daemon: the Makefile links only spoold/ *.c.
 *
 *   make obj/libspool.a obj/spoold/index.o
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Ilib -Ispoold spoold/bench/index_bench.c \
 *      obj/spoold/index.o obj/libspool.a -o /tmp/index_bench && /tmp/index_bench 1000000
 *
 * With "check [N]" it runs N random adds, deletes, takes, clock steps and
 * rescans (mark, re-add, sweep) against a brute-force model instead
 * (tests/t-spoold-index.sh).
 *
 * Prints heap bytes per queued order (mallinfo2), and the time per add and
 * per take; a tenth of the orders are due in the future at a higher
 * priority, and a tenth need a tag the claimer lacks, so the take path skips
 * queues rather than entries.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

/* ---- check: random operations against a brute-force model ---------------- */

struct model_entry {
	char name[SPOOL_NAME_MAX];
	int64_t due;
	int tag;		/* 0: none, 1: needs gpu, 2: needs gpu and a100 */
	int live;
	int mark;
};

static int eligible(const struct model_entry *e, int64_t now, int have)
{
	/* have: 0 no tags, 1 gpu, 2 gpu+a100 */
	return e->live && e->due <= now && e->tag <= have;
}

static int check(long nops)
{
	static struct model_entry m[4096];
	const char *t1[] = { "gpu" }, *t2[] = { "a100", "gpu" };
	const char *have[3][2] = { { NULL, NULL }, { "gpu", NULL }, { "gpu", "a100" } };
	struct tagset *ts[3];
	struct index ix;
	int n = 0, live = 0, scanning = 0;
	long op;
	int64_t now = 1795000000000;

	index_init(&ix);
	ts[0] = NULL;
	ts[1] = index_tagset(&ix, 1, t1);
	ts[2] = index_tagset(&ix, 2, t2);
	if (index_tagset(&ix, 2, (const char *[]){ "gpu", "a100" }) != ts[2]) {
		fprintf(stderr, "tag sets are not interned\n");
		return 1;
	}
	srand(7);
	for (op = 0; op < nops; op++) {
		int r = rand() % 100, i, k;
		if (r < 40 && n < 4096) {		/* add */
			struct order_name on;
			memset(&on, 0, sizeof(on));
			on.priority = rand() % 3 - 1;
			on.due = now - 5000 + rand() % 10000;
			id_new(on.stamp);
			memcpy(on.id, on.stamp, sizeof(on.id));
			k = rand() % 3;
			on.tagged = k > 0;
			name_format(&on, m[n].name, sizeof(m[n].name));
			m[n].due = on.due;
			m[n].tag = k;
			m[n].live = 1;
			m[n].mark = 1;
			if (index_add(&ix, m[n].name, &on, ts[k]) != 1)
				return fprintf(stderr, "add failed\n"), 1;
			if (index_add(&ix, m[n].name, &on, ts[k]) != 0)
				return fprintf(stderr, "second add not idempotent\n"), 1;
			n++;
			live++;
		} else if (r < 55 && n) {		/* delete (a claim by others) */
			i = rand() % n;
			if (index_del(&ix, m[i].name) != m[i].live)
				return fprintf(stderr, "del %s\n", m[i].name), 1;
			live -= m[i].live;
			m[i].live = 0;
		} else if (r < 90) {			/* take */
			char got[SPOOL_NAME_MAX];
			int h = rand() % 3, best = -1, found;
			for (i = 0; i < n; i++)
				if (eligible(&m[i], now, h) &&
				    (best < 0 || strcmp(m[i].name, m[best].name) < 0))
					best = i;
			found = index_take(&ix, now, h, have[h], got);
			if (found != (best >= 0) ||
			    (found && strcmp(got, m[best].name)))
				return fprintf(stderr, "take: got %s, want %s\n",
					       found ? got : "-",
					       best >= 0 ? m[best].name : "-"), 1;
			if (found) {
				m[best].live = 0;
				live--;
			}
		} else if (r < 95) {			/* time passes */
			now += rand() % 2000;
		} else if (!scanning) {		/* a rescan begins */
			index_mark_begin(&ix);
			for (i = 0; i < n; i++)
				m[i].mark = 0;
			scanning = 1;
		} else {				/* it ends: live ones seen */
			for (i = 0; i < n; i++) {
				if (m[i].live && rand() % 4) {
					struct order_name on;
					name_parse(m[i].name, &on);
					index_add(&ix, m[i].name, &on, ts[m[i].tag]);
					m[i].mark = 1;
				}
			}
			for (i = 0; i < n; i++)
				if (m[i].live && !m[i].mark) {
					m[i].live = 0;
					live--;
				}
			index_sweep(&ix);
			scanning = 0;
		}
		if ((long)ix.n != live)
			return fprintf(stderr, "op %ld: index has %zu, model %d\n",
				       op, ix.n, live), 1;
	}
	{
		int64_t due = index_next_due(&ix, now), want = INT64_MAX;
		int i;
		for (i = 0; i < n; i++)
			if (m[i].live && m[i].due > now && m[i].due < want)
				want = m[i].due;
		/* next_due looks at queue heads only: it may be earlier than
		 * the model's when a head is due and hidden behind tags */
		if (due > want)
			return fprintf(stderr, "next due %lld > %lld\n",
				       (long long)due, (long long)want), 1;
	}
	index_release(&ix);
	printf("index check: %ld random operations agree with the model\n", nops);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n, i, taken = 0;
	struct index ix;
	struct order_name on;
	char name[SPOOL_NAME_MAX], out[SPOOL_NAME_MAX];
	const char *gpu[] = { "gpu" };
	struct tagset *ts;
	size_t before, after;
	int64_t t = now_ms();
	double t0;

	if (argc > 1 && !strcmp(argv[1], "check"))
		return check(argc > 2 ? atol(argv[2]) : 200000);
	n = argc > 1 ? atol(argv[1]) : 1000000;
	index_init(&ix);
	ts = index_tagset(&ix, 1, gpu);
	before = mallinfo2().uordblks;
	t0 = now_s();
	for (i = 0; i < n; i++) {
		memset(&on, 0, sizeof(on));
		on.priority = i % 10 == 0 ? 10 : 0;
		on.due = i % 10 == 0 ? t + 3600000 : t - 1000 + i % 1000;
		id_new(on.stamp);
		memcpy(on.id, on.stamp, sizeof(on.id));
		on.tagged = i % 10 == 5;
		if (name_format(&on, name, sizeof(name)) < 0)
			return 1;
		if (index_add(&ix, name, &on, on.tagged ? ts : NULL) != 1)
			return 1;
	}
	after = mallinfo2().uordblks;
	printf("%ld orders: %.1f bytes of heap each (index_bytes says %.1f), "
	       "add %.2f us each\n", n, (double)(after - before) / n,
	       (double)index_bytes(&ix) / n, (now_s() - t0) * 1e6 / n);
	t0 = now_s();
	while (index_take(&ix, now_ms(), 0, NULL, out))
		taken++;
	printf("took %ld (the due, untagged ones) at %.2f us each; %zu left\n",
	       taken, (now_s() - t0) * 1e6 / (taken ? taken : 1), ix.n);
	index_release(&ix);
	return 0;
}
