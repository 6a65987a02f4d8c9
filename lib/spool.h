/*
 * spool: the job queue as a directory. One copy of every rule, linked by
 * spoold, runner and the tools. spool-layout.md is the normative description
 * of the on-disk format; this header is the C contract over it.
 *
 * Conventions: int functions return 0 (or a documented positive value) or a
 * negative errno; the library never prints and never exits. When a call fails
 * for a reason a person should read, spool_error(sp) says it in words.
 *
 * A struct spool is not thread-safe: use it from one thread at a time.
 */
#ifndef SPOOL_SPOOL_H
#define SPOOL_SPOOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* ---- sizes and patterns ------------------------------------------------ */

#define SPOOL_ID_LEN	  24		/* [0-9a-f]{24} */
#define SPOOL_TOKEN_LEN	  16		/* [0-9a-f]{16} */
#define SPOOL_WORKER_MAX  64		/* [A-Za-z0-9_.-]{1,64}, no leading . or - */
#define SPOOL_TAG_MAX	  32		/* [A-Za-z0-9_.:-]{1,32} */
#define SPOOL_TAGS_MAX	  16		/* tags a job may require / a worker have */
#define SPOOL_NAME_MAX	  256		/* any order file name */
#define SPOOL_JOB_MAX	  (1 << 20)	/* a job document, bytes */
#define SPOOL_OUTCOME_MAX (1 << 20)	/* an outcome document, bytes */
#define SPOOL_WORKER_DOC_MAX (64 << 10)	/* a worker record, bytes */
#define SPOOL_ATTEMPTS_MAX 999
#define SPOOL_PRIORITY_MIN (-1000)
#define SPOOL_PRIORITY_MAX 1000

/* Defaults for job options a job does not set (spool-layout.md, "Job options"). */
#define SPOOL_DEF_MAX_ATTEMPTS 3
#define SPOOL_DEF_LEASE_S      300
#define SPOOL_DEF_REAP_GRACE_MS 2000	/* clock-skew allowance before reaping */
#define SPOOL_DEF_SETTLE_MS    2000	/* an invalid drop must be this still to be rejected */

/* ---- states ------------------------------------------------------------ */

/* The directory an order file is in is its state. */
enum spool_state {
	ST_NEW, ST_ASSIGNED, ST_HELD, ST_DONE, ST_FAILED, ST_CANCELLED,
	ST_COUNT
};

/* "new", "assigned", ... (the directory names). */
const char *spool_state_name(enum spool_state st);

/* The state named s, or -1. */
int spool_state_parse(const char *s);

/* ---- ids, tokens, names (name.c) --------------------------------------- */

/* 1 if s is a well-formed id / token / worker name / tag, else 0. */
int id_valid(const char *s);
int token_valid(const char *s);
int worker_valid(const char *s);
int tag_valid(const char *s);

/* Milliseconds since the epoch, from CLOCK_REALTIME. */
int64_t now_ms(void);

/* Format ms-since-epoch as ISO-8601 UTC with milliseconds ("...T...Z"). */
void iso_time(int64_t ms, char out[32]);

/* Parse ISO-8601 UTC ("2026-11-27T05:00:00Z", optional .mmm). 0 or -EINVAL. */
int iso_parse(const char *s, int64_t *ms);

/*
 * A new id: 12 hex digits of milliseconds, then 12 hex digits of a
 * per-process counter that starts at a random value. Unique across
 * processes and hosts with overwhelming probability; within one process,
 * strictly increasing. Also used as the "stamp" that orders submissions.
 */
void id_new(char out[SPOOL_ID_LEN + 1]);

/* SHA-256 of data. */
void sha256(const void *data, size_t len, unsigned char out[32]);

/*
 * An id derived from content: the first 96 bits of its SHA-256, in hex.
 * Used for jobs whose canonical JSON names them (json_canon), so that
 * submitting the same job twice adds nothing the second time.
 */
void id_from_content(const void *data, size_t len, char out[SPOOL_ID_LEN + 1]);

/* A new random claim token (never one of the seed's, below). */
void token_new(char out[SPOOL_TOKEN_LEN + 1]);

/*
 * Claims made for a seed worker (spoold's POST /bored) carry tokens that
 * start with SPOOL_SEED_TOKEN_PREFIX, and no other claim does: a seed
 * worker never sees its token, and a callback naming only its jobId may
 * end a seed claim, never a claim held with a token.
 */
