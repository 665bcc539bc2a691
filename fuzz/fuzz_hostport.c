/*
 * fuzz_hostport.c - fuzz target for the inet address parsers
 *
 * tsocket_address_inet_from_hostport_strings() and
 * tsocket_address_inet_from_strings(), then tsocket_address_string() and
 * the other accessors on what they return.  The input is the address text
 * up to the first NUL, so the seed corpus is plain text; two bytes after
 * the NUL, if there are, give the default port; the empty input stands
 * for NULL (the "any" address).  Each input is parsed for
 * every family name (and an unknown one).  Checked besides the sanitizers:
 *  - failures are EINVAL, or EAFNOSUPPORT for an unknown family only,
 *    and always for an unknown family when the address is good;
 *  - a parsed address is of the family asked for, "ip" finds the same
 *    address as "ipv4" or "ipv6" does, and a bare address that
 *    inet_from_strings takes, inet_from_hostport_strings takes too;
 *  - the string form is "ipv4:ADDR:PORT" or "ipv6:ADDR:PORT" with ADDR
 *    from tsocket_address_inet_addr_string(), and ADDR and PORT parse
 *    back to the same address, as do a copy and the struct sockaddr.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "tsocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Addresses are short; longer inputs only slow the fuzzer down. */
#define MAX_INPUT 512

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
		abort();						\
	}								\
} while (0)

/* The family names the API knows (in any case), and one it does not. */
static const char *const families[] = {
	"ip", "ipv4", "ipv6", "IPv4", "IP", "ipx",
};

/* AF_UNSPEC for "ip", AF_INET, AF_INET6, or -1 for an unknown name. */
static int family_of(const char *name)
{
	if (strcasecmp(name, "ip") == 0) {
		return AF_UNSPEC;
	}
	if (strcasecmp(name, "ipv4") == 0) {
		return AF_INET;
	}
	if (strcasecmp(name, "ipv6") == 0) {
		return AF_INET6;
	}
	return -1;
}

/* addr's string form is str */
static void check_same(TALLOC_CTX *mem_ctx, struct tsocket_address *addr,
		       const char *str)
{
	char *s = tsocket_address_string(addr, mem_ctx);

	CHECK(s != NULL);
	if (strcmp(s, str) != 0) {
		fprintf(stderr, "'%s' came back as '%s'\n", str, s);
	}
	CHECK(strcmp(s, str) == 0);
}

/*
 * An unknown family may be noticed after a bad port (EINVAL), which is
 * fine; that it is EAFNOSUPPORT for good addresses is checked later.
 */
static void check_failure(int ret, int err, int want)
{
	CHECK(ret == -1);
	if (want == -1) {
		CHECK(err == EAFNOSUPPORT || err == EINVAL);
	} else {
		CHECK(err == EINVAL || err == ENOMEM);
	}
}

/*
 * Check one parsed address against the family asked for; returns its
 * string form (on mem_ctx).
 */
