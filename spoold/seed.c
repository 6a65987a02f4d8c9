/*
 * seed: the article's routes, with its JSON shapes, so that a worker
 * written for it works unchanged (API.md). Thin adapters: each parses the
 * seed's request and calls the function of its resource, the same one
 * /v1 calls (jobs_submit, workers_put, claims_start, reads_*,
 * orders_callback).
 *
 * Layer: 4 handler
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "handler.h"
#include "json.h"

void seed_job_create(struct conn *c)
{
	jobs_submit(c, 1);
}

void seed_worker_create(struct conn *c)
{
	workers_put(c, 1);
}

/* A claim that does not wait, answered in the seed's shape. */
void seed_bored(struct conn *c)
{
	char pr[80];
	if (!worker_valid(c->req.seg[1])) {
		http_error(c, 400, "invalid worker name '%s'",
			   printable(c->req.seg[1], pr));
		return;
	}
	claims_start(c, c->req.seg[1], 0, NULL, srv_of(c)->cfg.seed_lease_s,
		     0, 1);
}

void seed_retrieve_job(struct conn *c)
{
	reads_job(c);
}

void seed_retrieve_orders(struct conn *c)
{
	reads_list(c, 10000);
}

/*
 * The seed worker's outcome: {"jobId", "status", ...}, with the
 * "assignmentId" (the /bored "_id") that names its claim.
 */
void seed_callback(struct conn *c)
{
	struct json j;
	char id[64], pr[80], aid[64], tok[SPOOL_TOKEN_LEN + 1] = "";
	int t, rc, failed = 0, att = 0;
	int64_t status;

	if (body_json(c, "callback", &j) < 0)
		return;
	t = json_get(&j, 0, "jobId");
	rc = t < 0 ? -ENOENT : json_str(&j, t, id, sizeof(id));
	if (rc == 0) {
		int s = json_get(&j, 0, "status");
		if (s >= 0 && json_int(&j, s, &status) == 0 &&
		    spool_status_failed(1, status))
			failed = 1;
		s = json_get(&j, 0, "assignmentId");
		if (s >= 0 && (json_str(&j, s, aid, sizeof(aid)) < 0 ||
			       assignment_parse(aid, tok, &att) < 0)) {
			json_release(&j);
			http_error(c, 400, "\"assignmentId\" must be the 24-hex "
				   "\"_id\" that POST /bored answered");
			return;
		}
		if (s < 0)
			tok[0] = '\0';
	}
	json_release(&j);
	if (rc == -ENOENT) {
		http_error(c, 400, "the outcome needs a string \"jobId\"");
		return;
	}
	if (rc < 0 || !id_valid(id)) {
		http_error(c, 404, "no job '%s'",
			   rc < 0 ? "(not a short string)" : printable(id, pr));
		return;
	}
	orders_callback(c, id, tok, att, failed);
}
