/*
 * boss: the runner's side of spoold's /v1 API, over libcurl's easy
 * interface. One struct boss per thread (a CURL handle is not shared), so
 * each keeps its own keep-alive connection. Replies are read into a buffer
 * with a ceiling; a long-poll claim can be cut short by the runner's
 * shutdown flag through the progress callback; every other request runs to
 * its answer or its timeout.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "json.h"
#include "runner.h"

struct req_ctx {
	struct boss *b;
	int cancellable;
	int over;
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct req_ctx *c = arg;

	if (buf_add(&c->b->reply, p, sz * n) < 0) {
		c->over = 1;
		return 0;
	}
	return sz * n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	struct req_ctx *c = arg;

	return c->cancellable && c->b->cancel && atomic_load(c->b->cancel);
}

/* status 0: no answer at all. */
static void health_note(struct boss_health *h, long status)
{
	int64_t zero = 0;

	if (!h)
		return;
	if (status == 401 || status == 403)
		atomic_store(&h->denied, status);
	if (status == 0 || status >= 500)
		atomic_compare_exchange_strong(&h->down_since, &zero, mono_ms());
	else
		atomic_store(&h->down_since, 0);
}

int boss_init(struct boss *b, const char *url, const char *bearer,
	      const atomic_int *cancel, struct boss_health *health)
{
	struct curl_slist *h = NULL, *t;
	char auth[512];

	memset(b, 0, sizeof(*b));
	b->url = url;
	b->bearer = bearer;
	b->cancel = cancel;
	b->health = health;
	buf_init(&b->reply, BOSS_REPLY_MAX);
	if (!(b->curl = curl_easy_init()))
		return -ENOMEM;
	/* spoold answers at once; no "100 Continue" round trip */
	if (!(t = curl_slist_append(h, "Expect:")))
		goto nomem;
	h = t;
	if (bearer) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
		if (!(t = curl_slist_append(h, auth)))
			goto nomem;
		h = t;
	}
	b->headers = h;
	return 0;
nomem:
	curl_slist_free_all(h);
	curl_easy_cleanup(b->curl);
	b->curl = NULL;
	return -ENOMEM;
}

void boss_release(struct boss *b)
{
	if (b->curl)
		curl_easy_cleanup(b->curl);
	curl_slist_free_all(b->headers);
	buf_release(&b->reply);
	b->curl = NULL;
	b->headers = NULL;
}

int boss_request(struct boss *b, const char *method, const char *path,
		 const void *body, size_t len, long timeout_s, int cancellable)
{
	struct req_ctx c = { b, cancellable, 0 };
	CURL *h = b->curl;
	CURLcode rc;
	char url[2048];

	if ((size_t)snprintf(url, sizeof(url), "%s%s", b->url, path) >= sizeof(url))
		return -ENAMETOOLONG;
	buf_reset(&b->reply);
	b->status = 0;
	b->err[0] = '\0';
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, (struct curl_slist *)b->headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &c);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, b->err);
	if (!strcmp(method, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(body ? len : 0));
	}
	rc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &b->status);
	if (rc != CURLE_ABORTED_BY_CALLBACK && !c.over)
		health_note(b->health, rc == CURLE_OK ? b->status : 0);
	if (rc == CURLE_OK)
		return 0;
	if (!b->err[0])
		snprintf(b->err, sizeof(b->err), "%s", curl_easy_strerror(rc));
	switch (rc) {
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_WRITE_ERROR:
		if (c.over) {
			snprintf(b->err, sizeof(b->err), "reply larger than %zu bytes",
				 b->reply.max);
			return -E2BIG;
		}
		return -EIO;
	default:
		return -EIO;
	}
}

/* The "error" of an error reply, or the status, into b->err. */
static int http_error(struct boss *b)
{
	struct json j;
	int i;

	snprintf(b->err, sizeof(b->err), "HTTP %ld", b->status);
	if (b->reply.len &&
	    json_parse(&j, b->reply.data, b->reply.len, 64, NULL, 0) == 0) {
		char msg[200];

		if (j.tok[0].type == JSMN_OBJECT &&
		    (i = json_get(&j, 0, "error")) >= 0 &&
		    json_str(&j, i, msg, sizeof(msg)) == 0)
			snprintf(b->err, sizeof(b->err), "HTTP %ld: %s", b->status, msg);
		json_release(&j);
	}
	return -EPROTO;
}

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
		return http_error(b);
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
		http_error(b);
		return -ESTALE;
	}
	if (b->status != 200)
		return http_error(b);
	if (json_parse(&j, b->reply.data, b->reply.len, 256, NULL, 0) == 0) {
		if (j.tok[0].type == JSMN_OBJECT &&
		    get_int(&j, 0, "leaseDeadlineMs", &v) == 0)
			t->deadline_ms = v;
		json_release(&j);
	}
	return 0;
}