#define SPOOL_SEED_TOKEN_PREFIX "5eed"
void token_new_seed(char out[SPOOL_TOKEN_LEN + 1]);
int token_is_seed(const char *token);

/*
 * The seed's "assignment id" of claim o: the 24-hex "_id" POST /bored
 * answers, which a seed worker sends back as "assignmentId": the claim's
 * token, then its attempt in 8 hex digits. assignment_parse takes it
 * apart: 0, or -EINVAL when aid is not 24 hex digits.
 */
struct order;
void assignment_id(const struct order *o, char out[SPOOL_ID_LEN + 1]);
int assignment_parse(const char *aid, char token[SPOOL_TOKEN_LEN + 1], int *attempt);

/*
 * Everything an order file's name says. Queued form (new/, held/, and
 * done/failed/cancelled when it never ran):
 *	PPPP.DDDDDDDDDDDDD.SSSS(24).IIII(24).AAA.F
 * claimed form (assigned/, and done/failed/cancelled after a claim):
 *	<queued form>.LLLLLLLLLLLLL.TTTT(16).WORKER
 * See spool-layout.md for each field.
 */
struct order_name {
	int priority;		/* SPOOL_PRIORITY_MIN..MAX, higher is claimed first */
	int64_t due;		/* ms: not claimable before */
	char stamp[SPOOL_ID_LEN + 1];	/* submission stamp (an id) */
	char id[SPOOL_ID_LEN + 1];
	int attempt;		/* queued: attempts used; claimed: this attempt */
	int tagged;		/* the job requires tags: read the order file */
	int claimed;		/* the three fields below are set */
	int64_t deadline;	/* lease deadline, ms */
	char token[SPOOL_TOKEN_LEN + 1];
	char worker[SPOOL_WORKER_MAX + 1];
};

/* Parse a file name. 0, or -EINVAL when it is not an order name. */
int name_parse(const char *s, struct order_name *n);

/* Format n into out (SPOOL_NAME_MAX bytes). 0 or -EINVAL. */
int name_format(const struct order_name *n, char *out, size_t cap);

/* ---- job options --------------------------------------------------------- */

/* What the reserved "spool" key of a job says (spool-layout.md). */
struct job_opts {
	int priority;
	int64_t not_before;	/* ms, 0 = none */
	int max_attempts;
	int timeout_s;		/* 0 = none */
	int lease_s;		/* 0 = the claimer's default */
	int retry_delay_s;	/* delay before a failed attempt is retried */
	int ntags;
	char tags[SPOOL_TAGS_MAX][SPOOL_TAG_MAX + 1];
};

/*
 * Check a job document and read its options. The job must be a JSON object
 * of at most SPOOL_JOB_MAX bytes with a string "scriptName"; "spool", when
 * present, must be an object of known keys with valid values. now is used to
 * resolve "delay". 0, -E2BIG (over a ceiling: bytes or JSON tokens), or
 * -EINVAL, with the reason in err.
 */
int job_check(const char *json, size_t len, int64_t now, struct job_opts *o,
	      char *err, size_t errlen);

/*
 * A job parsed once (job_read): job_check's checks and options, the id it
 * names for itself, and its stored document, so that a submit reads the
 * text once and spool_submit_job stores it without reading it again.
 * job_read: 0, or job_check's errors (bad_json set when the text is not
 * JSON at all). Release with job_in_release.
 */
struct job_in {
	struct job_opts opts;
	int named;			/* it names a valid "_id" ... */
	char id[SPOOL_ID_LEN + 1];	/* ... this one */
	int bad_json;
	struct buf doc;			/* the stored job, its "_id" left blank */
	char doc_id[SPOOL_ID_LEN + 1];	/* the id job_in_doc filled in, or "" */
};
int job_read(struct job_in *in, const char *json, size_t len, int64_t now,
	     char *err, size_t errlen);
void job_in_release(struct job_in *in);
/* in's stored document with id filled in (in's buffer). */
const struct buf *job_in_doc(struct job_in *in, const char *id);

/*
 * The id a job document names for itself: 1 with out set when it has an
 * "_id" string of the id pattern (a resubmitted job, a sweep's content id),
 * else 0. The document need not be valid otherwise (job_check says that).
 */
int job_given_id(const char *json, size_t len, char out[SPOOL_ID_LEN + 1]);

