/*
 * log.c - messages on stderr
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include "log.h"

bool log_is_verbose;

static void log_vprint(const char *fmt, va_list ap)
{
	/* one fprintf per line, so lines from one process never mix */
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "tsock: %s\n", line);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(fmt, ap);
	va_end(ap);
}

void log_verbose(const char *fmt, ...)
{
	va_list ap;

	if (!log_is_verbose) {
		return;
	}
	va_start(ap, fmt);
	log_vprint(fmt, ap);
	va_end(ap);
}

void log_hexdump(const char *label, const uint8_t *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char line[80];
	size_t off, i;

	fprintf(stderr, "%s (%zu bytes)\n", label, len);
	for (off = 0; off < len; off += 16) {
		char *p = line;

		p += snprintf(p, 12, "%08zx  ", off);
		for (i = 0; i < 16; i++) {
			if (off + i < len) {
				*p++ = hex[data[off + i] >> 4];
				*p++ = hex[data[off + i] & 15];
			} else {
				*p++ = ' ';
				*p++ = ' ';
			}
			*p++ = i == 7 ? '-' : ' ';
		}
		*p++ = ' ';
		for (i = 0; i < 16 && off + i < len; i++) {
			uint8_t c = data[off + i];

			*p++ = (c >= 32 && c < 127) ? (char)c : '.';
		}
		*p = '\0';
		fprintf(stderr, "%s\n", line);
	}
}
