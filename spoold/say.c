/*
 * say: the daemon's one logger: a timestamped line on stderr per event.
 *
 * Layer: 1 base
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base.h"

void say(const struct logger *lg, const char *fmt, ...)
{
	char line[1024], when[32];
	va_list ap;
	int n;
	if (lg && lg->quiet)
		return;
	iso_time(now_ms(), when);
	n = snprintf(line, sizeof(line), "spoold: %s ", when);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = 0;
	strcat(line, "\n");
	fputs(line, stderr);
}
