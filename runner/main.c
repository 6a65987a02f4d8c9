/*
 * runner: the worker of spool.
 *
 *	runner (--boss URL | --spool DIR) --scripts DIR [options]
 *
 * One process: a thread per slot (slot.c) claims an order, runs its script
 * (exec.c) and hands the outcome back; in remote mode an outbox thread
 * delivers what the slots leave in the durable outbox (outbox.c). The main
 * thread owns the signals (blocked everywhere else, taken with
 * sigtimedwait), registers the worker and mends the spool through its own
 * claimer (in local mode it reaps expired leases, since there may be no
 * boss at all on a shared spool), and decides the exit status.
 *
 * SIGTERM/SIGINT/SIGHUP: claim no more; running scripts may go on for
 * --drain-timeout seconds, then they get SIGTERM, --grace seconds, SIGKILL,
 * and their orders are released without counting an attempt. A script
 * that dies of a signal (or fails) while its runner stops is released too:
 * under a scheduler the same SIGTERM reaches every process of the step. A
 * second signal cuts the drain short.
 *
 * Exit (the contract of options.c's usage text): 0 all done; 1 some attempt failed;
 * 2 could not work; 128+N stopped by signal N.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "json.h"
#include "runner.h"

#define REGISTER_EVERY_MS 30000
#define REAP_EVERY_MS 2000

/* The scripts a runner offers: plain files of --scripts, as a JSON array. */
static void scripts_json(const char *dir, struct buf *b)
{
	struct dirent **list = NULL;
	int n, i, k = 0;

	buf_puts(b, "[");
	n = scandir(dir, &list, NULL, alphasort);
	for (i = 0; i < n; i++) {
		char err[8];

		if (k < 256 && script_name_check(list[i]->d_name, err, sizeof(err)) == 0) {
			buf_puts(b, k++ ? "," : "");
			buf_json_str(b, list[i]->d_name, strlen(list[i]->d_name));
		}
		free(list[i]);
	}
	free(list);
	buf_puts(b, "]");
}


/* The worker's record; exited >= 0: the last one, of a runner exiting with
 * that code (the page shows it as exited rather than gone). */
static void worker_doc(struct runner *rn, struct buf *b, int exited)
{
	char host[256] = "";
	int i;

	gethostname(host, sizeof(host) - 1);
	buf_reset(b);
	buf_puts(b, "{\"name\":");
	buf_json_str(b, rn->name, strlen(rn->name));
	buf_puts(b, ",\"host\":");
	buf_json_str(b, host, strlen(host));
	buf_printf(b, ",\"slots\":%d,\"pid\":%ld,\"mode\":\"%s\",\"tags\":[",
		   rn->nslots, (long)getpid(), rn->boss_url ? "remote" : "local");
	for (i = 0; i < rn->ntags; i++) {
		buf_puts(b, i ? "," : "");
		buf_json_str(b, rn->tags[i], strlen(rn->tags[i]));
	}
	buf_puts(b, "],\"gpus\":");
	if (rn->gpus)
		buf_json_str(b, rn->gpus, strlen(rn->gpus));
	else
		buf_puts(b, "null");
	buf_puts(b, ",\"scripts\":");
	scripts_json(rn->scripts, b);
	buf_printf(b, ",\"completed\":%ld,\"failed\":%ld,\"heartbeatS\":%d",
		   atomic_load(&rn->completed), atomic_load(&rn->failed),
		   REGISTER_EVERY_MS / 1000);
	if (exited >= 0)
		buf_printf(b, ",\"state\":\"exited\",\"exitCode\":%d}", exited);
	else
		buf_puts(b, ",\"state\":\"running\"}");
}


void runner_stop(struct runner *rn, int code, int64_t kill_at)
{
	int zero = 0;
	int64_t none = 0;

	atomic_compare_exchange_strong(&rn->exit_code, &zero, code);
	if (!atomic_compare_exchange_strong(&rn->kill_at_ms, &none, kill_at) &&
	    kill_at < atomic_load(&rn->kill_at_ms))
		atomic_store(&rn->kill_at_ms, kill_at);
	atomic_store(&rn->stopping, 1);
}

/* A refused token, or a boss gone longer than --give-up: exit 2 now. */
static void fatal_checks(struct runner *rn)
{
	long denied = atomic_load(&rn->health.denied);
	int64_t down = atomic_load(&rn->health.down_since);

	if (atomic_load(&rn->exit_code))
		return;
	if (denied) {
		char why[PATH_MAX + 1024];

		boss_denied_why(rn->boss_url, rn->token_of, denied, why, sizeof(why));
		say(rn, "%s; exiting", why);
		runner_stop(rn, 2, mono_ms());
	} else if (down && rn->give_up_s > 0 &&
		   mono_ms() - down >= (int64_t)rn->give_up_s * 1000) {
		say(rn, "the boss at %s has not answered for %d s (--give-up): exiting",
		    rn->boss_url, rn->give_up_s);
		runner_stop(rn, 2, mono_ms());
	}
}

int claimer_open(struct claimer *cl, struct runner *rn, int slot)
{
	return rn->boss_url ? remote_open(cl, rn, slot) : local_open(cl, rn, slot);
}

/* Start the slots' threads. 0 or -1. */
static int start_slots(struct runner *rn)
{
	int i;

	if (!(rn->slots = calloc((size_t)rn->nslots, sizeof(*rn->slots))))
		return -1;
	for (i = 0; i < rn->nslots; i++) {
		rn->slots[i].rn = rn;
		rn->slots[i].index = i;
		rn->slots[i].cuda = rn->ngpus ? rn->gpu[i % rn->ngpus] : NULL;
		if (pthread_create(&rn->slots[i].thread, NULL, slot_main, &rn->slots[i]))
			return -1;
	}
	return 0;
}

