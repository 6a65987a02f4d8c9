/*
 * outcome: what a finished run hands back. A script that exits 0 with a
 * JSON object as its last JSON line of stdout succeeded, and that object is
 * its outcome, as in the seed. Everything else is a failure described by
 * the runner, with the exit code or the signal and the tail of stderr, so
 * that a person learns from the order why it failed. Either way a "_run"
 * record says where and how long it ran and how much memory it took.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "runner.h"

/* Append s as a JSON string, with bytes that are not valid UTF-8 as '?'. */
static int json_text(struct buf *b, const char *s, size_t n)
{
	struct buf t;
	size_t i = 0;
	int r;

	buf_init(&t, n + 1);
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 :
			   (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		size_t j;

		if (k == 2 && c < 0xc2)
			k = 0;
		for (j = 1; k && j < k; j++)
			if (i + j >= n || ((unsigned char)s[i + j] & 0xc0) != 0x80)
				k = 0;
		if (k == 3 && ((c == 0xe0 && (unsigned char)s[i + 1] < 0xa0) ||
			       (c == 0xed && (unsigned char)s[i + 1] >= 0xa0)))
			k = 0;
		if (k == 4 && ((c == 0xf0 && (unsigned char)s[i + 1] < 0x90) ||
			       c > 0xf4 || (c == 0xf4 && (unsigned char)s[i + 1] >= 0x90)))
			k = 0;
		if ((r = k ? buf_add(&t, s + i, k) : buf_add(&t, "?", 1)) < 0)
			goto out;
		i += k ? k : 1;
	}
	r = buf_json_str(b, t.data ? t.data : "", t.len);
out:
	buf_release(&t);
	return r;
}

static int run_record(struct buf *b, const struct exec_result *r,
		      const struct run_info *ri)
{
	char when[32], sig[16];
	int e;

	iso_time(r->started_ms, when);
	if ((e = buf_puts(b, "\"_run\":{\"worker\":")) < 0 ||
	    (e = buf_json_str(b, ri->worker, strlen(ri->worker))) < 0)
		return e;
	e = buf_printf(b, ",\"slot\":%d,\"attempt\":%d,\"startedAt\":\"%s\","
		       "\"wallMs\":%lld,\"cpuMs\":%lld,\"maxRssKb\":%ld,"
		       "\"stdoutBytes\":%llu,\"stderrBytes\":%llu",
		       ri->slot, ri->attempt, when, (long long)r->wall_ms,
		       (long long)r->cpu_ms, r->maxrss_kb,
		       (unsigned long long)r->out_bytes,
		       (unsigned long long)r->err_bytes);
	if (e < 0)
		return e;
	if (r->end == END_SPAWN)
		e = buf_puts(b, ",\"exit\":null,\"signal\":null");
	else if (r->sig)
		e = buf_printf(b, ",\"exit\":null,\"signal\":\"%s\"",
			       exec_signame(r->sig, sig));
	else
		e = buf_printf(b, ",\"exit\":%d,\"signal\":null", r->code);
	if (e < 0)
		return e;
	/* a diverged run printed NaN or Infinity: say so where its numbers are */
	if (r->nonfinite && (e = buf_printf(b, ",\"nonFiniteAsNull\":%d", r->nonfinite)) < 0)
		return e;
	return buf_printf(b, ",\"timedOut\":%s}",
			  r->end == END_TIMEOUT ? "true" : "false");
}

/*
 * The numeric "status" of the script's JSON outcome, if it has one: the
 * one reading of it behind both rules below. 1 (*v set) or 0.
 */
static int script_status_of(const struct exec_result *r, int64_t *v)
{
	struct json j;
	char err[8];
	int has;

	if (!r->outcome.len ||
	    json_parse(&j, r->outcome.data, r->outcome.len, JSON_TOKENS_MAX, err, sizeof(err)) < 0)
		return 0;
	has = json_int(&j, json_get(&j, 0, "status"), v) == 0;
	json_release(&j);
	return has;
}

/*
 * The status of a failed run, as the spool reads it (spool_status_failed,
 * spool_fail; the same rule as /callback's): the script's own when it says
 * the job is wrong (4xx, as nn.py's 400), so that it fails at once; 500,
 * retried, otherwise.
 */
static int script_status(const struct exec_result *r)
{
	int64_t v = 500;

	if (!script_status_of(r, &v) || v < 400 || v > 499)
		v = 500;
	return (int)v;
}

/*
 * A script that cannot be started for reasons another attempt cannot change
 * (too large an argument list, a file that is no program) fails its job at
 * once (400), rather than three times.
 */
static int never_runs(const struct exec_result *r)
{
	return r->end == END_SPAWN && (r->err == E2BIG || r->err == ENOEXEC);
}

/* 1 if the script's JSON outcome has a numeric "status" that says failure. */
static int status_failed(const struct exec_result *r)
{
	int64_t v = 0;
	int has = script_status_of(r, &v);

	return spool_status_failed(has, v);
}

