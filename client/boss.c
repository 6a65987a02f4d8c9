/*
 * boss: requests to spoold over libcurl's easy interface. One struct boss
 * per thread (a CURL handle is not shared), so each keeps its own
 * keep-alive connection. Replies are read into a buffer with a ceiling; a
 * cancellable request (a claim's long poll) is cut short by the caller's
 * stop flag through the progress callback; every other request runs to its
 * answer or its timeout. See boss.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "boss.h"
#include "json.h"

#define CONNECT_TIMEOUT_S 5L

struct req_ctx {
	struct boss *b;
	int cancellable;
	int over;
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct req_ctx *c = arg;

	/* past the ceiling the transfer stops: a short write aborts it */
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

/* status 0: no answer at all. down_since is on CLOCK_MONOTONIC, in ms. */
static void health_note(struct boss_health *h, long status)
{
	struct timespec ts;
	int64_t zero = 0;

	if (!h)
		return;
	if (status == 401 || status == 403)
		atomic_store(&h->denied, status);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (status == 0 || status >= 500)
		atomic_compare_exchange_strong(&h->down_since, &zero,
					       (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	else
		atomic_store(&h->down_since, 0);
}

int boss_init(struct boss *b, const char *url, const char *bearer,
	      const atomic_int *cancel, struct boss_health *health)
{
	struct curl_slist *h = NULL, *t;
	char auth[TOKEN_FILE_MAX + 32];

	memset(b, 0, sizeof(*b));
	b->url = url;
	b->bearer = bearer && bearer[0] ? bearer : NULL;
	b->cancel = cancel;
	b->health = health;
	buf_init(&b->reply, BOSS_REPLY_MAX);
	if (!(b->curl = curl_easy_init()))
		return -ENOMEM;
	/* spoold answers at once; no "100 Continue" round trip */
	if (!(t = curl_slist_append(h, "Expect:")))
		goto nomem;
	h = t;
	if (b->bearer) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", b->bearer);
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

/* The transport failure rc, in words that name the boss, into b->err. */
static int transport_error(struct boss *b, CURLcode rc, const char *cerr, long timeout_s,
			   const struct req_ctx *c)
{
	const char *why = cerr[0] ? cerr : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_ABORTED_BY_CALLBACK:
		snprintf(b->err, sizeof(b->err), "cancelled");
		return -ECANCELED;
	case CURLE_COULDNT_CONNECT:
		snprintf(b->err, sizeof(b->err), "cannot reach the boss at %s: %s", b->url, why);
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(b->err, sizeof(b->err), "the boss at %s did not answer within %ld s: %s",
			 b->url, timeout_s, why);
		return -ETIMEDOUT;
	case CURLE_WRITE_ERROR:
		if (c->over) {
			snprintf(b->err, sizeof(b->err),
				 "the answer of the boss at %s is larger than %zu bytes",
				 b->url, b->reply.max);
			return -E2BIG;
		}
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(b->err, sizeof(b->err), "cannot reach the boss at %s: %s", b->url, why);
		return -EIO;
	default:
		break;
	}
	snprintf(b->err, sizeof(b->err), "cannot talk to the boss at %s: %s", b->url, why);
	return -EIO;
}

int boss_request(struct boss *b, const char *method, const char *path,
		 const void *body, size_t len, long timeout_s, int cancellable)
{
	struct req_ctx c = { b, cancellable, 0 };
	char url[URL_BASE_MAX + 2048], cerr[CURL_ERROR_SIZE] = "";
	CURL *h = b->curl;
	CURLcode rc;

	buf_reset(&b->reply);
	b->status = 0;
	b->err[0] = '\0';
	if (url_join(b->url, path, url, sizeof(url)) < 0) {
		snprintf(b->err, sizeof(b->err), "the request's path is too long");
		return -ENAMETOOLONG;
	}
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, (struct curl_slist *)b->headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &c);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
			 timeout_s > 0 && timeout_s < CONNECT_TIMEOUT_S ? timeout_s : CONNECT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	if (!strcmp(method, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(body ? len : 0));
		if (strcmp(method, "POST"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	rc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &b->status);
	if (rc != CURLE_ABORTED_BY_CALLBACK && !c.over)
		health_note(b->health, rc == CURLE_OK ? b->status : 0);
	if (rc == CURLE_OK)
		return 0;
	return transport_error(b, rc, cerr, timeout_s, &c);
}

int boss_error(struct boss *b)
{
	char msg[300] = "";
	struct json j;
	int i;

	if (b->reply.len &&
	    json_parse(&j, b->reply.data, b->reply.len, 64, NULL, 0) == 0) {
		if (j.tok[0].type == JSMN_OBJECT && (i = json_get(&j, 0, "error")) >= 0 &&
		    json_str(&j, i, msg, sizeof(msg)) < 0)
			msg[0] = '\0';
		json_release(&j);
	}
	if (!msg[0] && b->reply.len) {
		/* not our JSON (a proxy's page?): its start, on one line */
		size_t k, n = b->reply.len < 200 ? b->reply.len : 200;

		for (k = 0; k < n; k++) {
			unsigned char ch = (unsigned char)b->reply.data[k];

			msg[k] = ch < 0x20 || ch >= 0x7f ? ' ' : (char)ch;
		}
		msg[n] = '\0';
	}
	snprintf(b->err, sizeof(b->err), "the boss at %s answered HTTP %ld%s%s", b->url,
		 b->status, msg[0] ? ": " : "", msg);
	return -EPROTO;
}
