/*
 * json_array: the elements of a top-level JSON array as slices of its text,
 * without a token array, so that a bulk submit of many jobs is not bounded
 * by JSON_TOKENS_MAX (each element is then parsed and checked alone). One
 * copy for spoold's POST /v1/jobs and spoolctl submit.
 */
#ifndef SPOOL_JSON_ARRAY_H
#define SPOOL_JSON_ARRAY_H

#include <stddef.h>

/*
 * Split the top-level elements of the JSON array s[0..len), which must be
 * valid JSON already (json_validate), into slices: (*el)[k][0] is the
 * offset of element k, (*el)[k][1] its length, surrounding white space
 * left out. *el is malloc'd (the caller frees it; NULL for none). The
 * count, or -EINVAL (not an array), -ENOMEM, -E2BIG (more than max).
 */
long json_split_array(const char *s, size_t len, size_t max, size_t (**el)[2]);

#endif
