/*
 * slow_getaddrinfo.c - an LD_PRELOAD library for the command-line tests
 * that makes name lookups slow and counts them
 *
 * A name in /etc/hosts resolves in microseconds, too fast to see how tsock
 * copes with many clients waiting for one lookup or with lookups that
 * outlast -w.  Preloaded, this getaddrinfo(3) waits SLOW_GAI_DELAY_MS
 * milliseconds before asking the real one, and appends a line to the file
 * SLOW_GAI_LOG as each lookup starts ("start HOST PORT") and ends ("end
 * HOST PORT"), so a test can count them and wait for one to finish.  It
 * works on any tsock binary, so the tests also show what a build without
 * the bounded resolver did.
 *
 * Numeric addresses (AI_NUMERICHOST) pass straight through: they are
 * answered on the event loop and are not what the tests look at.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int (*getaddrinfo_fn)(const char *, const char *,
			      const struct addrinfo *, struct addrinfo **);

/* One line, in one write(2) on an O_APPEND file: lines never mix. */
static void note(const char *what, const char *host, const char *port)
{
	const char *path = getenv("SLOW_GAI_LOG");
	char line[512];
	int fd, len;

	if (path == NULL || *path == '\0') {
		return;
	}
	len = snprintf(line, sizeof(line), "%s %s %s\n", what,
		       host != NULL ? host : "-", port != NULL ? port : "-");
	if (len <= 0 || (size_t)len >= sizeof(line)) {
		return;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1) {
		return;
	}
	if (write(fd, line, (size_t)len) != len) {
		/* nothing to do: the test will miss a line and say so */
	}
	close(fd);
}

int getaddrinfo(const char *host, const char *port,
		const struct addrinfo *hints, struct addrinfo **res)
{
	static getaddrinfo_fn real_fn;
	getaddrinfo_fn real;
	const char *delay = getenv("SLOW_GAI_DELAY_MS");
	struct timespec ts;
	long ms;
	int rc;

	/* lookups run on several threads: each may find it unset */
	real = __atomic_load_n(&real_fn, __ATOMIC_ACQUIRE);
	if (real == NULL) {
		real = (getaddrinfo_fn)dlsym(RTLD_NEXT, "getaddrinfo");
		if (real == NULL) {
			return EAI_SYSTEM;
		}
		__atomic_store_n(&real_fn, real, __ATOMIC_RELEASE);
	}
	if (hints != NULL && (hints->ai_flags & AI_NUMERICHOST) != 0) {
		return real(host, port, hints, res);
	}
	note("start", host, port);
	ms = delay != NULL ? strtol(delay, NULL, 10) : 0;
	if (ms > 0) {
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) == -1) {
			/* a signal: sleep the rest */
		}
	}
	rc = real(host, port, hints, res);
	note("end", host, port);
	return rc;
}
