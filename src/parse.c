/*
 * parse.c - numbers, durations and sizes written on the command line
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "parse.h"

bool parse_seconds(const char *s, int *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) ||
	    v < 0 || v > 2147483.0) {
		return false;
	}
	*ms = (int)(v * 1000.0 + 0.5);
	if (*ms == 0 && v > 0) {
		*ms = 1;
	}
	return true;
}

bool parse_count(const char *s, unsigned *n)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' ||
	    v == 0 || v > 1000000000UL) {
		return false;
	}
	*n = (unsigned)v;
	return true;
}

bool parse_size(const char *s, size_t *size)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (*s < '0' || *s > '9') {
		return false;	/* no sign, no spaces */
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0) {
		return false;
	}
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end != '\0' || v > ((unsigned long long)SIZE_MAX >> shift)) {
		return false;
	}
	*size = (size_t)(v << shift);
	return true;
}

bool parse_mode(const char *s, int *mode)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '7') {
		return false;
	}
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno != 0 || *end != '\0' || v > 07777) {
		return false;
	}
	*mode = (int)v;
	return true;
}

bool parse_bool(const char *s, bool *value)
{
	static const char *const yes[] = { "yes", "true", "on", "1", NULL };
	static const char *const no[] = { "no", "false", "off", "0", NULL };
	size_t i;

	for (i = 0; yes[i] != NULL; i++) {
		if (strcmp(s, yes[i]) == 0) {
			*value = true;
			return true;
		}
		if (strcmp(s, no[i]) == 0) {
			*value = false;
			return true;
		}
	}
	return false;
}
