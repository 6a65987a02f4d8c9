/*
 * check: a tiny unit-test harness. TEST(name) { ... } registers itself (no
 * list to keep); each test runs in a child process, in a fresh temporary
 * directory, so a crash or a leftover file cannot touch the next one.
 * Assertions print what they expected and what they got.
 */
#ifndef SPOOL_CHECK_H
#define SPOOL_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef void (*test_fn)(void);
static struct { const char *name; test_fn fn; } check_tests[256];
static int check_ntests;

#define TEST(t_)							\
	static void t_(void);						\
	__attribute__((constructor)) static void reg_##t_(void)		\
	{ check_tests[check_ntests].name = #t_;				\
	  check_tests[check_ntests++].fn = t_; }			\
	static void t_(void)

#define FAILF(...) do { fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);	\
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

#define CHECK(c) do { if (!(c)) FAILF("check failed: %s", #c); } while (0)
#define CHECK_INT(want, got) do { long long w_ = (long long)(want), g_ = (long long)(got); \
	if (w_ != g_) FAILF("%s: expected %lld, got %lld", #got, w_, g_); } while (0)
#define CHECK_STR(want, got) do { const char *w_ = (want), *g_ = (got);	\
	if (strcmp(w_, g_) != 0) FAILF("%s: expected '%s', got '%s'", #got, w_, g_); } while (0)

int main(int argc, char **argv)
{
	int i, failed = 0;

	for (i = 0; i < check_ntests; i++) {
		char dir[] = "/tmp/spool-unit.XXXXXX";
		pid_t pid;
		int st;

		if (argc > 1 && !strstr(check_tests[i].name, argv[1]))
			continue;
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			if (chdir(dir) < 0)
				_exit(2);
			check_tests[i].fn();
			_exit(0);
		}
		waitpid(pid, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			printf("ok %d - %s\n", i + 1, check_tests[i].name);
			char cmd[64];
			snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
			if (system(cmd) != 0)
				fprintf(stderr, "cannot remove %s\n", dir);
		} else {
			printf("not ok %d - %s (left in %s)\n", i + 1, check_tests[i].name, dir);
			failed++;
		}
	}
	printf("%d passed, %d failed\n", check_ntests - failed, failed);
	return failed ? 1 : 0;
}

#endif