/* ---- the spool ------------------------------------------------------------- */

struct spool_pending;		/* group-commit queue, private to spool.c */
struct spool_gate;
struct order;

/*
 * How a commit makes things durable: an fsync per file and per directory,
 * or syncfs(2) once per round (one device flush for the whole batch; it
 * also flushes whatever else is dirty on that file system). AUTO takes
 * syncfs for batches of SPOOL_SYNCFS_MIN files or more. $SPOOL_SYNC
 * ("auto", "fsync", "syncfs") sets it at spool_open.
 */
enum spool_sync { SYNC_AUTO, SYNC_FILES, SYNC_FS };
#define SPOOL_SYNCFS_MIN 3

struct spool {
	int root;			/* O_DIRECTORY fd of the spool */
	int topfd[16];			/* fds of the top-level directories, for fsync */
	char *path;
	int nosync;			/* skip every fsync (benchmarks, tests) */
	int claim_nosync;		/* claims sync nothing (spool_set_claim_sync) */
	struct spool_gate *gate;	/* spool_set_gate, else NULL */
	uint64_t rounds_synced;		/* rounds of syncs that synced something, all well */
	enum spool_sync sync_mode;	/* SYNC_AUTO */
	int64_t reap_grace_ms;		/* SPOOL_DEF_REAP_GRACE_MS */
	int64_t settle_ms;		/* SPOOL_DEF_SETTLE_MS */
	int64_t stale_ms;		/* SPOOL_DEF_STALE_MS ($SPOOL_TMP_STALE_MS) */
	int made_dirs;			/* layout directories spool_open had to create */
	int batch;			/* >0 between spool_begin and spool_commit */
	int sync_rc;			/* the last commit's failed sync (every change may
					 * or may not be durable), else 0 */
	struct spool_pending *pend;
	/* local claimers: sorted names of new/ from the last scan */
	char **cache;
	size_t ncache, icache;
	int64_t cache_ms;
	char err[512];			/* the last error, in words */
};

/*
 * Open the spool at path. With create, make it (and its directories) when
 * missing; an existing spool is checked for its directories either way.
 * 0, -ENOENT (not a spool and not create), or another negative errno.
 */
int spool_open(struct spool *sp, const char *path, int create);

/* Close fds, free memory. Does not commit a pending batch. */
void spool_close(struct spool *sp);

/* Why the last call failed, in words ("" if nothing was recorded). */
const char *spool_error(const struct spool *sp);

/*
 * Group commit. Between spool_begin and spool_commit, state changes are made
 * (renames happen at once, so they are visible and fenced), but the fsyncs
 * they need, and the publishing of newly written files (a submitted job and
 * its order, an outcome), wait for spool_commit, which makes all of them
 * durable with one round of fsyncs. Outside a batch every call commits
 * itself before returning. Returns 0 or the first error; on error every
 * change of the batch may or may not be durable.
 */
void spool_begin(struct spool *sp);
int spool_commit(struct spool *sp);

/*
 * In a batch, the result of a change is known only at spool_commit (an
 * outcome is filed before the rename that ends its claim, so that rename
 * waits for the commit). After spool_track(sp, rc, o), every change staged
 * until the next spool_track writes its result to *rc at commit (0, or the
 * first error: -ESTALE, -EALREADY, -ENOSPC, ... as the call would have
 * returned outside a batch; *rc is set to 0 now), and a complete, fail or
 * reap of the order o updates o to where the order went. o (may be NULL)
 * and rc must stay valid until the commit.
 */
void spool_track(struct spool *sp, int *rc, struct order *o);

/* ---- orders -------------------------------------------------------------- */

/* An order as found on disk: its state, its file name, and what the name says. */
struct order {
	enum spool_state state;
	char file[SPOOL_NAME_MAX];	/* name inside its state directory */
	struct order_name n;
};

/*
 * Submit a job: store the job document (with "_id" added as its first key)
 * and queue its order, durably before returning (or at spool_commit).
 * want_id NULL generates an id; else that id is used and a job already
 * stored under it makes this return 1 (a duplicate: nothing is added).
 * id_out gets the id. 0, 1, -EINVAL or -E2BIG (bad job: spool_error says
 * why, as job_check), errno.
 */
int spool_submit(struct spool *sp, const char *json, size_t len,
		 const char *want_id, char id_out[SPOOL_ID_LEN + 1]);
