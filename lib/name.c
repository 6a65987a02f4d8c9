/*
 * name: ids, claim tokens, times, and order file names.
 *
 * The name of an order file carries all of the order's changing state
 * (priority, due time, attempts, the claim), so that every state change is
 * one rename and a claimer needs only readdir and a sort. The exact grammar
 * is in spool-layout.md ("Order file names").
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"

static const char *const state_names[ST_COUNT] = {
	"new", "assigned", "held", "done", "failed", "cancelled"
};

const char *spool_state_name(enum spool_state st)
{
	return (unsigned)st < ST_COUNT ? state_names[st] : "?";
}

int spool_state_parse(const char *s)
{
	int i;

	for (i = 0; i < ST_COUNT; i++)
		if (strcmp(s, state_names[i]) == 0)
			return i;
	return -1;
}

static int all_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == '\0';
}

int id_valid(const char *s)
{
	return s && strlen(s) == SPOOL_ID_LEN && all_hex(s, SPOOL_ID_LEN);
}

int token_valid(const char *s)
{
	return s && strlen(s) == SPOOL_TOKEN_LEN && all_hex(s, SPOOL_TOKEN_LEN);
}

static int word_valid(const char *s, size_t max, const char *extra)
{
	size_t i, n;

	if (!s || !*s || (n = strlen(s)) > max || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr(extra, c)))
			return 0;
	}
	return 1;
}

int worker_valid(const char *s)
{
	return word_valid(s, SPOOL_WORKER_MAX, "_.-");
}

int tag_valid(const char *s)
{
	return word_valid(s, SPOOL_TAG_MAX, "_.:-");
}

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void iso_time(int64_t ms, char out[32])
{
	time_t t;
	struct tm tm;

	if (ms < 0)
		ms = 0;
	t = (time_t)(ms / 1000);
	gmtime_r(&t, &tm);
	/* widths are exact for years 0..9999, which is all a name can hold */
	snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
		 (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
		 (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
		 (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u,
		 (unsigned)(ms % 1000) % 1000u);
}

int iso_parse(const char *s, int64_t *ms)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0, frac = 0;
	const char *p;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
		return -EINVAL;
	p = s + n;
	if (*p == '.') {
		int digs = 0;

		for (p++; *p >= '0' && *p <= '9'; p++, digs++)
			if (digs < 3)
				frac = frac * 10 + (*p - '0');
		if (digs == 0)
			return -EINVAL;
		for (; digs < 3; digs++)
			frac *= 10;
	}
	if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*ms = (int64_t)timegm(&tm) * 1000 + frac;
	return 0;
}

static void random_bytes(void *p, size_t n)
{
	ssize_t r = getrandom(p, n, 0);

	if (r != (ssize_t)n) {
		/* no entropy source: fall back on something still unique-ish */
		uint64_t x = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)p;
		size_t i;

		for (i = 0; i < n; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			((unsigned char *)p)[i] = (unsigned char)(x >> 56);
		}
	}
}

/*
 * Per-process id state: the counter starts at a random 48-bit value so that
 * two processes that start in the same millisecond still differ. A forked
 * child must not continue its parent's sequence: we notice the pid change.
 */
static struct {
	pid_t pid;
	int64_t last_ms;
	uint64_t counter;
} idgen;
static pthread_mutex_t idgen_lock = PTHREAD_MUTEX_INITIALIZER;

void id_new(char out[SPOOL_ID_LEN + 1])
{
	int64_t ms = now_ms();
	pid_t pid = getpid();

	/* spoold's writer and readers may make ids at once */
	pthread_mutex_lock(&idgen_lock);
	if (idgen.pid != pid) {
		idgen.pid = pid;
		random_bytes(&idgen.counter, sizeof(idgen.counter));
		idgen.last_ms = 0;
	}
	if (ms < idgen.last_ms)	/* the clock stepped back: keep ids increasing */
		ms = idgen.last_ms;
	idgen.last_ms = ms;
	idgen.counter = (idgen.counter + 1) & UINT64_C(0xffffffffffff);
	snprintf(out, SPOOL_ID_LEN + 1, "%012" PRIx64 "%012" PRIx64,
		 (uint64_t)ms & UINT64_C(0xffffffffffff), idgen.counter);
	pthread_mutex_unlock(&idgen_lock);
}

void token_new(char out[SPOOL_TOKEN_LEN + 1])
{
	uint64_t x;

	do {
		random_bytes(&x, sizeof(x));
		snprintf(out, SPOOL_TOKEN_LEN + 1, "%016" PRIx64, x);
	} while (token_is_seed(out));	/* that prefix marks seed claims */
}

