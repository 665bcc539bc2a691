/*
 * parse.h - numbers, durations and sizes written on the command line
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_PARSE_H
#define TSOCK_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Seconds, fractions allowed ("1.5"), into milliseconds: at least 1 for
 * any positive value, at most what an int of milliseconds holds (about
 * 24.8 days).  False if s is not that.
 */
bool parse_seconds(const char *s, int *ms);

/* A count from 1 to 1000000000. */
bool parse_count(const char *s, unsigned *n);

/* A size in bytes with an optional k/m/g suffix (1024-based). */
bool parse_size(const char *s, size_t *size);

/* A file mode in octal, e.g. 0660 or 660, at most 07777. */
bool parse_mode(const char *s, int *mode);

/* yes/no, true/false, on/off, 1/0. */
bool parse_bool(const char *s, bool *value);

#endif