/* spool_submit of a job job_read parsed (in's document is filled in). */
int spool_submit_job(struct spool *sp, struct job_in *in, const char *want_id,
		     char id_out[SPOOL_ID_LEN + 1]);

/*
 * 1 if an outcome's numeric "status" (has_status: it has one) says the run
 * failed: a number outside 200-299, the rule of the seed's callback. An
 * outcome without one says nothing of failure.
 */
int spool_status_failed(int has_status, int64_t status);

/* Who is claiming. */
struct claimant {
	const char *worker;		/* worker_valid */
	int ntags;
	const char *const *tags;
	int lease_s;			/* lease when the job sets none; 0 = SPOOL_DEF_LEASE_S */
	int seed;			/* a seed worker's claim: its token is token_new_seed's */
};

/*
 * Claim the first eligible order of new/ in name order: due, not needing a
 * tag the claimant lacks. Renames it to its claimed name in assigned/ (the
 * token is new, the attempt raised by one, the deadline now + lease).
 * Uses and refreshes sp's cached listing of new/.
 * 0 (o filled), -EAGAIN (nothing eligible), or a negative errno.
 */
int spool_claim(struct spool *sp, const struct claimant *c, struct order *o);

/*
 * Claim the order whose queued file name in new/ is file (the daemon picks it
 * from its index). Eligibility is the caller's business. 0, -ENOENT (gone:
 * another claimant won), or a negative errno.
 */
int spool_claim_file(struct spool *sp, const char *file,
		     const struct claimant *c, struct order *o);

/* spool_claim_file that also hands back the order's options and creation
 * time (ms), read from its file for the claim: its answer needs no second
 * read (either may be NULL). */
int spool_claim_file_opts(struct spool *sp, const char *file,
			  const struct claimant *c, struct order *o,
			  struct job_opts *opts, int64_t *created_ms);

/*
 * With on 0, a claim (spool_claim, spool_claim_file) is one rename from
 * new/ to assigned/ that syncs nothing, so it can be answered at once. A
 * machine crash may then undo it: the order is back in new/ under its old
 * name and is claimed again (a re-run); the lost claim's token names no
 * order any more, so its outcome is fenced to late/ (spool-layout.md,
 * "Claims that are not synced"). A change that ends a claim through a
 * handle with claim syncs off syncs new/ with its own directories; so the
 * handle that ends such claims must be one with claim syncs off too, and
 * it must be the only one in the process to sync new/ (another handle's
 * sync of new/ can make a claim's removal durable before its name in
 * assigned/ is). Default on.
 */
void spool_set_claim_sync(struct spool *sp, int on);

/*
 * The gate that lets one handle of a process make claims that sync nothing
 * while its other handles sync new/ (lib/gate.c). Every handle of the
 * process that syncs is given the gate (the claiming one syncs nothing); a handle
 * with a gate syncs new/ only with the gate shut, after an fsync of
 * assigned/ that covers every claim made through it, and its ends of
 * claims sync new/ too. The claimer wraps its claims in spool_gate_enter
 * (0, or -EBUSY while a round of syncs holds it: then opened(arg) is
 * called, from the syncing thread, once it opens) and spool_gate_leave
 * (with the number of claims it made).
 */
struct spool_gate {
	pthread_mutex_t mu;
	uint64_t made;		/* claims made through the gate */
	uint64_t synced;	/* of them, those whose assigned/ name is durable */
	int wanted;		/* a claimer found it shut (atomic) */
	void (*opened)(void *arg);
	void *arg;
};
void spool_gate_init(struct spool_gate *g, void (*opened)(void *), void *arg);
void spool_gate_destroy(struct spool_gate *g);
void spool_set_gate(struct spool *sp, struct spool_gate *g);
int spool_gate_enter(struct spool_gate *g);
void spool_gate_leave(struct spool_gate *g, unsigned claims);
/* Make the claims made so far through sp's gate durable at the next
 * commit (it fsyncs assigned/). */
void spool_sync_claims(struct spool *sp);

/*
 * Make everything written through this spool's file system so far durable
 * (one syncfs), whatever sp->nosync says: the flush of a relaxed mode that
 * answers before it syncs. 0 or a negative errno (spool_error says why).
 */
int spool_flush(struct spool *sp);