/*
 * The main thread's loop until every slot has ended: register the worker,
 * mend the spool, take signals, stop on a fatal condition.
 */
static void watch_slots(struct runner *rn, struct claimer *cl, const sigset_t *sigs)
{
	int64_t next_register = 0, next_mend = 0;
	struct buf doc;
	int i;

	buf_init(&doc, SPOOL_WORKER_DOC_MAX);
	for (;;) {
		struct timespec tick = { 0, 200 * 1000000 };
		int64_t now = mono_ms();
		siginfo_t si;
		int alive = 0;

		for (i = 0; i < rn->nslots; i++)
			alive += !atomic_load(&rn->slots[i].done);
		if (!alive)
			break;
		if (now >= next_register && !atomic_load(&rn->stopping)) {
			worker_doc(rn, &doc, -1);
			if (cl->ops->announce(cl, &doc) < 0 && !next_register)
				say(rn, "cannot register the worker: %s", cl->err);
			next_register = now + REGISTER_EVERY_MS;
		}
		if (now >= next_mend) {
			cl->ops->mend(cl);
			next_mend = now + REAP_EVERY_MS;
		}
		fatal_checks(rn);
		if (sigtimedwait(sigs, &si, &tick) > 0) {
			char nm[16];

			if (!rn->sigcount++) {
				say(rn, "%s: claiming no more; running scripts have %d s to finish",
				    exec_signame(si.si_signo, nm), rn->drain_timeout_s);
				runner_stop(rn, 128 + si.si_signo,
					    mono_ms() + (int64_t)rn->drain_timeout_s * 1000 + 1);
			} else {
				say(rn, "second signal: stopping running scripts now");
				atomic_store(&rn->kill_at_ms, mono_ms());
			}
		}
	}
	buf_release(&doc);
}

int main(int argc, char **argv)
{
	static struct runner rn;
	struct options o;
	struct claimer cl;
	sigset_t sigs;
	int i, r, code;

	say_init(&rn);
	options_parse(&rn, &o, argc, argv);
	if ((r = workdir_sweep(rn.workroot)) > 0)
		say(&rn, "removed %d work director%s of dead runners in %s", r,
		    r == 1 ? "y" : "ies", rn.workroot);

	/* Writing to a script that closed its stdin must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (o.exec_file)
		return once_run(&rn, o.exec_file);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "runner: cannot initialise libcurl\n");
		return 2;
	}
	if (claimer_open(&cl, &rn, -1) < 0) {
		fprintf(stderr, "runner: %s\n", cl.err);
		return 2;
	}
	if (rn.boss_url) {
		char *d = o.outbox_dir ? strdup(o.outbox_dir) : options_default_outbox(rn.boss_url);

		if (!d || (r = outbox_open(&rn.outbox, d)) < 0) {
			fprintf(stderr, "runner: cannot open the outbox '%s': %s\n",
				d ? d : "?", strerror(d ? -r : ENOMEM));
			return 2;
		}
		free(d);
		rn.have_outbox = 1;
	}

	/* Signals are taken by this thread only; the other threads inherit
	 * the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	say(&rn, "%s mode, %s, %d slot%s%s%s, scripts in %s",
	    rn.boss_url ? "remote" : "local", rn.boss_url ? rn.boss_url : rn.spool_dir,
	    rn.nslots, rn.nslots == 1 ? "" : "s", rn.ntags ? ", tags " : "",
	    rn.tagcsv, rn.scripts);
	if ((rn.have_outbox &&
	     outbox_start(&rn.outbox, rn.boss_url, rn.bearer, &rn.health, say_outbox) < 0) ||
	    start_slots(&rn) < 0) {
		fprintf(stderr, "runner: cannot start a thread\n");
		return 2;
	}
	watch_slots(&rn, &cl, &sigs);
	for (i = 0; i < rn.nslots; i++)
		pthread_join(rn.slots[i].thread, NULL);

	if (rn.have_outbox) {
		int left = outbox_stop(&rn.outbox, mono_ms() + (rn.sigcount ? 5000
					: (int64_t)rn.drain_timeout_s * 1000 + 5000));

		if (left > 0) {
			int zero = 0;

			say(&rn, "%d outcome file%s still in the outbox %s: the next runner on it delivers them",
			    left, left == 1 ? "" : "s", rn.outbox.dir);
			/* not delivered is not done: could not work (unless a
			 * signal or a fatal error said so first) */
			atomic_compare_exchange_strong(&rn.exit_code, &zero, 2);
		}
		outbox_close(&rn.outbox);
	}
	code = atomic_load(&rn.exit_code);
	if (!code && atomic_load(&rn.failed))
		code = 1;
	say(&rn, "exiting (%d): %ld done, %ld failed", code, atomic_load(&rn.completed),
	    atomic_load(&rn.failed));
	if (!rn.keep_work)
		rmdir(rn.workroot);
	if (!atomic_load(&rn.health.down_since)) {
		/* the last record says it exited (a boss not answering is not
		 * waited for) */
		struct buf doc;
		buf_init(&doc, SPOOL_WORKER_DOC_MAX);
		worker_doc(&rn, &doc, code);
		cl.ops->announce(&cl, &doc);
		buf_release(&doc);
	}
	cl.ops->close(&cl);
	for (i = 0; i < rn.ntags; i++)
		free((char *)rn.tags[i]);
	free(rn.slots);
	free((char *)rn.boss_url);
	free(rn.scripts);
	free(rn.workroot);
	free(rn.bearer);
	free(rn.token_of);
	free(rn.python);
	free(rn.gpu_list);
	curl_global_cleanup();
	return code;
}
