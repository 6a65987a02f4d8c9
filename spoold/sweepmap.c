/*
 * sweepmap: which sweep each order belongs to, and the sweep table (issue
 * 14): each sweep's counts per state, its throughput, and its parameters
 * (which of them vary). sweeps.c answers GET /v1/sweeps from it; pages.c
 * filters the orders and results of one sweep with it.
 *
 * What makes it cheap is that a job never changes once stored: the sweep a
 * job belongs to, and its parameters, are read once per daemon life and
 * remembered by id (the id map, 24 bytes an order), and so is whether a
 * done run was pruned (stopped early: its outcome has "pruned"), read
 * once per claim that ended. After that a table
 * costs one walk of the state directories' names (readdir, no file
 * opened). Requests are answered from the table in memory; one older than a
 * second, or than 20 times what its last walk cost (3 s to walk a million
 * names: a table a minute), is remade in the background, on a reader of
 * disk.c like the rescans of watch.c, so the loop never waits for it.
 * Throughput is measured between successive tables (finished orders over
 * time, the last 10 minutes); the time left is what is queued or running
 * over that rate.
 *
 * The readers share the map and the table under m->mu; the background
 * walk is started and ended on the loop thread.
 *
 * Layer: 3 core
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweepmap.h"
#include "json.h"

#define SWEEPS_MAX	  4096		/* sweeps told apart; later ones count as none */
#define SWEEP_PARAMS_MAX  64		/* parameters followed per sweep */
#define PARAM_TEXT_MAX	  128		/* a parameter's value, as compared */
#define SWEEP_SAMPLES	  64		/* throughput samples kept per sweep */
#define RATE_WINDOW_MS	  (10 * 60 * 1000)
#define IDMAP_MAX	  (4u << 20)	/* ids remembered (64 MiB); past it, jobs are re-read */
#define TABLE_MIN_MS	  1000
#define BG_READ_MS	  3000		/* jobs read by one background walk, at most */

struct param {
	char name[64];
	char first[PARAM_TEXT_MAX];	/* the first job's value (raw JSON, cut) */
	long seen;			/* jobs that have it */
	int varying;			/* a second value was seen */
	int numeric;			/* every value seen is a number */
};

struct sample {
	int64_t ms;
	long finished;			/* done + failed + cancelled at ms */
};

struct sweep {
	char name[SPOOL_WORKER_MAX + 1];
	int named;			/* 0: the jobs without a "sweep" */
	long jobs;			/* jobs read into params */
	int nparams;
	struct param params[SWEEP_PARAMS_MAX];
	long counts[ST_COUNT];		/* as of the last table */
	long pruned;			/* of counts[ST_DONE], the runs stopped early */
	struct sample s[SWEEP_SAMPLES];
	int ns, s0;			/* ring: count, oldest */
};

struct idslot {
	unsigned char id[SPOOL_ID_LEN / 2];
	uint32_t sweep;			/* index + 1; 0 = empty slot */
	uint32_t done_tag;		/* the done claim read (a hash of its name), 0 none */
	uint32_t pruned;		/* its outcome says "pruned" */
};

void sweepmap_init(struct sweepmap *m, struct disk *disk)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->mu, NULL);
	pthread_mutex_init(&m->walk_mu, NULL);
	m->disk = disk;
}

void sweepmap_release(struct sweepmap *m)
{
	free(m->ids);
	free(m->sw);
	pthread_mutex_destroy(&m->mu);
	pthread_mutex_destroy(&m->walk_mu);
	m->ids = NULL;
	m->sw = NULL;
}

void sweepmap_stop(struct sweepmap *m)
{
	__atomic_store_n(&m->draining, 1, __ATOMIC_RELAXED);
}

/* ---- the id map ------------------------------------------------------------ */

static void id_bin(const char *hex, unsigned char out[SPOOL_ID_LEN / 2])
{
	int i;
	for (i = 0; i < SPOOL_ID_LEN / 2; i++)
		out[i] = (unsigned char)(hex_value(hex[2 * i]) << 4 |
					 hex_value(hex[2 * i + 1]));
}