/*
 * Find order id in any state. 0 (o filled), -ENOENT, -EINVAL (bad id).
 * Scans: assigned/, held/, the id's fan-out of done/failed/cancelled, new/.
 */
int spool_lookup(struct spool *sp, const char *id, struct order *o);

/*
 * Find the claim (id, token) a worker presents. 0: o is the claim (in
 * assigned/, or finished already: spool_complete/fail then say -EALREADY).
 * -ESTALE: the order exists but that claim is no longer held; o describes
 * the lost claim, so that spool_complete/spool_fail on it file the outcome
 * in late/ and return -ESTALE. -ENOENT (no such order), -EINVAL.
 */
int spool_lookup_claim(struct spool *sp, const char *id, const char *token,
		       struct order *o);

/*
 * As spool_lookup_claim, trying first hint (may be NULL or stale): the
 * claim's file name in assigned/ as a claim or a renewal returned it. One
 * stat instead of a listing of assigned/ when the hint names id and token
 * and is there; otherwise exactly spool_lookup_claim.
 */
int spool_lookup_claim_hint(struct spool *sp, const char *id, const char *token,
			    const char *hint, struct order *o);

/*
 * Renew the lease of the claim o (as returned by a claim or a previous renew):
 * one rename to a name with deadline now + the claim's lease, found as at the
 * claim: the job's own lease, else lease_s (the claimant's default, as
 * claimant.lease_s), else SPOOL_DEF_LEASE_S. o is updated. 0, -ESTALE (the
 * claim is no longer held), errno.
 */
int spool_renew(struct spool *sp, struct order *o, int lease_s);

/*
 * Complete the claim o with outcome (a JSON object). The order moves to
 * done/, then the outcome is published as outcomes/FF/ID.A.TOKEN.json
 * (written once). 0; -EALREADY when this very claim was already completed
 * (nothing changes); -ESTALE when the claim was lost (lease expired,
 * cancelled...): the outcome is kept in late/ and nothing else changes;
 * -EINVAL (bad outcome), errno.
 */
int spool_complete(struct spool *sp, struct order *o, const char *outcome,
		   size_t len);

/*
 * Fail the claim o. outcome (may be NULL) is filed as this attempt's outcome.
 * The order goes back to new/ (due after the job's retry delay) when
 * attempts remain, else to failed/; an outcome whose "status" is a number
 * from 400 to 499 says the job itself is wrong, and goes to failed/ at once.
 * *retried says which. Returns as spool_complete.
 */
int spool_fail(struct spool *sp, struct order *o, const char *outcome,
	       size_t len, int *retried);

/*
 * Give the claim o back: to new/ under its old queued name (same attempt
 * count, same place in line). 0, -ESTALE, errno.
 */
int spool_release(struct spool *sp, struct order *o);

/*
 * Return every claim whose deadline + reap grace is before now to new/ (the
 * attempt counted, an outcome saying "lease expired" filed) or to failed/
 * when its attempts are used up. *n gets how many. 0 or errno.
 */
int spool_reap(struct spool *sp, int64_t now, int *n);

/* Reap the one claim o if it has expired at now: 1 reaped, 0 not expired, errno. */
int spool_reap_one(struct spool *sp, struct order *o, int64_t now);

/*
 * Person-driven changes, by id:
 * hold: new/ -> held/;  unhold: held/ -> new/;
 * cancel: new/, held/ or assigned/ -> cancelled/ (a running claim is fenced);
 * requeue: any state but new/ -> new/ with no attempts used, due now.
 * o (may be NULL) gets the order's new place. 0, -ENOENT, -EINVAL (bad id),
 * -EBUSY (not allowed from the order's state: spool_error says why), errno.
 */
int spool_hold(struct spool *sp, const char *id, struct order *o);
int spool_unhold(struct spool *sp, const char *id, struct order *o);
int spool_cancel(struct spool *sp, const char *id, struct order *o);
int spool_requeue(struct spool *sp, const char *id, struct order *o);

/* ---- reading --------------------------------------------------------------- */

typedef int (*spool_visit_fn)(void *arg, const struct order *o);

/*
 * Call fn for every order in state st (new/ in claim order, others in no
 * particular order). A non-zero return from fn stops the walk and is
 * returned. Files that are not order names are skipped.
 */
int spool_list(struct spool *sp, enum spool_state st, spool_visit_fn fn,
	       void *arg);

