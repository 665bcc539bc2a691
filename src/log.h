/*
 * log.h - messages on stderr
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_LOG_H
#define TSOCK_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* -v given: log_verbose() prints. */
extern bool log_is_verbose;

/* "tsock: MESSAGE" on stderr, always. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "tsock: MESSAGE" on stderr, with -v only. */
void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A hex dump of data on stderr (-x), headed by label, e.g.
 * "> tcp:127.0.0.1:80 (5 bytes)", then lines of 16 bytes with offsets,
 * hex and printable characters.
 */
void log_hexdump(const char *label, const uint8_t *data, size_t len);

#endif
