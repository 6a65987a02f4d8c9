/*
 * Unit tests of spoold/histogram.c: a value on a bound goes in that bound's
 * bucket (Prometheus' le is inclusive), past the last bound in +Inf; the
 * cumulative counts and the text written are what promtool and an operator
 * read; a zeroed histogram counts everything in +Inf. And claimclock.c, the
 * table of when each claim was handed out (the start of its run time).
 */
#include <errno.h>
#include <math.h>

#include "check.h"
#include "../../spoold/base.h"

static const double le[] = { 0.001, 0.01, 0.1, 1, 10 };

TEST(bucket_edges)
{
	struct histogram h;
	histogram_init(&h, le, 5);
	CHECK_INT(0, histogram_bucket(&h, 0));
	CHECK_INT(0, histogram_bucket(&h, 0.001));	/* on a bound: that bucket */
	CHECK_INT(1, histogram_bucket(&h, 0.0011));
	CHECK_INT(1, histogram_bucket(&h, 0.01));
	CHECK_INT(3, histogram_bucket(&h, 1));
	CHECK_INT(4, histogram_bucket(&h, 1.000001));
	CHECK_INT(4, histogram_bucket(&h, 10));
	CHECK_INT(5, histogram_bucket(&h, 10.5));	/* +Inf */
	CHECK_INT(5, histogram_bucket(&h, 1e300));
	CHECK_INT(5, histogram_bucket(&h, NAN));
}

TEST(cumulative_counts)
{
	struct histogram h;
	histogram_init(&h, le, 5);
	histogram_observe(&h, 0.0005);
	histogram_observe(&h, 0.001);
	histogram_observe(&h, 0.5);
	histogram_observe(&h, 3);
	histogram_observe(&h, 20);
	histogram_observe(&h, -1);		/* a clock that stepped back */
	CHECK_INT(3, histogram_le(&h, 0));	/* 0.0005, 0.001 and -1 as 0 */
	CHECK_INT(3, histogram_le(&h, 1));
	CHECK_INT(3, histogram_le(&h, 2));
	CHECK_INT(4, histogram_le(&h, 3));
	CHECK_INT(5, histogram_le(&h, 4));
	CHECK_INT(6, histogram_le(&h, 5));
	CHECK_INT(6, h.count);
	CHECK(fabs(h.sum - 23.5015) < 1e-9);
}

TEST(text_format)
{
	struct histogram h;
	struct buf b;
	histogram_init(&h, le, 2);
	histogram_observe(&h, 0.002);
	histogram_observe(&h, 5);
	buf_init(&b, 4096);
	histogram_write(&h, &b, "x_seconds", "route=\"/a\"");
	buf_puts(&b, "");
	CHECK_STR("x_seconds_bucket{route=\"/a\",le=\"0.001\"} 0\n"
		  "x_seconds_bucket{route=\"/a\",le=\"0.01\"} 1\n"
		  "x_seconds_bucket{route=\"/a\",le=\"+Inf\"} 2\n"
		  "x_seconds_sum{route=\"/a\"} 5.002\n"
		  "x_seconds_count{route=\"/a\"} 2\n", b.data);
	buf_reset(&b);
	histogram_write(&h, &b, "y", NULL);
	buf_puts(&b, "");
	CHECK_STR("y_bucket{le=\"0.001\"} 0\ny_bucket{le=\"0.01\"} 1\n"
		  "y_bucket{le=\"+Inf\"} 2\ny_sum 5.002\ny_count 2\n", b.data);
	buf_release(&b);
}

TEST(zeroed_is_all_inf)
{
	struct histogram h = { 0 };
	histogram_observe(&h, 0.5);
	CHECK_INT(1, histogram_le(&h, 0));
	CHECK_INT(1, h.bucket[0]);
	CHECK_INT(1, h.count);
}

TEST(bounds_capped)
{
	static double many[HISTOGRAM_MAX + 5];
	struct histogram h;
	int i;
	for (i = 0; i < HISTOGRAM_MAX + 5; i++)
		many[i] = i + 1;
	histogram_init(&h, many, HISTOGRAM_MAX + 5);
	CHECK_INT(HISTOGRAM_MAX, h.n);
	histogram_observe(&h, 1e9);
	CHECK_INT(1, h.bucket[HISTOGRAM_MAX]);
}

/* ---- spoold/claimclock.c: when each claim was handed out ---------------------- */

static void id_of(int k, char out[SPOOL_ID_LEN + 1])
{
	snprintf(out, SPOOL_ID_LEN + 1, "0123456789ab%012x", (unsigned)k);
}

TEST(claimclock_put_take)
{
	struct claimclock cc;
	char id[SPOOL_ID_LEN + 1];
	int64_t ms = 0;
	claimclock_init(&cc);
	id_of(1, id);
	CHECK_INT(0, claimclock_put(&cc, id, 1, 1000));
	CHECK_INT(0, claimclock_take(&cc, id, 2, &ms));	/* another attempt */
	CHECK_INT(0, claimclock_take(&cc, id, 1, &ms));	/* ... which forgot it */
	CHECK_INT(0, claimclock_put(&cc, id, 1, 1000));
	CHECK_INT(0, claimclock_put(&cc, id, 2, 5000));	/* claimed again */
	CHECK_INT(1, cc.n);
	CHECK_INT(1, claimclock_take(&cc, id, 2, &ms));
	CHECK_INT(5000, ms);
	CHECK_INT(0, cc.n);
	CHECK_INT(-EINVAL, claimclock_put(&cc, "short", 1, 1));
	CHECK_INT(0, claimclock_take(&cc, "short", 1, &ms));
	claimclock_release(&cc);
}

/* Many entries, taken in another order than put: the backward shift on
 * delete keeps every run reachable. */
TEST(claimclock_many)
{
	struct claimclock cc;
	char id[SPOOL_ID_LEN + 1];
	int64_t ms;
	int k;
	claimclock_init(&cc);
	for (k = 0; k < 5000; k++) {
		id_of(k * 7919, id);
		CHECK_INT(0, claimclock_put(&cc, id, k % 5 + 1, k));
	}
	CHECK_INT(5000, cc.n);
	for (k = 0; k < 5000; k += 2) {
		id_of(k * 7919, id);
		CHECK_INT(1, claimclock_take(&cc, id, k % 5 + 1, &ms));
		CHECK_INT(k, ms);
	}
	for (k = 1; k < 5000; k += 2) {
		id_of(k * 7919, id);
		CHECK_INT(1, claimclock_take(&cc, id, k % 5 + 1, &ms));
		CHECK_INT(k, ms);
	}
	CHECK_INT(0, cc.n);
	CHECK_INT(0, cc.untimed);
	claimclock_release(&cc);
}

/* Past CLAIMCLOCK_MAX a claim is not timed, and counted. */
TEST(claimclock_ceiling)
{
	struct claimclock cc;
	char id[SPOOL_ID_LEN + 1];
	unsigned k;
	claimclock_init(&cc);
	for (k = 0; k < CLAIMCLOCK_MAX; k++) {
		id_of((int)k, id);
		CHECK_INT(0, claimclock_put(&cc, id, 1, 1));
	}
	id_of((int)CLAIMCLOCK_MAX, id);
	CHECK_INT(-ENOSPC, claimclock_put(&cc, id, 1, 1));
	CHECK_INT(1, cc.untimed);
	id_of(3, id);
	CHECK_INT(0, claimclock_put(&cc, id, 2, 9));	/* a known one still updates */
	claimclock_release(&cc);
}