void token_new_seed(char out[SPOOL_TOKEN_LEN + 1])
{
	uint64_t x;

	random_bytes(&x, sizeof(x));
	snprintf(out, SPOOL_TOKEN_LEN + 1, "%s%012" PRIx64, SPOOL_SEED_TOKEN_PREFIX,
		 (uint64_t)(x & 0xffffffffffffULL));
}

void assignment_id(const struct order *o, char out[SPOOL_ID_LEN + 1])
{
	snprintf(out, SPOOL_ID_LEN + 1, "%.16s%08x", o->n.token, (unsigned)o->n.attempt);
}

int assignment_parse(const char *aid, char token[SPOOL_TOKEN_LEN + 1], int *attempt)
{
	if (!id_valid(aid))
		return -EINVAL;
	memcpy(token, aid, SPOOL_TOKEN_LEN);
	token[SPOOL_TOKEN_LEN] = '\0';
	*attempt = (int)strtol(aid + SPOOL_TOKEN_LEN, NULL, 16);
	return 0;
}

int token_is_seed(const char *t)
{
	return strncmp(t, SPOOL_SEED_TOKEN_PREFIX, strlen(SPOOL_SEED_TOKEN_PREFIX)) == 0;
}

/* Parse exactly n decimal digits. */
static int dec(const char *s, size_t n, int64_t *out)
{
	size_t i;
	int64_t v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * PPPP.DDDDDDDDDDDDD.S(24).I(24).AAA.F[.LLLLLLLLLLLLL.T(16).WORKER]
 * PPPP is 1000 - priority (0000..2000) so that higher priorities sort first.
 */
#define Q_LEN (4 + 1 + 13 + 1 + 24 + 1 + 24 + 1 + 3 + 1 + 1)

int name_parse(const char *s, struct order_name *n)
{
	size_t len = strlen(s);
	int64_t v;

	memset(n, 0, sizeof(*n));
	if (len < Q_LEN || len >= SPOOL_NAME_MAX)
		return -EINVAL;
	if (s[4] != '.' || s[18] != '.' || s[43] != '.' || s[68] != '.' || s[72] != '.')
		return -EINVAL;
	if (dec(s, 4, &v) < 0 || v > 2000)
		return -EINVAL;
	n->priority = (int)(1000 - v);
	if (dec(s + 5, 13, &n->due) < 0)
		return -EINVAL;
	memcpy(n->stamp, s + 19, 24);
	memcpy(n->id, s + 44, 24);
	if (!id_valid(n->stamp) || !id_valid(n->id))
		return -EINVAL;
	if (dec(s + 69, 3, &v) < 0)
		return -EINVAL;
	n->attempt = (int)v;
	if (s[73] == 't')
		n->tagged = 1;
	else if (s[73] != '-')
		return -EINVAL;
	if (len == Q_LEN)
		return 0;
	/* claimed form */
	if (len < Q_LEN + 1 + 13 + 1 + 16 + 2 || s[74] != '.' || s[88] != '.' || s[105] != '.')
		return -EINVAL;
	if (dec(s + 75, 13, &n->deadline) < 0)
		return -EINVAL;
	memcpy(n->token, s + 89, 16);
	if (!token_valid(n->token))
		return -EINVAL;
	if (!worker_valid(s + 106))
		return -EINVAL;
	strcpy(n->worker, s + 106);
	n->claimed = 1;
	return 0;
}

int name_format(const struct order_name *n, char *out, size_t cap)
{
	int r;

	if (n->priority < SPOOL_PRIORITY_MIN || n->priority > SPOOL_PRIORITY_MAX ||
	    n->due < 0 || n->due > 9999999999999LL || n->attempt < 0 ||
	    n->attempt > SPOOL_ATTEMPTS_MAX || !id_valid(n->stamp) || !id_valid(n->id))
		return -EINVAL;
	if (!n->claimed)
		r = snprintf(out, cap, "%04d.%013" PRId64 ".%s.%s.%03d.%c",
			     1000 - n->priority, n->due, n->stamp, n->id,
			     n->attempt, n->tagged ? 't' : '-');
	else {
		if (n->deadline < 0 || n->deadline > 9999999999999LL ||
		    !token_valid(n->token) || !worker_valid(n->worker))
			return -EINVAL;
		r = snprintf(out, cap, "%04d.%013" PRId64 ".%s.%s.%03d.%c.%013" PRId64 ".%s.%s",
			     1000 - n->priority, n->due, n->stamp, n->id,
			     n->attempt, n->tagged ? 't' : '-', n->deadline,
			     n->token, n->worker);
	}
	if (r < 0 || (size_t)r >= cap)
		return -EINVAL;
	return 0;
}
