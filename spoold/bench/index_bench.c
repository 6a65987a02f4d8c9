/*
 * index_bench: memory and speed of spoold's claim index at a million queued
 * orders. Not part of the daemon: the Makefile links only spoold/ *.c.
 *
 *   make obj/libspool.a obj/spoold/index.o
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Ilib -Ispoold spoold/bench/index_bench.c \
 *      obj/spoold/index.o obj/libspool.a -o /tmp/index_bench && /tmp/index_bench 1000000
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

#include "spoold.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000, i, taken = 0;
	struct index ix;
	struct order_name on;
	char name[SPOOL_NAME_MAX], out[SPOOL_NAME_MAX];
	const char *gpu[] = { "gpu" };
	struct tagset *ts;
	size_t before, after;
	int64_t t = now_ms();
	double t0;

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
