/*
 * boss: the runner's own calls of spoold's /v1 API, a claim's long poll and
 * a heartbeat, made through the one HTTP client (client/boss.c), which
 * every other request of the runner uses directly.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "runner.h"

static int get_int(const struct json *j, int obj, const char *key, int64_t *v)
{
	int i = json_get(j, obj, key);

	if (i < 0 || j->tok[i].type != JSMN_PRIMITIVE)
		return -ENOENT;
	return json_int(j, i, v);
}

int boss_claim(struct boss *b, const char *worker, const char *tags,
	       int wait_s, int lease_s, struct task *t)
{
	char path[1024], lease[32] = "";
	struct json j;
	int64_t v;
	int r, i, o;

	if (lease_s > 0)
		snprintf(lease, sizeof(lease), "&lease=%d", lease_s);
	snprintf(path, sizeof(path), "/v1/claim?worker=%s&wait=%d%s%s%s", worker,
		 wait_s, tags && *tags ? "&tags=" : "", tags ? tags : "", lease);
	if ((r = boss_request(b, "POST", path, NULL, 0, wait_s + 15, 1)) < 0)
		return r;
	if (b->status == 204)
		return -EAGAIN;
	if (b->status != 200)
		return boss_error(b);
	if (json_parse(&j, b->reply.data, b->reply.len, JSON_TOKENS_MAX, NULL, 0) < 0 ||
	    j.tok[0].type != JSMN_OBJECT) {
		snprintf(b->err, sizeof(b->err), "claim: the reply is not a JSON object");
		return -EPROTO;
	}
	r = -EPROTO;
	t->id[0] = t->token[0] = t->job_err[0] = '\0';
	if ((o = json_get(&j, 0, "order")) >= 0 && j.tok[o].type == JSMN_OBJECT &&
	    (i = json_get(&j, o, "_id")) >= 0)
		json_str(&j, i, t->id, sizeof(t->id));
	if (!t->id[0] && (o = json_get(&j, 0, "job")) >= 0 &&
	    j.tok[o].type == JSMN_OBJECT && (i = json_get(&j, o, "_id")) >= 0)
		json_str(&j, i, t->id, sizeof(t->id));
	if ((i = json_get(&j, 0, "token")) >= 0)
		json_str(&j, i, t->token, sizeof(t->token));
	if (!id_valid(t->id) || !token_valid(t->token)) {
		snprintf(b->err, sizeof(b->err), "claim: no valid order id or token");
		goto out;
	}
	t->attempt = get_int(&j, 0, "attempt", &v) == 0 ? (int)v : 1;
	t->deadline_ms = get_int(&j, 0, "leaseDeadlineMs", &v) == 0 ? v : 0;
	t->timeout_s = get_int(&j, 0, "timeout", &v) == 0 && v > 0 && v < (1 << 30)
		       ? (int)v : 0;
	if ((i = json_get(&j, 0, "job")) < 0 || j.tok[i].type != JSMN_OBJECT) {
		snprintf(b->err, sizeof(b->err), "claim: no job in the reply");
		goto out;
	}
	buf_reset(&t->job);
	if ((r = json_append_raw(&j, i, &t->job)) < 0)
		goto out;
	r = 0;
out:
	json_release(&j);
	return r;
}

int boss_heartbeat(struct boss *b, struct task *t, int lease_s)
{
	char path[256], lease[32] = "";
	struct json j;
	int64_t v;
	int r;

	if (lease_s > 0)
		snprintf(lease, sizeof(lease), "&lease=%d", lease_s);
	snprintf(path, sizeof(path), "/v1/orders/%s/heartbeat?token=%s%s", t->id,
		 t->token, lease);
	if ((r = boss_request(b, "POST", path, NULL, 0, 10, 0)) < 0)
		return r;
	if (b->status == 409 || b->status == 404) {
		boss_error(b);
		return -ESTALE;
	}
	if (b->status != 200)
		return boss_error(b);
	if (json_parse(&j, b->reply.data, b->reply.len, 256, NULL, 0) == 0) {
		if (j.tok[0].type == JSMN_OBJECT &&
		    get_int(&j, 0, "leaseDeadlineMs", &v) == 0)
			t->deadline_ms = v;
		json_release(&j);
	}
	return 0;
}
