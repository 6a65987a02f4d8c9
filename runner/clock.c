/*
 * clock: the monotonic clock every timeout and backoff of the runner is
 * measured on, and naps that end early when the runner stops.
 */
#include <time.h>

#include "runner.h"

int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void runner_nap(struct runner *rn, int64_t ms)
{
	int64_t end = mono_ms() + ms;

	while (!atomic_load(&rn->stopping)) {
		int64_t left = end - mono_ms();
		struct timespec ts;

		if (left <= 0)
			break;
		if (left > 50)
			left = 50;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000;
		nanosleep(&ts, NULL);
	}
}
