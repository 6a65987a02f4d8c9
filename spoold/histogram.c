/*
 * histogram: a Prometheus histogram of fixed buckets, cheap enough for the
 * loop thread: an observation is a short walk over the bounds and three
 * additions, never an allocation or a lock. The bounds are a static table
 * the owner hands over; the counts are kept per bucket (not cumulative)
 * and summed only when written out.
 *
 * Layer: 1 base
 */
#include <math.h>
#include <stdio.h>

#include "base.h"

void histogram_init(struct histogram *h, const double *le, int n)
{
	int i;
	h->le = le;
	h->n = n < HISTOGRAM_MAX ? n : HISTOGRAM_MAX;
	for (i = 0; i <= HISTOGRAM_MAX; i++)
		h->bucket[i] = 0;
	h->sum = 0;
	h->count = 0;
}

int histogram_bucket(const struct histogram *h, double v)
{
	int i = 0;
	/* a bound is inclusive (Prometheus' le); NaN goes to +Inf */
	while (i < h->n && !(v <= h->le[i]))
		i++;
	return i;
}

void histogram_observe(struct histogram *h, double v)
{
	if (v < 0)
		v = 0;	/* a clock that stepped back: the first bucket */
	h->bucket[histogram_bucket(h, v)]++;
	if (!isnan(v))
		h->sum += v;
	h->count++;
}

uint64_t histogram_le(const struct histogram *h, int i)
{
	uint64_t cum = 0;
	int k;
	for (k = 0; k <= i && k <= h->n; k++)
		cum += h->bucket[k];
	return cum;
}

void histogram_write(const struct histogram *h, struct buf *b,
		     const char *name, const char *labels)
{
	const char *sep = labels && labels[0] ? "," : "";
	uint64_t cum = 0;
	int i;

	if (!labels)
		labels = "";
	for (i = 0; i < h->n; i++) {
		cum += h->bucket[i];
		buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels,
			   sep, h->le[i], (unsigned long long)cum);
	}
	cum += h->bucket[h->n];
	buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
		   (unsigned long long)cum);
	if (labels[0])
		buf_printf(b, "%s_sum{%s} %.9g\n%s_count{%s} %llu\n", name,
			   labels, h->sum, name, labels,
			   (unsigned long long)h->count);
	else
		buf_printf(b, "%s_sum %.9g\n%s_count %llu\n", name, h->sum,
			   name, (unsigned long long)h->count);
}
