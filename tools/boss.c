/*
 * boss: spoolctl's HTTP client for spoold. See boss.h.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "boss.h"

static size_t take(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	/* past the ceiling the transfer stops: a short write aborts it */
	return buf_add(b, p, size * n) < 0 ? 0 : size * n;
}

int boss_request(const char *url, const char *method, const char *path,
		 const char *body, size_t len, const char *token,
		 struct buf *resp, long *status, char *err, size_t errlen)
{
	char full[2048], auth[600];
	struct curl_slist *h = NULL;
	CURL *c;
	CURLcode rc;

	snprintf(full, sizeof(full), "%s%s", url, path);
	buf_reset(resp);
	*status = 0;
	if (!(c = curl_easy_init())) {
		snprintf(err, errlen, "cannot start libcurl");
		return -EIO;
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	if (token && *token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	curl_easy_setopt(c, CURLOPT_URL, full);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	else
		snprintf(err, errlen, "%s: %s", full, curl_easy_strerror(rc));
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc == CURLE_OK ? 0 : -EIO;
}
