/*
 * fsyncall: many fsyncs at once.
 *
 * A commit's round of syncs is a handful of files and directories. One
 * after another, each waits for the device in turn; issued together, the
 * file system folds them into one journal commit and the device serves
 * them in one go (on the 2-core test machine: a complete's five fsyncs in
 * 0.9-2.6 ms issued together against 1.3-7.3 ms one after another;
 * BENCHMARKS.md). So sys_fsync_all hands all but one to a small pool of
 * threads, does one itself, and waits for the rest.
 *
 * The pool is started on first use, shared by every spool of the process
 * and by every thread that commits (runner slots, spoold's writer), and
 * never stopped. Its threads block every signal, so a program's signals
 * still reach the threads it expects. If its threads cannot be made, or in
 * a child forked after they were (it has none of them), the fsyncs run one
 * after another in the caller: slower, never wrong.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <unistd.h>

#include "internal.h"

#define POOL_THREADS 4

struct fsync_batch {
	const int *fds;
	int *rc;
	size_t n;
	size_t next;		/* the next fd to take */
	size_t left;		/* taken or not, not yet synced */
	pthread_cond_t done;
	struct fsync_batch *link;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct fsync_batch *head, **tail;
	int threads;
	pid_t pid;		/* the process the threads belong to */
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, &pool.head, 0, 0 };
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

/* Take the next fd of b (pool.mu held); b leaves the queue with its last. */
static size_t take(struct fsync_batch *b)
{
	size_t i = b->next++;

	if (b->next == b->n) {
		struct fsync_batch **pp = &pool.head;

		while (*pp && *pp != b)
			pp = &(*pp)->link;
		if (*pp) {
			*pp = b->link;
			if (!*pp)
				pool.tail = pp;
		}
	}
	return i;
}

/* Sync fd i of b with pool.mu dropped; account for it (pool.mu held). */
static void run_one(struct fsync_batch *b, size_t i)
{
	int r;

	pthread_mutex_unlock(&pool.mu);
	r = sys_fsync(b->fds[i]);
	pthread_mutex_lock(&pool.mu);
	b->rc[i] = r;
	if (--b->left == 0)
		pthread_cond_signal(&b->done);
}

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pool.mu);
	for (;;) {
		while (!pool.head)
			pthread_cond_wait(&pool.work, &pool.mu);
		struct fsync_batch *b = pool.head;

		run_one(b, take(b));
	}
	return NULL;
}

static void pool_start(void)
{
	pthread_attr_t a;
	sigset_t all, old;
	int i;

	if (pthread_attr_init(&a) != 0)
		return;
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 64 << 10);
	/* a new thread starts with its creator's mask: all blocked */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < POOL_THREADS; i++) {
		pthread_t t;

		if (pthread_create(&t, &a, worker, NULL) != 0)
			break;
		pool.threads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	pool.pid = getpid();
}

void sys_fsync_all(const int *fds, size_t n, int *rc)
{
	struct fsync_batch b;
	size_t i;

	if (n > 1)
		pthread_once(&pool_once, pool_start);
	if (n <= 1 || pool.threads == 0 || pool.pid != getpid()) {
		for (i = 0; i < n; i++)
			rc[i] = sys_fsync(fds[i]);
		return;
	}
	b.fds = fds;
	b.rc = rc;
	b.n = n;
	b.next = 0;
	b.left = n;
	b.link = NULL;
	pthread_cond_init(&b.done, NULL);
	pthread_mutex_lock(&pool.mu);
	*pool.tail = &b;
	pool.tail = &b.link;
	for (i = 1; i < n && i <= (size_t)pool.threads; i++)
		pthread_cond_signal(&pool.work);
	/* the caller works too: it takes what the pool has not taken yet */
	while (b.next < b.n)
		run_one(&b, take(&b));
	while (b.left > 0)
		pthread_cond_wait(&b.done, &pool.mu);
	pthread_mutex_unlock(&pool.mu);
	pthread_cond_destroy(&b.done);
}