static char *check_address(TALLOC_CTX *mem_ctx, struct tsocket_address *addr,
			   const char *fam)
{
	int want = family_of(fam);
	struct tsocket_address *copy, *back;
	struct sockaddr_storage ss;
	const char *prefix;
	char *str, *host, *expect, *hostport;
	uint16_t port;
	ssize_t salen;
	bool v6;

	CHECK(addr != NULL);
	CHECK(want != -1);
	CHECK(tsocket_address_is_inet(addr, "ip"));
	CHECK(tsocket_address_is_inet(addr, fam));
	CHECK(!tsocket_address_is_unix(addr));
	v6 = tsocket_address_is_inet(addr, "ipv6");
	CHECK(v6 != tsocket_address_is_inet(addr, "ipv4"));
	CHECK(want == AF_UNSPEC || v6 == (want == AF_INET6));

	str = tsocket_address_string(addr, mem_ctx);
	CHECK(str != NULL);
	host = tsocket_address_inet_addr_string(addr, mem_ctx);
	CHECK(host != NULL);
	port = tsocket_address_inet_port(addr);
	prefix = v6 ? "ipv6" : "ipv4";
	expect = talloc_asprintf(mem_ctx, "%s:%s:%u", prefix, host,
				 (unsigned)port);
	CHECK(expect != NULL);
	if (strcmp(str, expect) != 0) {
		fprintf(stderr, "string '%s', expected '%s'\n", str, expect);
	}
	CHECK(strcmp(str, expect) == 0);

	/* the numeric form and the port give the same address back */
	back = NULL;
	CHECK(tsocket_address_inet_from_strings(mem_ctx, "ip", host, port,
						&back) == 0);
	check_same(mem_ctx, back, str);
	hostport = talloc_asprintf(mem_ctx, v6 ? "[%s]:%u" : "%s:%u", host,
				   (unsigned)port);
	CHECK(hostport != NULL);
	back = NULL;
	CHECK(tsocket_address_inet_from_hostport_strings(mem_ctx, "ip",
		hostport, (uint16_t)(port + 1), &back) == 0);
	check_same(mem_ctx, back, str);

	/* a copy is equal, and changing it leaves the original alone */
	copy = tsocket_address_copy(addr, mem_ctx);
	CHECK(copy != NULL);
	check_same(mem_ctx, copy, str);
	CHECK(tsocket_address_inet_set_port(copy, (uint16_t)(port + 1)) == 0);
	CHECK(tsocket_address_inet_port(copy) == (uint16_t)(port + 1));
	CHECK(tsocket_address_inet_port(addr) == port);

	/* and so does the struct sockaddr */
	salen = tsocket_address_bsd_sockaddr(addr, (struct sockaddr *)&ss,
					     sizeof(ss));
	CHECK(salen == (ssize_t)(v6 ? sizeof(struct sockaddr_in6)
				    : sizeof(struct sockaddr_in)));
	back = NULL;
	CHECK(tsocket_address_bsd_from_sockaddr(mem_ctx,
		(struct sockaddr *)&ss, (size_t)salen, &back) == 0);
	check_same(mem_ctx, back, str);
	return str;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsocket_address *addr, *hp_addr;
	char *str[sizeof(families) / sizeof(families[0])];
	char *hp_str[sizeof(families) / sizeof(families[0])];
	int unknown_err = 0, hp_unknown_err = 0;
	uint16_t default_port = 4711;
	TALLOC_CTX *mem;
	char *text;
	size_t len, i;
	int ret, err;

	if (size > MAX_INPUT) {
		return 0;
	}
	len = strnlen((const char *)data, size);
	if (size >= len + 3) {
		default_port = (uint16_t)(data[len + 1] << 8 | data[len + 2]);
	}
	mem = talloc_new(NULL);
	CHECK(mem != NULL);
	/* the empty input stands for NULL, "any address" */
	text = NULL;
	if (size > 0) {
		text = talloc_strndup(mem, (const char *)data, len);
		CHECK(text != NULL);
	}

	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		const char *fam = families[i];
		int want = family_of(fam);

		str[i] = hp_str[i] = NULL;

		addr = NULL;
		errno = 0;
		ret = tsocket_address_inet_from_strings(mem, fam, text,
							default_port, &addr);
		err = errno;
		if (ret == 0) {
			CHECK(want != -1);
			str[i] = check_address(mem, addr, fam);
			CHECK(tsocket_address_inet_port(addr) == default_port);
		} else {
			check_failure(ret, err, want);
			CHECK(addr == NULL);
			if (want == -1) {
				unknown_err = err;
			}
		}

		hp_addr = NULL;
		errno = 0;
		ret = tsocket_address_inet_from_hostport_strings(mem, fam,
					text, default_port, &hp_addr);
		err = errno;
		if (ret == 0) {
			CHECK(want != -1);
			hp_str[i] = check_address(mem, hp_addr, fam);
		} else {
			check_failure(ret, err, want);
			CHECK(hp_addr == NULL);
			if (want == -1) {
				hp_unknown_err = err;
			}
		}

		/* a bare address is a host:port without the port */
		if (str[i] != NULL) {
			if (hp_str[i] == NULL) {
				fprintf(stderr, "'%s' is an address, but "
					"not a host:port\n", text);
			}
			CHECK(hp_str[i] != NULL);
			CHECK(strcmp(str[i], hp_str[i]) == 0);
		}
	}
	/* NULL is any address, of IPv4 unless IPv6 is asked for */
	if (text == NULL) {
		char *any4 = talloc_asprintf(mem, "ipv4:0.0.0.0:%u",
					     (unsigned)default_port);
		char *any6 = talloc_asprintf(mem, "ipv6:" "::" ":%u",
					     (unsigned)default_port);

		CHECK(str[0] != NULL && strcmp(str[0], any4) == 0);
		CHECK(str[1] != NULL && strcmp(str[1], any4) == 0);
		CHECK(str[2] != NULL && strcmp(str[2], any6) == 0);
		CHECK(hp_str[2] != NULL && strcmp(hp_str[2], any6) == 0);
	}
	/* a good address with an unknown family: the family is the error */
	if (str[0] != NULL) {
		CHECK(unknown_err == EAFNOSUPPORT);
	}
	if (hp_str[0] != NULL) {
		CHECK(hp_unknown_err == EAFNOSUPPORT);
	}
	/*
	 * "ip" (families[0]) finds whatever a single family finds (but
	 * for NULL, which is 0.0.0.0 with "ip" and :: with "ipv6").
	 */
	for (i = 1; text != NULL && i < sizeof(families) / sizeof(families[0]);
	     i++) {
		if (str[i] != NULL) {
			CHECK(str[0] != NULL && strcmp(str[0], str[i]) == 0);
		}
		if (hp_str[i] != NULL) {
			CHECK(hp_str[0] != NULL &&
			      strcmp(hp_str[0], hp_str[i]) == 0);
		}
	}
	talloc_free(mem);
	return 0;
}
