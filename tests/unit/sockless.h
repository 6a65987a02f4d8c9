/*
 * sockless.h: a connection of spoold's HTTP layer that no socket stands
 * behind, for the unit tests that feed it bytes with http_feed
 * (test_http.c, test_spoold.c). Include after check.h and http.h.
 */
#ifndef TESTS_UNIT_SOCKLESS_H
#define TESTS_UNIT_SOCKLESS_H

#include <stdlib.h>

/* A connection of hs, on loop, never connected. */
static inline struct conn *sockless_conn(uv_loop_t *loop, struct http_server *hs)
{
	struct conn *c = calloc(1, sizeof(*c));

	CHECK(c != NULL);
	uv_tcp_init(loop, &c->tcp);
	c->tcp.data = c;
	http_conn_init(c, hs);
	return c;
}

/* Close and free c (its handle closed by a turn of loop). */
static inline void sockless_drop(uv_loop_t *loop, struct conn *c)
{
	uv_close((uv_handle_t *)&c->tcp, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	http_conn_release(c);
	free(c);
}

#endif
