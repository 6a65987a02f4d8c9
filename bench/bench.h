/*
 * bench: what the programs of `make bench` share (bench/job.c).
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>

/*
 * The benchmark job: the hyper-parameters of one trial of a sweep of script
 * (e.g. "nn.py"), about 600 bytes of JSON, with "bench":{"run":RUN,"seq":SEQ}
 * so that a generator can tell its own jobs and count them. Returns the
 * length written to out (snprintf's contract).
 */
int bench_job(char *out, size_t cap, const char *script, const char *run, long seq);

#endif
