/*
 * json_array: splitting a validated JSON array into its elements
 * (json_array.h). The text is valid JSON, so strings and brackets balance:
 * only depth and whether we are inside a string need tracking.
 */
#include <errno.h>
#include <stdlib.h>

#include "json_array.h"

static int is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static int add(size_t (**v)[2], size_t *n, size_t *cap, size_t max, size_t start, size_t end)
{
	if (*n == max)
		return -E2BIG;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		size_t (*nv)[2] = realloc(*v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[*n][0] = start;
	(*v)[*n][1] = end - start;
	(*n)++;
	return 0;
}

long json_split_array(const char *s, size_t len, size_t max, size_t (**el)[2])
{
	size_t (*v)[2] = NULL;
	size_t i = 0, n = 0, cap = 0, start = 0;
	int depth = 0, have = 0, r;

	*el = NULL;
	while (i < len && is_ws(s[i]))
		i++;
	if (i == len || s[i] != '[')
		return -EINVAL;
	for (i++; i < len; i++) {
		char ch = s[i];

		if (!have && depth == 0 && !is_ws(ch) && ch != ',' && ch != ']') {
			have = 1;
			start = i;
		}
		if (ch == '"') {
			for (i++; i < len && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
		} else if (ch == '[' || ch == '{') {
			depth++;
		} else if ((ch == ']' || ch == '}') && depth > 0) {
			depth--;
		} else if ((ch == ',' || ch == ']') && depth == 0) {
			if (have) {
				size_t end = i;

				while (end > start && is_ws(s[end - 1]))
					end--;
				if ((r = add(&v, &n, &cap, max, start, end)) < 0) {
					free(v);
					return r;
				}
				have = 0;
			}
			if (ch == ']')
				break;
		}
	}
	*el = v;
	return (long)n;
}