static size_t id_hash(const unsigned char *id)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a: ids made in one process share a prefix */
	int i;
	for (i = 0; i < SPOOL_ID_LEN / 2; i++)
		h = (h ^ id[i]) * 1099511628211ULL;
	return (size_t)h;
}

/* Under mu: the sweep index of id, or -1. */
static int map_get(const struct sweepmap *m, const unsigned char *id)
{
	size_t i;
	if (!m->cap)
		return -1;
	for (i = id_hash(id) & (m->cap - 1); m->ids[i].sweep;
	     i = (i + 1) & (m->cap - 1))
		if (!memcmp(m->ids[i].id, id, sizeof(m->ids[i].id)))
			return (int)m->ids[i].sweep - 1;
	return -1;
}

/* Under mu: id's slot, or NULL. */
static struct idslot *map_slot(struct sweepmap *m, const unsigned char *id)
{
	size_t i;
	if (!m->cap)
		return NULL;
	for (i = id_hash(id) & (m->cap - 1); m->ids[i].sweep;
	     i = (i + 1) & (m->cap - 1))
		if (!memcmp(m->ids[i].id, id, sizeof(m->ids[i].id)))
			return &m->ids[i];
	return NULL;
}

static void map_insert(struct idslot *t, size_t cap, const struct idslot *v)
{
	size_t i = id_hash(v->id) & (cap - 1);
	while (t[i].sweep)
		i = (i + 1) & (cap - 1);
	t[i] = *v;
}

