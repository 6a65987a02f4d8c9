/*
 * Unit tests of spoold/histogram.c: a value on a bound goes in that bound's
 * bucket (Prometheus' le is inclusive), past the last bound in +Inf; the
 * cumulative counts and the text written are what promtool and an operator
 * read; a zeroed histogram counts everything in +Inf.
 */
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