/*
 * As spool_list, but in directory order, storing nothing (a million-order
 * new/ costs no memory): fn must not change the state directory it is
 * visiting. 0, fn's non-zero return, or errno.
 */
int spool_scan(struct spool *sp, enum spool_state st, spool_visit_fn fn,
	       void *arg);

/*
 * spool_scan of new/ that also names the drops it passes (files that are not
 * order names nor start with '.') to drop (may be NULL), in the same one
 * walk of the directory. 0, fn's non-zero return, or errno.
 */
int spool_scan_new(struct spool *sp, spool_visit_fn fn,
		   void (*drop)(void *arg, const char *name), void *arg);

/* Count orders per state into counts[ST_COUNT], storing no names. 0 or errno. */
int spool_count(struct spool *sp, long counts[ST_COUNT]);

/* Path (relative to the spool) of order o's file. */
void spool_order_path(const struct order *o, char *out, size_t cap);

/* The job document of id into b. 0, -ENOENT, -EINVAL (bad id), errno. */
int spool_read_job(struct spool *sp, const char *id, struct buf *b);

/* 1 if job id is stored, 0 if not, a negative errno (stat's, or -EINVAL for
 * a bad id). */
int spool_job_exists(struct spool *sp, const char *id);

/* The options of order o, from its order file. 0 or errno. */
int spool_read_opts(struct spool *sp, const struct order *o,
		    struct job_opts *opts, int64_t *created_ms);

/*
 * The outcome of order o into b: the one filed for o's claim (done/, failed/,
 * or a failed attempt). 0, -ENOENT (none filed), errno.
 */
int spool_read_outcome(struct spool *sp, const struct order *o, struct buf *b);

/*
 * The outcome filed last for order id, whatever its state (a retried order
 * in new/ shows its failed attempt's): the highest attempt, the newest of
 * equals. *attempt (may be NULL) gets its attempt. 0, -ENOENT, errno.
 */
int spool_read_last_outcome(struct spool *sp, const char *id, struct buf *b,
			    int *attempt);

/*
 * Append order o as a JSON object to b: the seed's shape ("_id", "jobId",
 * "createdDate", "status") plus "state", "priority", "attempt",
 * "maxAttempts", "due", and for a claim "worker", "leaseDeadline"; with
 * with_token, also "token". 0 or errno.
 */
int spool_order_json(struct spool *sp, const struct order *o, int with_token,
		     struct buf *b);

/* spool_order_json from options and a creation time already read (by
 * spool_claim_file_opts): the order file is not read again. */
int spool_order_json_opts(const struct order *o, const struct job_opts *opts,
			  int64_t created_ms, int with_token, struct buf *b);

/* ---- dropped files --------------------------------------------------------- */

/*
 * Ingest the file called name in new/ that is not an order name (a job
 * dropped by a person). Names starting with '.' are never touched.
 * Returns 0 (ingested: id_out set), 1 (not ready: it does not parse yet and
 * changed less than settle_ms ago, or is still being written), 2 (rejected:
 * moved to rejected/ with a .why note; spool_error says why), -ENOENT (gone:
 * somebody else took it), or a negative errno.
 */
int spool_ingest(struct spool *sp, const char *name,
		 char id_out[SPOOL_ID_LEN + 1]);

/*
 * Ingest every drop in new/. *ingested / *rejected / *waiting count the
 * outcomes (any may be NULL). 0 or errno.
 */
int spool_ingest_all(struct spool *sp, int *ingested, int *rejected,
		     int *waiting);

/* Told of each drop spool_ingest_each tried: rc as spool_ingest's, the id
 * when ingested, why (the library's words) when not. */
typedef void (*spool_ingest_fn)(void *arg, const char *name, int rc,
				const char *id, const char *why);

/* spool_ingest_all, telling fn (may be NULL) of each file. */
int spool_ingest_each(struct spool *sp, spool_ingest_fn fn, void *arg,
		      int *ingested, int *rejected, int *waiting);

/* ---- run logs ---------------------------------------------------------------- */

#define SPOOL_LOG_MAX (8 << 20)	/* bytes of one attempt's log kept */

/*
 * Store the log of attempt of order id as logs/FF/ID.A.log (replacing an
 * earlier one of the same attempt). Data beyond SPOOL_LOG_MAX is cut and a
 * line "[spool: log truncated at N bytes]" appended. 0, -EINVAL, errno.
 */