/* Under mu: remember id's sweep; quietly not when full (it is re-read). */
static void map_put(struct sweepmap *m, const unsigned char *id, int sweep)
{
	if (m->n >= IDMAP_MAX || map_get(m, id) >= 0)
		return;
	if ((m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 4096, i;
		struct idslot *t = calloc(cap, sizeof(*t));
		if (!t)
			return;
		for (i = 0; i < m->cap; i++)
			if (m->ids[i].sweep)
				map_insert(t, cap, &m->ids[i]);
		free(m->ids);
		m->ids = t;
		m->cap = cap;
	}
	{
		struct idslot v;
		memset(&v, 0, sizeof(v));
		memcpy(v.id, id, sizeof(v.id));
		v.sweep = (uint32_t)sweep + 1;
		map_insert(m->ids, m->cap, &v);
	}
	m->n++;
}

/* Under mu: the index of the sweep named name (NULL: none), made if new. */
static int sweep_slot(struct sweepmap *m, const char *name)
{
	size_t i;
	if (!m->nsw) {	/* index 0: the jobs without a sweep */
		if (!(m->sw = calloc(16, sizeof(*m->sw))))
			return -ENOMEM;
		m->capsw = 16;
		m->nsw = 1;
	}
	if (!name)
		return 0;
	for (i = 1; i < m->nsw; i++)
		if (!strcmp(m->sw[i].name, name))
			return (int)i;
	if (m->nsw >= SWEEPS_MAX)
		return 0;
	if (m->nsw == m->capsw) {
		struct sweep *n = realloc(m->sw, 2 * m->capsw * sizeof(*n));
		if (!n)
			return -ENOMEM;
		m->sw = n;
		m->capsw *= 2;
	}
	memset(&m->sw[m->nsw], 0, sizeof(m->sw[0]));
	snprintf(m->sw[m->nsw].name, sizeof(m->sw[0].name), "%s", name);
	m->sw[m->nsw].named = 1;
	return (int)m->nsw++;
}

int sweepmap_reserved(const struct json *j, int k)
{
	return json_eq(j, k, "_id") || json_eq(j, k, "sweep") ||
	       json_eq(j, k, "spool");
}

/* Under mu: fold one job's top-level members into its sweep's params. */
static void learn_params(struct sweep *w, const struct json *j)
{
	int k, i;
	w->jobs++;
	for (k = 1; k < j->ntok && j->tok[k].start < j->tok[0].end;
	     k = json_skip(j, k + 1)) {
		char name[64], text[PARAM_TEXT_MAX];
		size_t len;
		const char *raw;
		struct param *pa = NULL;
		int num;

		if (sweepmap_reserved(j, k) || json_str(j, k, name, sizeof(name)) < 0)
			continue;
		raw = json_raw(j, k + 1, &len);
		/* a string's text keeps a mark so that "1" and 1 differ */
		snprintf(text, sizeof(text), "%c%.*s",
			 j->tok[k + 1].type == JSMN_STRING ? 's' : 'v',
			 (int)(len < sizeof(text) - 2 ? len : sizeof(text) - 2), raw);
		num = j->tok[k + 1].type == JSMN_PRIMITIVE &&
		      (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'));
		for (i = 0; i < w->nparams; i++)
			if (!strcmp(w->params[i].name, name))
				pa = &w->params[i];
		if (!pa) {
			if (w->nparams >= SWEEP_PARAMS_MAX)
				continue;
			pa = &w->params[w->nparams++];
			memcpy(pa->name, name, sizeof(name));
			memcpy(pa->first, text, sizeof(text));
			pa->numeric = num;
			pa->varying = 0;
			pa->seen = 0;
		} else if (strcmp(pa->first, text)) {
			pa->varying = 1;
		}
		pa->numeric &= num;
		pa->seen++;
	}
}

/*
 * The sweep index of order id: remembered, or (may_read) read from its job
 * once, its parameters learnt then; -1 when not known and !may_read. A job
 * that cannot be read counts as no sweep.
 */
static int sweep_known(struct sweepmap *m, struct spool *sp, const char *hexid,
		       struct buf *job, int may_read)
{
	unsigned char id[SPOOL_ID_LEN / 2];
	char name[SPOOL_WORKER_MAX + 1];
	struct json j;
	int have = 0, s, named = 0;

	id_bin(hexid, id);
	pthread_mutex_lock(&m->mu);
	s = map_get(m, id);
	pthread_mutex_unlock(&m->mu);
	if (s >= 0 || !may_read)
		return s;
	buf_reset(job);
	if (spool_read_job(sp, hexid, job) == 0 && job->data &&
	    json_parse(&j, job->data, job->len, JSON_TOKENS_MAX, NULL, 0) == 0) {
		have = j.tok[0].type == JSMN_OBJECT;
		named = have && json_str(&j, json_get(&j, 0, "sweep"), name,
					 sizeof(name)) == 0;
		if (!have)
			json_release(&j);
	}
	pthread_mutex_lock(&m->mu);
	s = sweep_slot(m, named ? name : NULL);
	if (s >= 0 && map_get(m, id) < 0) {	/* (a reader may have just learnt it) */
		if (have)
			learn_params(&m->sw[s], &j);
		map_put(m, id, s);
	}
	pthread_mutex_unlock(&m->mu);
	if (have)
		json_release(&j);
	return s < 0 ? 0 : s;
}

int sweepmap_of(struct sweepmap *m, struct spool *sp, const char *hexid,
		struct buf *job)
{
	return sweep_known(m, sp, hexid, job, 1);
}

int sweepmap_is(struct sweepmap *m, int s, const char *name)
{
	int is;
	pthread_mutex_lock(&m->mu);
	is = s > 0 && (size_t)s < m->nsw && m->sw[s].named &&
	     !strcmp(m->sw[s].name, name);
	pthread_mutex_unlock(&m->mu);
	return is;
}

/* ---- the table ---------------------------------------------------------------- */

/*
 * The table is made by walking every state's names. Each walk reads the
 * jobs it does not know for a budget at most (a million cold jobs take a
 * minute or more, and a reader is not to be kept that long); the orders
 * left are counted as "unread", and a table with unread orders is stale,
 * so the next request starts another walk, which goes on reading: the
 * table converges in a few walks.
 */
struct table_walk {
	struct sweepmap *m;
	struct spool *sp;
	struct buf job;
	long (*cnt)[ST_COUNT + 1];	/* [ST_COUNT]: pruned, of done */
	size_t ncnt;
	long unread;
	int64_t read_until, read_ms;	/* the budget; time spent reading */
	int err;
};

/* A name's hash, never 0: which claim of an order was read. */
static uint32_t name_tag(const char *name)
{
	uint32_t h = 2166136261u;
	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h ? h : 1;
}

/* 1 if the outcome of done order o says "pruned" (not false or null). */
static int outcome_pruned(struct spool *sp, const struct order *o, struct buf *b)
{
	struct json j;
	int t, p = 0;
	buf_reset(b);
	if (spool_read_outcome(sp, o, b) < 0 || !b->data ||
	    json_parse(&j, b->data, b->len, JSON_TOKENS_MAX, NULL, 0) < 0)
		return 0;
	if (j.tok[0].type == JSMN_OBJECT && (t = json_get(&j, 0, "pruned")) >= 0)
		p = !json_eq(&j, t, "false") && !json_eq(&j, t, "null");
	json_release(&j);
	return p;
}

/* Whether done order o was pruned: remembered for its claim, or read
 * within the walk's budget (past it: 0 now, and the table counts it
 * unread). */
static int done_pruned(struct table_walk *tw, const struct order *o)
{
	unsigned char id[SPOOL_ID_LEN / 2];
	uint32_t tag = name_tag(o->file);
	struct idslot *sl;
	int64_t t0;
	int p = -1;

	id_bin(o->n.id, id);
	pthread_mutex_lock(&tw->m->mu);
	sl = map_slot(tw->m, id);
	if (sl && sl->done_tag == tag)
		p = (int)sl->pruned;
	pthread_mutex_unlock(&tw->m->mu);
	if (p >= 0)
		return p;
	t0 = now_ms();
	if (t0 >= tw->read_until) {
		tw->unread++;
		return 0;
	}
	p = outcome_pruned(tw->sp, o, &tw->job);
	tw->read_ms += now_ms() - t0;
	pthread_mutex_lock(&tw->m->mu);
	if ((sl = map_slot(tw->m, id))) {
		sl->done_tag = tag;
		sl->pruned = (uint32_t)p;
	}
	pthread_mutex_unlock(&tw->m->mu);
	return p;
}

static int table_visit(void *arg, const struct order *o)
{
	struct table_walk *tw = arg;
	int s = sweep_known(tw->m, tw->sp, o->n.id, &tw->job, 0);

	if (__atomic_load_n(&tw->m->draining, __ATOMIC_RELAXED))
		return 1;
	if (s < 0) {
		int64_t t0 = now_ms();
		if (t0 >= tw->read_until) {
			tw->unread++;
			return 0;
		}
		s = sweep_known(tw->m, tw->sp, o->n.id, &tw->job, 1);
		tw->read_ms += now_ms() - t0;
	}
	if ((size_t)s >= tw->ncnt) {
		size_t n = (size_t)s + 64;
		long (*c)[ST_COUNT + 1] = realloc(tw->cnt, n * sizeof(*c));
		if (!c) {
			tw->err = -ENOMEM;
			return 1;
		}
		memset(c + tw->ncnt, 0, (n - tw->ncnt) * sizeof(*c));
		tw->cnt = c;
		tw->ncnt = n;
	}
	tw->cnt[s][o->state]++;
	if (o->state == ST_DONE && done_pruned(tw, o) == 1)
		tw->cnt[s][ST_COUNT]++;
	return 0;
}

/* Under mu: publish a walk's counts (and a throughput sample) as the table. */
static void table_publish(struct sweepmap *m, struct table_walk *tw,
			  int64_t t0, int64_t t1)
{
	size_t i;
	int st;
	for (i = 0; i < m->nsw; i++) {
		struct sweep *w = &m->sw[i];
		struct sample *sm;
		for (st = 0; st < ST_COUNT; st++)
			w->counts[st] = i < tw->ncnt ? tw->cnt[i][st] : 0;
		w->pruned = i < tw->ncnt ? tw->cnt[i][ST_COUNT] : 0;
		if (tw->unread) {
			/* counts still grow as jobs are learnt: no rate */
			w->ns = 0;
			continue;
		}
		if (w->ns == SWEEP_SAMPLES) {
			w->s0 = (w->s0 + 1) % SWEEP_SAMPLES;
			w->ns--;
		}
		sm = &w->s[(w->s0 + w->ns++) % SWEEP_SAMPLES];
		sm->ms = t1;
		sm->finished = w->counts[ST_DONE] + w->counts[ST_FAILED] +
			       w->counts[ST_CANCELLED];
	}
	m->table_ms = t1;
	/* the period follows what walking names costs: reading new jobs is
	 * apart, and ends once they are known */
	m->cost_ms = t1 - t0 - tw->read_ms;
	m->unread = tw->unread;
	m->have_table = 1;
	m->walks++;
}

/* Walk every state and publish the table (unless stopped). 0 or errno. */
static int table_walk(struct sweepmap *m, struct spool *sp, int64_t read_ms)
{
	struct table_walk tw;
	int64_t t0 = now_ms();
	int st, rc = 0;

	memset(&tw, 0, sizeof(tw));
	tw.m = m;
	tw.sp = sp;
	pthread_mutex_lock(&m->walk_mu);
	tw.read_until = t0 + read_ms;
	buf_init(&tw.job, (SPOOL_JOB_MAX > SPOOL_OUTCOME_MAX ? SPOOL_JOB_MAX :
			   SPOOL_OUTCOME_MAX) + 2);
	for (st = 0; st < ST_COUNT && rc == 0 && !tw.err; st++)
		rc = spool_scan(sp, st, table_visit, &tw);
	buf_release(&tw.job);
	if (rc == 0 && tw.err)
		rc = tw.err;
	if (rc == 0) {
		pthread_mutex_lock(&m->mu);
		table_publish(m, &tw, t0, now_ms());
		pthread_mutex_unlock(&m->mu);
	}
	free(tw.cnt);
	pthread_mutex_unlock(&m->walk_mu);
	return rc > 0 ? 0 : rc;
}

int sweepmap_ensure(struct sweepmap *m, struct spool *sp, int64_t read_ms)
{
	int have;
	pthread_mutex_lock(&m->mu);
	have = m->have_table;
	pthread_mutex_unlock(&m->mu);
	return have ? 0 : table_walk(m, sp, read_ms);
}

/* Under mu: 1 when the table is older than its period. */
static int table_stale(const struct sweepmap *m, int64_t now)
{
	int64_t period = 20 * m->cost_ms > TABLE_MIN_MS ? 20 * m->cost_ms :
		TABLE_MIN_MS;
	return now - m->table_ms >= period;
}

/* ---- the background walk -------------------------------------------------------- */

static void run_bg(struct op *op, struct spool *sp)
{
	struct sweepmap *m = container_of(op, struct sweepmap, bg);
	table_walk(m, sp, BG_READ_MS);
}

static void done_bg(struct op *op)
{
	container_of(op, struct sweepmap, bg)->bg_running = 0;
}

void sweepmap_refresh(struct sweepmap *m)
{
	if (m->bg_running || m->draining)
		return;
	memset(&m->bg, 0, sizeof(m->bg));
	m->bg.kind = OP_READ;
	m->bg.run = run_bg;
	m->bg.done = done_bg;
	m->bg_running = 1;
	disk_submit(m->disk, &m->bg);
}

/* ---- the listing ------------------------------------------------------------------ */

/* Under mu: finished orders per minute over the window, or -1 unknown. */
static double sweep_rate(const struct sweep *w)
{
	const struct sample *last, *old = NULL;
	int i;
	if (w->ns < 2)
		return -1;
	last = &w->s[(w->s0 + w->ns - 1) % SWEEP_SAMPLES];
	for (i = 0; i < w->ns - 1; i++) {
		const struct sample *s = &w->s[(w->s0 + i) % SWEEP_SAMPLES];
		if (last->ms - s->ms <= RATE_WINDOW_MS) {
			old = s;
			break;
		}
	}
	if (!old || last->ms <= old->ms)
		return -1;
	return (double)(last->finished - old->finished) * 60000.0 /
	       (double)(last->ms - old->ms);
}

/* The unnamed sweep first, then by name (qsort has no argument: a table). */
static int name_cmp(const void *a, const void *b)
{
	const struct sweep *x = *(const struct sweep *const *)a;
	const struct sweep *y = *(const struct sweep *const *)b;
	if (x->named != y->named)
		return x->named - y->named;
	return strcmp(x->name, y->name);
}

static void sweep_json(const struct sweep *w, struct buf *b)
{
	long t = 0, left;
	double rate;
	int st, p;

	buf_puts(b, "{\"name\": ");
	if (w->named)
		buf_json_str(b, w->name, strlen(w->name));
	else
		buf_puts(b, "null");
	buf_puts(b, ", \"counts\": {");
	for (st = 0; st < ST_COUNT; st++) {
		/* done counts the runs not pruned, as the leaderboard does */
		buf_printf(b, "%s\"%s\": %ld", st ? ", " : "", spool_state_name(st),
			   w->counts[st] - (st == ST_DONE ? w->pruned : 0));
		t += w->counts[st];
	}
	buf_printf(b, ", \"pruned\": %ld", w->pruned);
	left = w->counts[ST_NEW] + w->counts[ST_ASSIGNED];
	rate = sweep_rate(w);
	buf_printf(b, "}, \"total\": %ld, \"perMinute\": ", t);
	if (rate < 0)
		buf_puts(b, "null, \"etaS\": null");
	else if (!left)
		buf_printf(b, "%.3f, \"etaS\": 0", rate);
	else if (rate <= 0)
		buf_printf(b, "%.3f, \"etaS\": null", rate);
	else
		buf_printf(b, "%.3f, \"etaS\": %.0f", rate, left * 60.0 / rate);
	buf_puts(b, ", \"params\": [");
	for (p = 0; p < w->nparams; p++) {
		const struct param *pa = &w->params[p];
		buf_puts(b, p ? ", {\"name\": " : "{\"name\": ");
		buf_json_str(b, pa->name, strlen(pa->name));
		buf_printf(b, ", \"varying\": %s, \"numeric\": %s}",
			   pa->varying || pa->seen != w->jobs ? "true" : "false",
			   pa->numeric ? "true" : "false");
	}
	buf_puts(b, "]}");
}

int sweepmap_json(struct sweepmap *m, const char *after, int limit,
		  struct buf *b, int *stale)
{
	const struct sweep **order = NULL;
	char when[32];
	int n = 0, i, st, emitted = 0, more = 0;

	pthread_mutex_lock(&m->mu);
	*stale = m->unread || table_stale(m, now_ms());
	if (m->nsw && !(order = malloc(m->nsw * sizeof(*order)))) {
		pthread_mutex_unlock(&m->mu);
		return -ENOMEM;
	}
	for (i = 0; i < (int)m->nsw; i++) {
		long t = 0;
		for (st = 0; st < ST_COUNT; st++)
			t += m->sw[i].counts[st];
		if (t)
			order[n++] = &m->sw[i];
	}
	if (n)	/* (order is NULL before any job was seen) */
		qsort(order, (size_t)n, sizeof(*order), name_cmp);
	iso_time(m->table_ms, when);
	buf_printf(b, "{\"asOf\": \"%s\", \"ageMs\": %lld, \"walkMs\": %lld, "
		   "\"unread\": %ld, \"sweeps\": [", when,
		   (long long)(now_ms() - m->table_ms), (long long)m->cost_ms,
		   m->unread);
	for (i = 0; i < n; i++) {
		/* the cursor: names after it (the unnamed sort first) */
		if (after && (!order[i]->named || strcmp(order[i]->name, after) <= 0))
			continue;
		if (emitted == limit) {
			more = 1;
			break;
		}
		buf_puts(b, emitted++ ? ",\n  " : "\n  ");
		sweep_json(order[i], b);
	}
	buf_puts(b, "],\n \"next\": ");
	if (more && emitted) {
		const struct sweep *w = order[i - 1];
		if (w->named)
			buf_json_str(b, w->name, strlen(w->name));
		else
			buf_puts(b, "\"\"");
	} else {
		buf_puts(b, "null");
	}
	buf_puts(b, "}\n");
	pthread_mutex_unlock(&m->mu);
	free(order);
	return 0;
}
