/*
 * slow_getaddrinfo.c - an LD_PRELOAD library for the command-line tests
 * that makes name lookups slow and counts them
 *
 * A name in /etc/hosts resolves in microseconds, too fast to see how tsock
 * copes with many clients waiting for one lookup or with lookups that
 * outlast -w.  Preloaded, this getaddrinfo(3) waits SLOW_GAI_DELAY_MS
 * milliseconds before asking the real one, and appends a line to the file
 * SLOW_GAI_LOG as each lookup starts ("start HOST PORT") and ends ("end
 * HOST PORT"), so a test can count them and wait for one to finish.  With
 * SLOW_GAI_GATE set to a path, a lookup also waits (after the delay, for at
 * most a minute) until that file exists: a test on a loaded machine then
 * decides when lookups end, instead of racing a fixed delay.  It
 * works on any tsock binary, so the tests also show what a build without
 * the bounded resolver did.
 *
 * Numeric addresses (asked with AI_NUMERICHOST, or that parse as one)
 * pass straight through: they need no lookup and are not what the tests
 * look at.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
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

/* Wait until the file GATE exists, polling every 10 ms, for at most 60 s. */
static void wait_for_gate(const char *gate)
{
	struct timespec tick = { 0, 10 * 1000000L };
	int i;

	if (gate == NULL || *gate == '\0') {
		return;
	}
	for (i = 0; i < 6000 && access(gate, F_OK) != 0; i++) {
		nanosleep(&tick, NULL);
	}
}

static int is_numeric(const char *host)
{
	unsigned char addr[16];
	char v6[64];
	size_t len = strlen(host);

	if (inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1) {
		return 1;
	}
	/* [::1] */
	if (len > 2 && len < sizeof(v6) + 2 && host[0] == '[' &&
	    host[len - 1] == ']') {
		memcpy(v6, host + 1, len - 2);
		v6[len - 2] = '\0';
		return inet_pton(AF_INET6, v6, addr) == 1;
	}
	return 0;
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
	if (host == NULL || is_numeric(host) ||
	    (hints != NULL && (hints->ai_flags & AI_NUMERICHOST) != 0)) {
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
	wait_for_gate(getenv("SLOW_GAI_GATE"));
	rc = real(host, port, hints, res);
	note("end", host, port);
	return rc;
}