int spool_log_put(struct spool *sp, const char *id, int attempt,
		  const void *data, size_t len);

/*
 * Append the logs of order id to b, every attempt in order, each preceded by
 * a line "=== attempt N ===". 0, -ENOENT (none), -EINVAL, errno.
 */
int spool_log_read(struct spool *sp, const char *id, struct buf *b);

/*
 * Live logs and series (log.c, series.c): appended while a run lasts.
 *
 * Append data to attempt's log at byte offset off (-1: at its end, as a
 * local runner does), with O_APPEND under an flock. Idempotent for retries:
 * data that lies wholly below the file's length is taken as there already.
 * A gap (off beyond the length) or an overlap (off below it, data reaching
 * past it) is -ESPIPE, nothing written. Past SPOOL_LOG_MAX the rest is cut
 * and the line "[spool: log truncated at N bytes]" written once; later
 * appends are taken and dropped. *size (may be NULL) gets the length after.
 * 0, -ESPIPE, -EINVAL, errno. Not synced: a crash may lose the last bytes.
 */
int spool_log_append(struct spool *sp, const char *id, int attempt, int64_t off,
		     const void *data, size_t len, int64_t *size);

/*
 * Bytes [off, off + max) of attempt's log into b (appended), *size its
 * length. 0, -ENOENT (no log of that attempt), -ERANGE (off past the
 * length; *size is set), -EINVAL, errno.
 */
int spool_log_read_at(struct spool *sp, const char *id, int attempt, int64_t off,
		      size_t max, struct buf *b, int64_t *size);

/* The highest attempt of order id with a log or a series, or 0 (none). */
int spool_log_last_attempt(struct spool *sp, const char *id);

#define SPOOL_SERIES_MAX (1 << 20)	/* bytes of one attempt's series */
#define SPOOL_SERIES_LINES 10000	/* lines of it */
#define SPOOL_SERIES_MARK "{\"truncated\": true}"

/*
 * Append whole lines (data must end in a newline) to attempt's series,
 * logs/FF/ID.AAA.series, by the offset rule of spool_log_append; past
 * SPOOL_SERIES_MAX bytes the line SPOOL_SERIES_MARK is written once and
 * the rest dropped. The writer keeps SPOOL_SERIES_LINES; readers enforce
 * both. 0, -ESPIPE, -EINVAL, errno.
 */
int spool_series_append(struct spool *sp, const char *id, int attempt, int64_t off,
			const void *data, size_t len, int64_t *size);

/*
 * Store attempt's series whole (tmp, rename), replacing what an earlier
 * run of the same attempt number left (a released claim keeps its
 * number); whole lines up to SPOOL_SERIES_MAX, then the mark. 0, errno.
 */
int spool_series_put(struct spool *sp, const char *id, int attempt, const void *data,
		     size_t len);

/*
 * The points of attempt's series into out: its JSON object lines, each
 * ending in a newline, at most SPOOL_SERIES_LINES of them and
 * SPOOL_SERIES_MAX bytes; a torn last line (no newline, or not an object:
 * a crash mid-append) is skipped. *truncated is set when the writer's mark
 * or the cap was met. 0 (an absent series is none: 0 points), -EINVAL, errno.
 */
int spool_series_read(struct spool *sp, const char *id, int attempt, struct buf *out,
		      int *truncated);

/*
 * The document of GET /v1/orders/ID/metrics into out:
 * {"id": ID, "attempt": N, "points": [...], "truncated": bool}. attempt 0:
 * the last one that has a log or a series. 0, -ENOENT (no attempt has
 * either), -EINVAL, errno.
 */
int spool_metrics_json(struct spool *sp, const char *id, int attempt, struct buf *out);

/* ---- leaderboard (board.c) ------------------------------------------------ */

struct board_row {
	char id[SPOOL_ID_LEN + 1];
	int pruned;		/* an early-stopped run (its outcome has "pruned") */
	double value;		/* the outcome's numeric member named by the key */
	char *outcome;		/* the outcome document (owned) */
	char *job;		/* the job document (owned) */
};

struct board {
	struct board_row *rows;	/* best first */
	size_t n;
	long counts[ST_COUNT];	/* orders per state (of the sweep, if one was named) */
	long total;
	long pruned;		/* of counts[ST_DONE], runs stopped early (stop.h) */
	char *saved;		/* a sweep's: what pruning saved, JSON (stop_savings_json), or NULL */
};

