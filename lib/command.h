/*
 * command: a job's "command", an argv template filled from the job itself.
 *
 * A job may give, besides or instead of "scriptName",
 *   "command": ["python3", "train.py", "--lr", "{learningRate}"]
 * an array of strings run with execve, never a shell. In each string "{key}"
 * stands for the job's top-level member key (a string as its decoded text,
 * anything else as its canonical JSON: 0.1, true, [1,2]); "{{" and "}}" are a
 * literal brace. "{_id}" is the job's id (every stored job has one). A key
 * the job lacks is an error at submit time (job_check calls command_check),
 * never a surprise when the job runs.
 */
#ifndef SPOOL_COMMAND_H
#define SPOOL_COMMAND_H

#include <stddef.h>

#include "json.h"

#define COMMAND_ARGS_MAX   256		/* strings in "command" */
#define COMMAND_ARG_MAX    4096		/* bytes of one template string */
#define COMMAND_KEY_MAX    64		/* a {key}: [A-Za-z0-9_-]{1,64} */
#define COMMAND_EXPANDED_MAX (128 << 10) /* one filled argument (Linux's MAX_ARG_STRLEN) */

/*
 * Check the "command" member of the job object at token 0 of j. 1 when it
 * has a valid one, 0 when it has none, -EINVAL when it is not an array of
 * 1..COMMAND_ARGS_MAX strings of at most COMMAND_ARG_MAX bytes (the first
 * not empty), a brace is unmatched, or a {key} names no member of the job:
 * err (errlen bytes) then says which string and which key.
 */
int command_check(const struct json *j, char *err, size_t errlen);

/* A filled command: argv[0..argc) and argv[argc] == NULL, owned. */
struct command {
	int argc;
	char **argv;
};

/*
 * Fill the command template of the job document job[0..len) with its own
 * members into c (release it with command_release). 0; -ENOENT when the job
 * has no "command"; -EINVAL or -E2BIG (an argument over
 * COMMAND_EXPANDED_MAX) with err saying why; -ENOMEM.
 */
int command_expand(const char *job, size_t len, struct command *c, char *err,
		   size_t errlen);

void command_release(struct command *c);

#endif
