/*
 * say: the runner's log, one line to stderr per event, prefixed with the
 * time and the worker's name, so that the lines of many runners (a Slurm
 * array's) can be merged and still read.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "runner.h"

static struct runner *the_runner;	/* for say_outbox, a callback without context */

void say_init(struct runner *rn)
{
	the_runner = rn;
}

void say(struct runner *rn, const char *fmt, ...)
{
	char line[2048], when[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ld runner %s: ", when,
		     ts.tv_nsec / 1000000, rn ? rn->name : "?");
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}

void say_outbox(const char *line)
{
	say(the_runner, "outbox: %s", line);
}