/*
 * The best outcomes of done orders by the numeric outcome member key,
 * ascending (desc = 0) or descending, at most limit rows (0 = all). With
 * sweep, only jobs whose "sweep" member equals it count, in rows and counts.
 * 0 or a negative errno; release with board_release.
 */
int spool_board(struct spool *sp, const char *key, int desc, size_t limit,
		const char *sweep, struct board *b);

/*
 * spool_board, with flags: BOARD_PRUNED ranks pruned runs too (by the
 * value their outcome carries: the last point's), each row saying so.
 * Without it they are left out of the rows and only counted (b->pruned).
 * With a sweep that has pruned runs, b->saved says what that saved.
 */
#define BOARD_PRUNED 1
int spool_board_ex(struct spool *sp, const char *key, int desc, size_t limit,
		   const char *sweep, int flags, struct board *b);
void board_release(struct board *b);

/*
 * Append the board as JSON: {"key":..,"order":"asc"|"desc","counts":{state:n,
 * "pruned":n},"total":n,["saved":{..},]"rows":[{"rank":1,"id":..,"value":..,
 * ["pruned":true,]"outcome":{..},"job":{..}}]}. counts.done does not count
 * the pruned runs (they are done orders): the counts add up to total.
 */
int board_json(const struct board *b, const char *key, int desc, struct buf *out);

/* ---- workers ----------------------------------------------------------------- */

/*
 * Store (replace) the record of worker name: the JSON object doc, with
 * "name" and "lastSeen" set by the library. 0, -EINVAL, errno.
 */
int spool_worker_put(struct spool *sp, const char *name, const char *doc,
		     size_t len);

/* Append a JSON array of all worker records to b. 0 or errno. */
int spool_workers_json(struct spool *sp, struct buf *b);

/* ---- fsck ---------------------------------------------------------------- */

struct fsck_opts {
	int repair;
	int64_t tmp_age_ms;	/* tmp/ files older than this are stale */
	void (*say)(void *arg, const char *line);	/* one line per finding */
	void *arg;
};

/*
 * Check the spool (and with repair, mend it): missing directories; stale and
 * recoverable tmp/ files; an order in two states; an order whose job is
 * missing; a job with no order; a done order whose outcome is missing;
 * unreadable order files; expired leases are only reported. Returns the
 * number of problems found (>= 0), or a negative errno when it could not
 * run.
 */
int spool_fsck(struct spool *sp, const struct fsck_opts *fo);

/* ---- recovery (recover.c) ------------------------------------------------ */

#define SPOOL_DEF_STALE_MS (3600 * 1000)	/* a tmp/ file this old is no commit's */

struct recover_opts {
	int repair;		/* 0: only say what would be done */
	int notes;		/* also say which young files are left alone */
	int64_t stale_ms;	/* tmp/ files older than this belong to no live commit */
	void (*say)(void *arg, const char *line);	/* may be NULL */
	void *arg;
};

struct recover_stats {
	int orders;		/* staged orders of stored jobs, queued */
	int drops;		/* taken drops put back into new/ */
	int outcomes;		/* outcomes of ended claims filed (older spools) */
	int removed;		/* files of changes never made, removed */
	int young;		/* left alone: a commit may be under way */
};

/*
 * Mend what a crash left in tmp/ (spool-layout.md, "What a crash at any
 * instant leaves"): a staged order whose job is stored is queued (at any
 * age), a taken drop whose job exists is removed; older than stale_ms, the
 * files of changes never made are removed and taken drops go back to new/.
 * Safe while other processes commit. Returns how many files it mended (or,
 * without repair, would mend), or a negative errno.
 */
int spool_recover(struct spool *sp, const struct recover_opts *ro,
		  struct recover_stats *rs);

/* ---- the fault seam (sysio.c) ---------------------------------------------- */

/*
 * Tests make a system call fail: op is "write", "fsync", "rename", "link",
 * "read" (a whole file read: a job, an order, an outcome) or "stat" (a check
 * that a file exists);
 * the nth such call from now (1 = the next) and every later one fail with
 * err, until sys_fault_clear. Also read from the environment at spool_open:
 * SPOOL_FAULT="op:nth:ERRNAME" (ERRNAME ENOSPC or EIO).
 */
void sys_fault_set(const char *op, int nth, int err);
void sys_fault_clear(void);

#endif
