/*
 * workers: worker records. POST /v1/workers stores one (the seed's
 * /worker-node/create, seed.c, with its name keys and its answer), GET
 * /v1/workers lists them.
 *
 * Layer: 4 handler
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "handler.h"
#include "json.h"

struct worker_req {
	struct hop h;
	int seed;
	char name[SPOOL_WORKER_MAX + 1];
	const char *body;		/* borrowed */
	size_t blen;
};

#define worker_of(opp) container_of(hop_of(opp), struct worker_req, h)

static void run_worker_put(struct op *op, struct spool *sp)
{
	struct worker_req *r = worker_of(op);
	int rc = spool_worker_put(sp, r->name, r->body, r->blen);
	if (rc < 0) {
		hop_errno(&r->h, sp, rc, "store the worker");
		return;
	}
	if (r->seed)
		buf_printf(&r->h.out, "{\"_id\": \"%s\", \"name\": \"%s\", "
			   "\"status\": \"registered\"}\n", r->name, r->name);
	else
		buf_printf(&r->h.out, "{\"name\": \"%s\", \"ok\": true}\n",
			   r->name);
	r->h.status = 200;
}

static void done_worker(struct op *op)
{
	struct worker_req *r = worker_of(op);
	if (r->h.status < 300)
		hop_commit_failed(&r->h);
	if (r->h.status == 200)
		say(&r->h.held.srv->log, "worker %s registered", r->name);
	hop_reply(&r->h);
}

void workers_put(struct conn *c, int seed)
{
	struct json j;
	char name[SPOOL_WORKER_MAX + 1], pr[80];
	static const char *const keys[] = { "name", "nodeName", "workerName" };
	struct worker_req *r;
	size_t k;
	int t = -1, rc;

	if (body_json(c, "worker", &j) < 0)
		return;
	for (k = 0; k < (seed ? 3u : 1u) && t < 0; k++)
		t = json_get(&j, 0, keys[k]);
	rc = t < 0 ? -ENOENT : json_str(&j, t, name, sizeof(name));
	json_release(&j);
	if (rc == -ENOENT) {
		http_error(c, 400, "a worker record needs a string \"name\"");
		return;
	}
	if (rc < 0 || !worker_valid(name)) {
		http_error(c, 400, "invalid worker name '%s'",
			   rc < 0 ? "(not a short string)" : printable(name, pr));
		return;
	}
	r = hop_new(c, sizeof(*r), OP_WRITE, run_worker_put, done_worker);
	if (!r)
		return;
	r->seed = seed;
	memcpy(r->name, name, sizeof(name));
	r->body = body_of(c, &r->blen);
	hop_submit(&r->h);
}

void workers_post(struct conn *c)
{
	workers_put(c, 0);
}

static void run_workers(struct op *op, struct spool *sp)
{
	struct hop *h = hop_of(op);
	int rc = spool_workers_json(sp, &h->out);
	if (rc < 0) {
		buf_reset(&h->out);
		hop_errno(h, sp, rc, "list the workers");
		return;
	}
	buf_puts(&h->out, "\n");
	h->status = 200;
}

void workers_list(struct conn *c)
{
	struct hop *h = hop_new(c, sizeof(*h), OP_READ, run_workers, hop_done);
	if (h)
		hop_submit(h);
}