static int success(const struct exec_result *r, const struct run_info *ri,
		   struct buf *b)
{
	struct json j;
	int i, end, e, n = 0;

	if ((e = json_parse(&j, r->outcome.data, r->outcome.len, JSON_TOKENS_MAX,
			    NULL, 0)) < 0)
		return e;
	if ((e = buf_puts(b, "{")) < 0)
		goto out;
	end = json_skip(&j, 0);
	for (i = 1; i < end; i = json_skip(&j, i + 1)) {
		if (json_eq(&j, i, "_run"))
			continue;
		if ((e = buf_puts(b, n++ ? "," : "")) < 0 ||
		    (e = json_append_raw(&j, i, b)) < 0 ||
		    (e = buf_puts(b, ":")) < 0 ||
		    (e = json_append_raw(&j, i + 1, b)) < 0)
			goto out;
	}
	if (json_get(&j, 0, "jobId") < 0 &&
	    (e = buf_printf(b, "%s\"jobId\":\"%s\"", n++ ? "," : "", ri->job_id)) < 0)
		goto out;
	if ((e = buf_puts(b, n ? "," : "")) < 0 ||
	    (e = run_record(b, r, ri)) < 0 ||
	    (e = buf_puts(b, "}")) < 0)
		goto out;
	e = 1;
out:
	json_release(&j);
	return e;
}

int outcome_build(const struct exec_result *r, const struct run_info *ri,
		  struct buf *b, char *why_out, size_t whylen)
{
	char why[160], sig[16];
	int e;

	buf_reset(b);
	if (whylen)
		why_out[0] = '\0';
	switch (r->end) {
	case END_EXITED:
		if (r->code == 0 && r->outcome.len) {
			e = success(r, ri, b);
			if (e == 1 && status_failed(r)) {
				/* the script says it failed, exit 0 or not */
				if (whylen)
					snprintf(why_out, whylen, "the script reported a failure status");
				return 0;
			}
			if (e != -E2BIG && e != -EINVAL)
				return e;
			buf_reset(b);	/* valid, but too big for us to rebuild */
			snprintf(why, sizeof(why), "the JSON outcome on stdout is too large");
		} else if (r->code == 0) {
			snprintf(why, sizeof(why), "no JSON object on stdout");
		} else {
			snprintf(why, sizeof(why), "exit code %d", r->code);
		}
		break;
	case END_SIGNALED:
		snprintf(why, sizeof(why), "killed by signal %d (%s)", r->sig,
			 exec_signame(r->sig, sig));
		break;
	case END_TIMEOUT:
		snprintf(why, sizeof(why), "timed out after %lld s",
			 (long long)(ri->timeout_ms / 1000));
		break;
	case END_LOST:
		snprintf(why, sizeof(why), "stopped: the claim was lost");
		break;
	case END_STOPPED:
		snprintf(why, sizeof(why), "stopped: the runner is shutting down");
		break;
	case END_SPAWN:
	default:
		if (r->err == E2BIG)
			snprintf(why, sizeof(why), "cannot run the script: its environment "
				 "is too large (Linux takes 128 KiB per variable)");
		else
			snprintf(why, sizeof(why), "cannot run the script: %s",
				 strerror(r->err));
		break;
	}
	if (whylen)
		snprintf(why_out, whylen, "%s", why);
	if ((e = buf_printf(b, "{\"jobId\":\"%s\",\"status\":%d,\"error\":", ri->job_id,
			    never_runs(r) ? 400 : script_status(r))) < 0 ||
	    (e = buf_json_str(b, why, strlen(why))) < 0 ||
	    (e = buf_puts(b, ",\"stderrTail\":")) < 0 ||
	    (e = json_text(b, r->errtail, strlen(r->errtail))) < 0)
		return e;
	if (r->outcome.len && r->outcome.len < (64 << 10) &&
	    ((e = buf_puts(b, ",\"output\":")) < 0 ||
	     (e = buf_add(b, r->outcome.data, r->outcome.len)) < 0))
		return e;
	if ((e = buf_puts(b, ",")) < 0 || (e = run_record(b, r, ri)) < 0 ||
	    (e = buf_puts(b, "}")) < 0)
		return e;
	return 0;
}

int outcome_refused(const struct run_info *ri, const char *why, struct buf *b)
{
	int e;

	buf_reset(b);
	/* 400: the job itself is wrong, another attempt cannot help */
	if ((e = buf_printf(b, "{\"jobId\":\"%s\",\"status\":400,\"error\":", ri->job_id)) < 0 ||
	    (e = json_text(b, why, strlen(why))) < 0 ||
	    (e = buf_puts(b, ",\"_run\":{\"worker\":")) < 0 ||
	    (e = buf_json_str(b, ri->worker, strlen(ri->worker))) < 0 ||
	    (e = buf_printf(b, ",\"slot\":%d,\"attempt\":%d}}", ri->slot,
			    ri->attempt)) < 0)
		return e;
	return 0;
}
