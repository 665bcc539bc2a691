/*
 * test_address.c - unit tests of the libtsocket address functions
 *
 * Covers every tsocket_address function of tsocket.h: printable strings,
 * copies, inet addresses from strings and host:port strings, the inet and
 * unix getters, unix paths and the struct sockaddr conversions.  Each test
 * names the rule of tsocket.h (or of DESIGN.md, "The library contract")
 * that it checks.
 *
 * SPDX-License-Identifier: MIT
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tsocket.h"
#include "tsocket_internal.h"
#include "test_util.h"

#define SUN_PATH_SIZE (sizeof(((struct sockaddr_un *)NULL)->sun_path))

/* ------------------------------------------------------------------ */
/* Fixtures and helpers                                               */
/* ------------------------------------------------------------------ */

/* Every test gets a fresh talloc context; teardown frees it. */
static int setup_ctx(void **state)
{
	*state = talloc_new(NULL);
	return *state == NULL ? -1 : 0;
}

static int teardown_ctx(void **state)
{
	talloc_free(*state);
	return 0;
}

#define ADDR_TEST(f) cmocka_unit_test_setup_teardown(f, setup_ctx, \
						      teardown_ctx)

/* Build an inet address that must succeed. */
static struct tsocket_address *mk_inet(TALLOC_CTX *mem_ctx,
				       const char *family,
				       const char *str, uint16_t port)
{
	struct tsocket_address *addr = NULL;
	int ret;

	errno = 0;
	ret = tsocket_address_inet_from_strings(mem_ctx, family, str, port,
						&addr);
	if (ret != 0 || addr == NULL) {
		fail_msg("inet_from_strings(\"%s\", \"%s\", %u) failed: "
			 "ret %d, errno %d (%s)", family,
			 str ? str : "(null)", (unsigned)port, ret, errno,
			 strerror(errno));
	}
	return addr;
}

/* Build a unix address that must succeed. */
static struct tsocket_address *mk_unix(TALLOC_CTX *mem_ctx, const char *path)
{
	struct tsocket_address *addr = NULL;
	int ret;

	errno = 0;
	ret = tsocket_address_unix_from_path(mem_ctx, path, &addr);
	if (ret != 0 || addr == NULL) {
		fail_msg("unix_from_path(\"%s\") failed: ret %d, errno %d (%s)",
			 path ? path : "(null)", ret, errno, strerror(errno));
	}
	return addr;
}

/* tsocket_address_string(addr) must be exactly expected. */
static void check_string(const struct tsocket_address *addr,
			 const char *expected)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char *s;

	assert_non_null(tmp);
	s = tsocket_address_string(addr, tmp);
	if (s == NULL || strcmp(s, expected) != 0) {
		char buf[256];

		snprintf(buf, sizeof(buf), "%s", s ? s : "(null)");
		talloc_free(tmp);
		fail_msg("address string \"%s\", expected \"%s\"", buf,
			 expected);
	}
	talloc_free(tmp);
}

/* tsocket_address_inet_addr_string(addr) must be exactly expected. */
static void check_addr_string(const struct tsocket_address *addr,
			      const char *expected)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char *s;

	assert_non_null(tmp);
	s = tsocket_address_inet_addr_string(addr, tmp);
	if (s == NULL || strcmp(s, expected) != 0) {
		char buf[256];

		snprintf(buf, sizeof(buf), "%s", s ? s : "(null)");
		talloc_free(tmp);
		fail_msg("inet addr string \"%s\", expected \"%s\"", buf,
			 expected);
	}
	talloc_free(tmp);
}

/* tsocket_address_unix_path(addr) must be exactly expected. */
static void check_unix_path(const struct tsocket_address *addr,
			    const char *expected)
{
	TALLOC_CTX *tmp = talloc_new(NULL);
	char *s;

	assert_non_null(tmp);
	s = tsocket_address_unix_path(addr, tmp);
	if (s == NULL || strcmp(s, expected) != 0) {
		char buf[256];

		snprintf(buf, sizeof(buf), "%.200s", s ? s : "(null)");
		talloc_free(tmp);
		fail_msg("unix path \"%s\", expected \"%.200s\"", buf,
			 expected);
	}
	talloc_free(tmp);
}

/* inet_from_strings(family, str) must fail with -1 and errno err. */
static void check_inet_fails(TALLOC_CTX *mem_ctx, const char *family,
			     const char *str, int err)
{
	struct tsocket_address *addr = NULL;
	int ret;

	errno = 0;
	ret = tsocket_address_inet_from_strings(mem_ctx, family, str, 445,
						&addr);
	if (ret != -1 || errno != err) {
		fail_msg("inet_from_strings(\"%s\", \"%s\"): ret %d errno %d "
			 "(%s), expected -1 errno %d (%s)", family,
			 str ? str : "(null)", ret, errno, strerror(errno),
			 err, strerror(err));
	}
}

/* inet_from_hostport_strings(family, str) must fail with -1 and err. */
static void check_hostport_fails(TALLOC_CTX *mem_ctx, const char *family,
				 const char *str, int err)
{
	struct tsocket_address *addr = NULL;
	int ret;

	errno = 0;
	ret = tsocket_address_inet_from_hostport_strings(mem_ctx, family, str,
							 99, &addr);
	if (ret != -1 || errno != err) {
		fail_msg("hostport(\"%s\", \"%s\"): ret %d errno %d (%s), "
			 "expected -1 errno %d (%s)", family, str, ret, errno,
			 strerror(errno), err, strerror(err));
	}
}

/* Get the sockaddr behind addr, asserting the expected length. */
static void get_sockaddr(const struct tsocket_address *addr,
			 struct sockaddr_storage *ss, ssize_t expected_len)
{
	ssize_t len;

	memset(ss, 0xa5, sizeof(*ss));
	errno = 0;
	len = tsocket_address_bsd_sockaddr(addr, (struct sockaddr *)ss,
					   sizeof(*ss));
	assert_int_equal(len, expected_len);
}

/* ------------------------------------------------------------------ */
/* A minimal non-BSD backend, to have an address that is not BSD      */
/* ------------------------------------------------------------------ */

struct fake_addr {
	int value;
};

static char *fake_string(const struct tsocket_address *addr,
			 TALLOC_CTX *mem_ctx)
{
	struct fake_addr *f = addr->private_data;

	return talloc_asprintf(mem_ctx, "fake:%d", f->value);
}

static struct tsocket_address *fake_copy(const struct tsocket_address *addr,
					 TALLOC_CTX *mem_ctx,
					 const char *location);

static const struct tsocket_address_ops fake_ops = {
	.name = "fake",
	.string = fake_string,
	.copy = fake_copy,
};

static struct tsocket_address *fake_new(TALLOC_CTX *mem_ctx, int value,
					const char *location)
{
	struct tsocket_address *addr;
	struct fake_addr *f = NULL;

	addr = tsocket_address_create(mem_ctx, &fake_ops, &f,
				      struct fake_addr, location);
	if (addr == NULL) {
		return NULL;
	}
	f->value = value;
	return addr;
}

static struct tsocket_address *fake_copy(const struct tsocket_address *addr,
					 TALLOC_CTX *mem_ctx,
					 const char *location)
{
	struct fake_addr *f = addr->private_data;

	return fake_new(mem_ctx, f->value, location);
}

/* ------------------------------------------------------------------ */
/* tsocket_address_string                                             */
/* ------------------------------------------------------------------ */

/* Rule: an IPv4 address prints as "ipv4:ADDR:PORT", allocated on mem_ctx. */
static void test_string_ipv4(void **state)
{
	TALLOC_CTX *ctx = *state;
	TALLOC_CTX *other = talloc_new(ctx);
	struct tsocket_address *addr;
	char *s;

	addr = mk_inet(ctx, "ipv4", "1.2.3.4", 445);
	check_string(addr, "ipv4:1.2.3.4:445");

	s = tsocket_address_string(addr, other);
	assert_non_null(s);
	assert_string_equal(s, "ipv4:1.2.3.4:445");
	assert_ptr_equal(talloc_parent(s), other);

	addr = mk_inet(ctx, "ip", "255.255.255.255", 65535);
	check_string(addr, "ipv4:255.255.255.255:65535");
	addr = mk_inet(ctx, "ipv4", "10.0.0.1", 0);
	check_string(addr, "ipv4:10.0.0.1:0");
}

/* Rule: an IPv6 address prints as "ipv6:ADDR:PORT" with no brackets. */
static void test_string_ipv6(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct tsocket_address *addr;

	addr = mk_inet(ctx, "ipv6", "::1", 445);
	check_string(addr, "ipv6:::1:445");
	addr = mk_inet(ctx, "ip", "2001:db8::1", 80);
	check_string(addr, "ipv6:2001:db8::1:80");
	addr = mk_inet(ctx, "ipv6", "::", 0);
	check_string(addr, "ipv6::::0");
}

/* Rule: a unix address prints as "unix:PATH" ("unix:" for the empty path). */
static void test_string_unix(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct tsocket_address *addr;

	addr = mk_unix(ctx, "/tmp/tsocket.sock");
	check_string(addr, "unix:/tmp/tsocket.sock");
	addr = mk_unix(ctx, "relative/sock");
	check_string(addr, "unix:relative/sock");
	addr = mk_unix(ctx, NULL);
	check_string(addr, "unix:");
}

/* Rule: tsocket_address_string(NULL) returns NULL with errno EINVAL. */
static void test_string_null(void **state)
{
	TALLOC_CTX *ctx = *state;
	char *s;

	errno = 0;
	s = tsocket_address_string(NULL, ctx);
	assert_null(s);
	assert_int_equal(errno, EINVAL);
}

/* ------------------------------------------------------------------ */
/* tsocket_address_copy                                               */
/* ------------------------------------------------------------------ */

/*
 * Rule: a copy is a deep copy on mem_ctx; changing the port of one does
 * not touch the other, and the copy outlives the original.
 */
static void test_copy_inet_independent(void **state)
{
	TALLOC_CTX *ctx = *state;
	TALLOC_CTX *a_ctx = talloc_new(ctx);
	TALLOC_CTX *b_ctx = talloc_new(ctx);
	struct tsocket_address *orig, *copy;

	assert_non_null(a_ctx);
	assert_non_null(b_ctx);
	orig = mk_inet(a_ctx, "ipv4", "192.0.2.1", 1000);

	copy = tsocket_address_copy(orig, b_ctx);
	assert_non_null(copy);
	assert_ptr_not_equal(copy, orig);
	assert_ptr_equal(talloc_parent(copy), b_ctx);
	check_string(copy, "ipv4:192.0.2.1:1000");
	assert_true(tsocket_address_is_inet(copy, "ipv4"));

	assert_int_equal(tsocket_address_inet_set_port(copy, 2000), 0);
	assert_int_equal(tsocket_address_inet_port(copy), 2000);
	assert_int_equal(tsocket_address_inet_port(orig), 1000);
	check_string(orig, "ipv4:192.0.2.1:1000");

	assert_int_equal(tsocket_address_inet_set_port(orig, 3000), 0);
	assert_int_equal(tsocket_address_inet_port(copy), 2000);
	check_string(copy, "ipv4:192.0.2.1:2000");

	/* the copy shares nothing with the original */
	talloc_free(a_ctx);
	check_string(copy, "ipv4:192.0.2.1:2000");
	check_addr_string(copy, "192.0.2.1");
}

/* Rule: copying an IPv6 address keeps address, port and scope. */
static void test_copy_ipv6(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct tsocket_address *orig, *copy;
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	orig = mk_inet(ctx, "ipv6", "fe80::1%1", 53);
	copy = tsocket_address_copy(orig, ctx);
	assert_non_null(copy);
	assert_ptr_not_equal(copy, orig);
	assert_true(tsocket_address_is_inet(copy, "ipv6"));
	assert_int_equal(tsocket_address_inet_port(copy), 53);

	get_sockaddr(copy, &ss, sizeof(struct sockaddr_in6));
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(sin6->sin6_scope_id, 1);

	assert_int_equal(tsocket_address_inet_set_port(copy, 54), 0);
	assert_int_equal(tsocket_address_inet_port(orig), 53);
	talloc_free(orig);
	assert_int_equal(tsocket_address_inet_port(copy), 54);
}

/* Rule: copying a unix address is deep; the copy outlives the original. */
static void test_copy_unix(void **state)
{
	TALLOC_CTX *ctx = *state;
	TALLOC_CTX *a_ctx = talloc_new(ctx);
	struct tsocket_address *orig, *copy;

	assert_non_null(a_ctx);
	orig = mk_unix(a_ctx, "/run/test.sock");
	copy = tsocket_address_copy(orig, ctx);
	assert_non_null(copy);
	assert_ptr_equal(talloc_parent(copy), ctx);
	assert_true(tsocket_address_is_unix(copy));
	assert_false(tsocket_address_is_inet(copy, "ip"));
	talloc_free(a_ctx);
	check_unix_path(copy, "/run/test.sock");
	check_string(copy, "unix:/run/test.sock");
}

/* ------------------------------------------------------------------ */
/* tsocket_address_inet_from_strings                                  */
/* ------------------------------------------------------------------ */

/*
 * Rule: family is "ip" (detect), "ipv4" or "ipv6", case-insensitive;
 * the address and the port are kept.
 */
static void test_inet_from_strings_families(void **state)
{
	static const struct {
		const char *family;
		const char *str;
		const char *kind;
		const char *printed;
	} cases[] = {
		{ "ip", "1.2.3.4", "ipv4", "ipv4:1.2.3.4:445" },
		{ "ip", "::1", "ipv6", "ipv6:::1:445" },
		{ "ipv4", "127.0.0.1", "ipv4", "ipv4:127.0.0.1:445" },
		{ "ipv6", "2001:db8::5", "ipv6", "ipv6:2001:db8::5:445" },
		{ "IP", "10.9.8.7", "ipv4", "ipv4:10.9.8.7:445" },
		{ "Ip", "fd00::2", "ipv6", "ipv6:fd00::2:445" },
		{ "IPv4", "1.2.3.4", "ipv4", "ipv4:1.2.3.4:445" },
		{ "IPV4", "0.0.0.1", "ipv4", "ipv4:0.0.0.1:445" },
		{ "IPv6", "::1", "ipv6", "ipv6:::1:445" },
		{ "iPV6", "::", "ipv6", "ipv6::::445" },
	};
	TALLOC_CTX *ctx = *state;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tsocket_address *addr = NULL;
		const char *other;
		int ret;

		errno = 0;
		ret = tsocket_address_inet_from_strings(ctx, cases[i].family,
							cases[i].str, 445,
							&addr);
		if (ret != 0 || addr == NULL) {
			fail_msg("inet_from_strings(\"%s\", \"%s\"): ret %d "
				 "errno %d (%s)", cases[i].family,
				 cases[i].str, ret, errno, strerror(errno));
		}
		assert_ptr_equal(talloc_parent(addr), ctx);
		assert_true(tsocket_address_is_inet(addr, "ip"));
		assert_true(tsocket_address_is_inet(addr, cases[i].kind));
		other = strcmp(cases[i].kind, "ipv4") == 0 ? "ipv6" : "ipv4";
		assert_false(tsocket_address_is_inet(addr, other));
		assert_false(tsocket_address_is_unix(addr));
		assert_int_equal(tsocket_address_inet_port(addr), 445);
		check_addr_string(addr, cases[i].str);
		check_string(addr, cases[i].printed);
	}
}

/* Rule: a NULL address string means 0.0.0.0 ("ip", "ipv4") or :: ("ipv6"). */
static void test_inet_from_strings_any(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct tsocket_address *addr;

	addr = mk_inet(ctx, "ipv4", NULL, 80);
	assert_true(tsocket_address_is_inet(addr, "ipv4"));
	check_addr_string(addr, "0.0.0.0");
	check_string(addr, "ipv4:0.0.0.0:80");

	addr = mk_inet(ctx, "ip", NULL, 81);
	assert_true(tsocket_address_is_inet(addr, "ipv4"));
	check_addr_string(addr, "0.0.0.0");
	assert_int_equal(tsocket_address_inet_port(addr), 81);

	addr = mk_inet(ctx, "ipv6", NULL, 82);
	assert_true(tsocket_address_is_inet(addr, "ipv6"));
	check_addr_string(addr, "::");
	check_string(addr, "ipv6::::82");

	addr = mk_inet(ctx, "IPv6", NULL, 0);
	assert_true(tsocket_address_is_inet(addr, "ipv6"));
	assert_int_equal(tsocket_address_inet_port(addr), 0);
}

/* Rule: the ports 0 and 65535 are kept as given. */
static void test_inet_from_strings_port_range(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct tsocket_address *addr;

	addr = mk_inet(ctx, "ipv4", "1.2.3.4", 0);
	assert_int_equal(tsocket_address_inet_port(addr), 0);
	addr = mk_inet(ctx, "ipv4", "1.2.3.4", 65535);
	assert_int_equal(tsocket_address_inet_port(addr), 65535);
	addr = mk_inet(ctx, "ipv6", "::1", 65535);
	assert_int_equal(tsocket_address_inet_port(addr), 65535);
}

/*
 * Rule: only numeric addresses are accepted (no DNS); a bad address fails
 * with -1 and errno EINVAL.
 */
static void test_inet_from_strings_bad_address(void **state)
{
	static const char *const bad[] = {
		"1.2.3.4.5", "", "localhost", "1.2.3", "1.2.3.256",
		"1.2.3.4:80", "[::1]", "::1::2", "1.2.3.4%1", "::g",
		"example.com", "garbage", "fe80::1%", "fe80::1%0",
	};
	static const char *const families[] = { "ip", "ipv4", "ipv6" };
	TALLOC_CTX *ctx = *state;
	size_t i, f;

	for (f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			check_inet_fails(ctx, families[f], bad[i], EINVAL);
		}
	}
}

/* Rule: an address of the other family than the one asked for is EINVAL. */
static void test_inet_from_strings_mismatch(void **state)
{
	TALLOC_CTX *ctx = *state;

	check_inet_fails(ctx, "ipv6", "1.2.3.4", EINVAL);
	check_inet_fails(ctx, "ipv6", "127.0.0.1", EINVAL);
	check_inet_fails(ctx, "IPv6", "0.0.0.0", EINVAL);
	check_inet_fails(ctx, "ipv4", "::1", EINVAL);
	check_inet_fails(ctx, "ipv4", "2001:db8::1", EINVAL);
	check_inet_fails(ctx, "IPV4", "::", EINVAL);
	check_inet_fails(ctx, "ipv4", "fe80::1%1", EINVAL);
}

/* Rule: an unknown family fails with -1 and errno EAFNOSUPPORT. */
static void test_inet_from_strings_unknown_family(void **state)
{
	static const char *const families[] = {
		"ipx", "ipv5", "ipv46", "unix", "inet", "", "ip ",
	};
	TALLOC_CTX *ctx = *state;
	size_t i;

	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		check_inet_fails(ctx, families[i], "1.2.3.4", EAFNOSUPPORT);
		check_inet_fails(ctx, families[i], NULL, EAFNOSUPPORT);
	}
}

/* Rule: IPv6 strings may carry a numeric scope ("fe80::1%1"), kept. */
static void test_inet_from_strings_scope(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct tsocket_address *addr;
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct in6_addr want;

	assert_int_equal(inet_pton(AF_INET6, "fe80::1", &want), 1);

	addr = mk_inet(ctx, "ipv6", "fe80::1%1", 445);
	assert_true(tsocket_address_is_inet(addr, "ipv6"));
	assert_int_equal(tsocket_address_inet_port(addr), 445);
	get_sockaddr(addr, &ss, sizeof(struct sockaddr_in6));
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_memory_equal(&sin6->sin6_addr, &want, sizeof(want));
	assert_int_equal(sin6->sin6_scope_id, 1);
	assert_int_equal(ntohs(sin6->sin6_port), 445);

	addr = mk_inet(ctx, "ip", "fe80::1%1", 446);
	assert_true(tsocket_address_is_inet(addr, "ipv6"));
	get_sockaddr(addr, &ss, sizeof(struct sockaddr_in6));
	assert_int_equal(sin6->sin6_scope_id, 1);
}

/* Rule: an IPv6 scope may also be an interface name ("fe80::1%lo"). */
static void test_inet_from_strings_scope_ifname(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct tsocket_address *addr;
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	unsigned idx = if_nametoindex("lo");

	if (idx == 0) {
		skip();
	}
	addr = mk_inet(ctx, "ipv6", "fe80::1%lo", 445);
	get_sockaddr(addr, &ss, sizeof(struct sockaddr_in6));
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(sin6->sin6_scope_id, idx);
}

/* ------------------------------------------------------------------ */
/* tsocket_address_inet_from_hostport_strings                         */
/* ------------------------------------------------------------------ */

/*
 * Rule: "ADDR:PORT" and "[ADDR6]:PORT" give that port; a bare address
 * ("1.2.3.4", "::1", "[::1]") takes default_port.
 */
static void test_hostport_valid(void **state)
{
	static const struct {
		const char *family;
		const char *str;
		const char *kind;
		const char *addr;
		unsigned port;
	} cases[] = {
		{ "ip", "1.2.3.4:80", "ipv4", "1.2.3.4", 80 },
		{ "ipv4", "1.2.3.4:80", "ipv4", "1.2.3.4", 80 },
		{ "ip", "[::1]:80", "ipv6", "::1", 80 },
		{ "ipv6", "[::1]:80", "ipv6", "::1", 80 },
		{ "IPv6", "[2001:db8::7]:443", "ipv6", "2001:db8::7", 443 },
		{ "ip", "1.2.3.4", "ipv4", "1.2.3.4", 99 },
		{ "ip", "::1", "ipv6", "::1", 99 },
		{ "ipv6", "::1", "ipv6", "::1", 99 },
		{ "ip", "[::1]", "ipv6", "::1", 99 },
		{ "ip", "2001:db8::1", "ipv6", "2001:db8::1", 99 },
		{ "IPV4", "10.0.0.1:0", "ipv4", "10.0.0.1", 0 },
		{ "ip", "10.0.0.1:65535", "ipv4", "10.0.0.1", 65535 },
		{ "ip", "[::]:65535", "ipv6", "::", 65535 },
	};
	TALLOC_CTX *ctx = *state;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tsocket_address *addr = NULL;
		int ret;

		errno = 0;
		ret = tsocket_address_inet_from_hostport_strings(ctx,
				cases[i].family, cases[i].str, 99, &addr);
		if (ret != 0 || addr == NULL) {
			fail_msg("hostport(\"%s\", \"%s\"): ret %d errno %d "
				 "(%s)", cases[i].family, cases[i].str, ret,
				 errno, strerror(errno));
		}
		assert_ptr_equal(talloc_parent(addr), ctx);
		assert_true(tsocket_address_is_inet(addr, cases[i].kind));
		check_addr_string(addr, cases[i].addr);
		if (tsocket_address_inet_port(addr) != cases[i].port) {
			fail_msg("hostport(\"%s\"): port %u, expected %u",
				 cases[i].str,
				 (unsigned)tsocket_address_inet_port(addr),
				 cases[i].port);
		}
	}
}

/*
 * Rule: an empty, non-decimal or too large port, stray brackets and
 * trailing garbage fail with -1 and errno EINVAL.
 */
static void test_hostport_invalid(void **state)
{
	static const char *const bad[] = {
		"garbage", "", ":80", "localhost:80", "1.2.3.4:65536",
		"1.2.3.4:99999999999999999999", "1.2.3.4:", "1.2.3.4:8x",
		"1.2.3.4:x8", "1.2.3.4:-1", "1.2.3.4:80:90", "1.2.3.4.5:80",
		"[::1", "[::1]x", "[::1]:", "[::1]:65536", "[::1]:80x",
		"::1]", "::1]:80", "[]:80", "[1.2.3.4", "[::1]]:80",
	};
	TALLOC_CTX *ctx = *state;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		check_hostport_fails(ctx, "ip", bad[i], EINVAL);
	}
}

/* Rule: hostport follows the family rules of inet_from_strings. */
static void test_hostport_family(void **state)
{
	TALLOC_CTX *ctx = *state;

	check_hostport_fails(ctx, "ipv4", "[::1]:80", EINVAL);
	check_hostport_fails(ctx, "ipv4", "::1", EINVAL);
	check_hostport_fails(ctx, "ipv6", "1.2.3.4:80", EINVAL);
	check_hostport_fails(ctx, "ipv6", "1.2.3.4", EINVAL);
	check_hostport_fails(ctx, "ipx", "1.2.3.4:80", EAFNOSUPPORT);
	check_hostport_fails(ctx, "ipx", "[::1]:80", EAFNOSUPPORT);
}

/* ------------------------------------------------------------------ */
/* is_inet, is_unix and the getters                                   */
/* ------------------------------------------------------------------ */

/*
 * Rule: is_inet matches "ip" for both families and "ipv4"/"ipv6"
 * (case-insensitive) only for their own; false for NULL, unix addresses
 * and unknown families.
 */
static void test_is_inet(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct tsocket_address *v4, *v6, *un;

	v4 = mk_inet(ctx, "ipv4", "1.2.3.4", 1);
	v6 = mk_inet(ctx, "ipv6", "::1", 1);
	un = mk_unix(ctx, "/tmp/x");

	assert_true(tsocket_address_is_inet(v4, "ip"));
	assert_true(tsocket_address_is_inet(v4, "IP"));
	assert_true(tsocket_address_is_inet(v4, "ipv4"));
	assert_true(tsocket_address_is_inet(v4, "IPv4"));
	assert_false(tsocket_address_is_inet(v4, "ipv6"));
	assert_false(tsocket_address_is_inet(v4, "IPv6"));
	assert_false(tsocket_address_is_inet(v4, "ipx"));
	assert_false(tsocket_address_is_inet(v4, "unix"));

	assert_true(tsocket_address_is_inet(v6, "ip"));
	assert_true(tsocket_address_is_inet(v6, "Ip"));
	assert_true(tsocket_address_is_inet(v6, "ipv6"));
	assert_true(tsocket_address_is_inet(v6, "IPV6"));
	assert_false(tsocket_address_is_inet(v6, "ipv4"));
	assert_false(tsocket_address_is_inet(v6, "IPv4"));
	assert_false(tsocket_address_is_inet(v6, "ipx"));

	assert_false(tsocket_address_is_inet(un, "ip"));
	assert_false(tsocket_address_is_inet(un, "ipv4"));
	assert_false(tsocket_address_is_inet(un, "ipv6"));

	assert_false(tsocket_address_is_inet(NULL, "ip"));
	assert_false(tsocket_address_is_inet(NULL, "ipv4"));
	assert_false(tsocket_address_is_inet(NULL, "ipv6"));
}

/* Rule: is_unix is true for unix addresses only. */
static void test_is_unix(void **state)
{
	TALLOC_CTX *ctx = *state;

	assert_true(tsocket_address_is_unix(mk_unix(ctx, "/tmp/x")));
	assert_true(tsocket_address_is_unix(mk_unix(ctx, NULL)));
	assert_false(tsocket_address_is_unix(mk_inet(ctx, "ipv4",
						     "1.2.3.4", 1)));
	assert_false(tsocket_address_is_unix(mk_inet(ctx, "ipv6", "::1", 1)));
}

/*
 * Rule: on inet addresses inet_addr_string gives the numeric address on
 * mem_ctx, inet_port the port, and inet_set_port changes the port seen
 * by every other function.
 */
static void test_inet_getters(void **state)
{
	TALLOC_CTX *ctx = *state;
	TALLOC_CTX *other = talloc_new(ctx);
	struct tsocket_address *addr;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	char *s;

	assert_non_null(other);
	addr = mk_inet(ctx, "ipv4", "198.51.100.9", 7);
	s = tsocket_address_inet_addr_string(addr, other);
	assert_non_null(s);
	assert_string_equal(s, "198.51.100.9");
	assert_ptr_equal(talloc_parent(s), other);
	assert_int_equal(tsocket_address_inet_port(addr), 7);

	assert_int_equal(tsocket_address_inet_set_port(addr, 8080), 0);
	assert_int_equal(tsocket_address_inet_port(addr), 8080);
	check_string(addr, "ipv4:198.51.100.9:8080");
	get_sockaddr(addr, &ss, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(sin->sin_port), 8080);

	assert_int_equal(tsocket_address_inet_set_port(addr, 0), 0);
	assert_int_equal(tsocket_address_inet_port(addr), 0);
	check_addr_string(addr, "198.51.100.9");

	addr = mk_inet(ctx, "ipv6", "2001:db8::42", 9);
	check_addr_string(addr, "2001:db8::42");
	assert_int_equal(tsocket_address_inet_set_port(addr, 65535), 0);
	assert_int_equal(tsocket_address_inet_port(addr), 65535);
	check_string(addr, "ipv6:2001:db8::42:65535");
}

/* Rule: inet getters on a unix address give NULL / 0 / -1 with EINVAL. */
static void test_inet_getters_on_unix(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct tsocket_address *un = mk_unix(ctx, "/tmp/x");

	errno = 0;
	assert_null(tsocket_address_inet_addr_string(un, ctx));
	assert_int_equal(errno, EINVAL);

	errno = 0;
	assert_int_equal(tsocket_address_inet_port(un), 0);
	assert_int_equal(errno, EINVAL);

	errno = 0;
	assert_int_equal(tsocket_address_inet_set_port(un, 80), -1);
	assert_int_equal(errno, EINVAL);

	/* and the unix address is unchanged */
	check_unix_path(un, "/tmp/x");
}

/* Rule: unix_path on an inet address gives NULL with errno EINVAL. */
static void test_unix_path_on_inet(void **state)
{
	TALLOC_CTX *ctx = *state;

	errno = 0;
	assert_null(tsocket_address_unix_path(mk_inet(ctx, "ipv4", "1.2.3.4",
						      1), ctx));
	assert_int_equal(errno, EINVAL);

	errno = 0;
	assert_null(tsocket_address_unix_path(mk_inet(ctx, "ipv6", "::1", 1),
					      ctx));
	assert_int_equal(errno, EINVAL);
}

/* ------------------------------------------------------------------ */
/* tsocket_address_unix_from_path / tsocket_address_unix_path          */
/* ------------------------------------------------------------------ */

/*
 * Rule: unix_from_path keeps its own copy of the path; NULL means "";
 * unix_path returns the path on mem_ctx.
 */
static void test_unix_from_path(void **state)
{
	TALLOC_CTX *ctx = *state;
	TALLOC_CTX *other = talloc_new(ctx);
	struct tsocket_address *addr;
	char path[] = "/tmp/tsocket-test.sock";
	char *s;

	assert_non_null(other);
	addr = mk_unix(ctx, path);
	assert_ptr_equal(talloc_parent(addr), ctx);
	path[1] = 'X';
	s = tsocket_address_unix_path(addr, other);
	assert_non_null(s);
	assert_string_equal(s, "/tmp/tsocket-test.sock");
	assert_ptr_equal(talloc_parent(s), other);

	addr = mk_unix(ctx, NULL);
	check_unix_path(addr, "");
	addr = mk_unix(ctx, "");
	check_unix_path(addr, "");
	addr = mk_unix(ctx, "rel.sock");
	check_unix_path(addr, "rel.sock");
}

/*
 * Rule: a path that fits in sun_path with its NUL (107 bytes on Linux) is
 * accepted; one byte more fails with ENAMETOOLONG.
 */
static void test_unix_from_path_length(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct tsocket_address *addr = NULL;
	char path[4097];
	size_t max = SUN_PATH_SIZE - 1;
	int ret;

	memset(path, 'a', sizeof(path));
	path[0] = '/';

	path[max] = '\0';
	addr = mk_unix(ctx, path);
	check_unix_path(addr, path);
	assert_true(tsocket_address_is_unix(addr));

	path[max] = 'a';
	path[max + 1] = '\0';
	addr = NULL;
	errno = 0;
	ret = tsocket_address_unix_from_path(ctx, path, &addr);
	assert_int_equal(ret, -1);
	assert_int_equal(errno, ENAMETOOLONG);

	path[max + 1] = 'a';
	path[sizeof(path) - 1] = '\0';
	errno = 0;
	ret = tsocket_address_unix_from_path(ctx, path, &addr);
	assert_int_equal(ret, -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

/* ------------------------------------------------------------------ */
/* tsocket_address_bsd_from_sockaddr                                  */
/* ------------------------------------------------------------------ */

/* Rule: an AF_INET sockaddr becomes the same IPv4 address and back. */
static void test_bsd_from_sockaddr_inet(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct sockaddr_in sin;
	struct sockaddr_storage ss;
	struct sockaddr_in *out = (struct sockaddr_in *)&ss;
	struct tsocket_address *addr = NULL;
	int ret;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(5353);
	assert_int_equal(inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr), 1);

	errno = 0;
	ret = tsocket_address_bsd_from_sockaddr(ctx, (struct sockaddr *)&sin,
						sizeof(sin), &addr);
	assert_int_equal(ret, 0);
	assert_non_null(addr);
	assert_ptr_equal(talloc_parent(addr), ctx);
	assert_true(tsocket_address_is_inet(addr, "ipv4"));
	check_string(addr, "ipv4:192.0.2.7:5353");

	get_sockaddr(addr, &ss, sizeof(struct sockaddr_in));
	assert_int_equal(out->sin_family, AF_INET);
	assert_int_equal(out->sin_port, sin.sin_port);
	assert_memory_equal(&out->sin_addr, &sin.sin_addr,
			    sizeof(sin.sin_addr));

	/* the address keeps its own copy of the sockaddr */
	sin.sin_port = htons(1);
	assert_int_equal(tsocket_address_inet_port(addr), 5353);

	/* a sockaddr_storage sized length (as recvfrom callers pass) is ok */
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &sin, sizeof(sin));
	errno = 0;
	ret = tsocket_address_bsd_from_sockaddr(ctx, (struct sockaddr *)&ss,
						sizeof(ss), &addr);
	assert_int_equal(ret, 0);
	check_string(addr, "ipv4:192.0.2.7:1");
}

/* Rule: an AF_INET6 sockaddr (with scope) becomes the same IPv6 address. */
static void test_bsd_from_sockaddr_inet6(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct sockaddr_in6 sin6;
	struct sockaddr_storage ss;
	struct sockaddr_in6 *out = (struct sockaddr_in6 *)&ss;
	struct tsocket_address *addr = NULL, *again;
	char *s;
	int ret;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(44);
	sin6.sin6_scope_id = 1;
	assert_int_equal(inet_pton(AF_INET6, "fe80::abcd", &sin6.sin6_addr),
			 1);

	errno = 0;
	ret = tsocket_address_bsd_from_sockaddr(ctx, (struct sockaddr *)&sin6,
						sizeof(sin6), &addr);
	assert_int_equal(ret, 0);
	assert_non_null(addr);
	assert_true(tsocket_address_is_inet(addr, "ipv6"));
	assert_false(tsocket_address_is_inet(addr, "ipv4"));
	assert_int_equal(tsocket_address_inet_port(addr), 44);

	get_sockaddr(addr, &ss, sizeof(struct sockaddr_in6));
	assert_int_equal(out->sin6_family, AF_INET6);
	assert_int_equal(out->sin6_port, sin6.sin6_port);
	assert_int_equal(out->sin6_scope_id, 1);
	assert_memory_equal(&out->sin6_addr, &sin6.sin6_addr,
			    sizeof(sin6.sin6_addr));

	/*
	 * The printed address names the scope in some form; reading it back
	 * must give the same address and scope.
	 */
	s = tsocket_address_inet_addr_string(addr, ctx);
	assert_non_null(s);
	assert_int_equal(strncmp(s, "fe80::abcd", 10), 0);
	again = mk_inet(ctx, "ipv6", s, 44);
	get_sockaddr(again, &ss, sizeof(struct sockaddr_in6));
	assert_int_equal(out->sin6_scope_id, 1);
	assert_memory_equal(&out->sin6_addr, &sin6.sin6_addr,
			    sizeof(sin6.sin6_addr));

	/* a plain global address prints without brackets */
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(445);
	sin6.sin6_addr = in6addr_loopback;
	ret = tsocket_address_bsd_from_sockaddr(ctx, (struct sockaddr *)&sin6,
						sizeof(sin6), &addr);
	assert_int_equal(ret, 0);
	check_string(addr, "ipv6:::1:445");
}

/* Rule: an AF_UNIX sockaddr becomes the same unix address and back. */
static void test_bsd_from_sockaddr_unix(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct sockaddr_un su;
	struct sockaddr_storage ss;
	struct sockaddr_un *out = (struct sockaddr_un *)&ss;
	struct tsocket_address *addr = NULL;
	ssize_t len;
	int ret;

	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	strcpy(su.sun_path, "/tmp/tsocket-bsd.sock");

	errno = 0;
	ret = tsocket_address_bsd_from_sockaddr(ctx, (struct sockaddr *)&su,
						sizeof(su), &addr);
	assert_int_equal(ret, 0);
	assert_non_null(addr);
	assert_true(tsocket_address_is_unix(addr));
	assert_false(tsocket_address_is_inet(addr, "ip"));
	check_unix_path(addr, "/tmp/tsocket-bsd.sock");
	check_string(addr, "unix:/tmp/tsocket-bsd.sock");

	memset(&ss, 0xa5, sizeof(ss));
	len = tsocket_address_bsd_sockaddr(addr, (struct sockaddr *)&ss,
					   sizeof(ss));
	assert_true(len >= (ssize_t)(offsetof(struct sockaddr_un, sun_path) +
				     strlen(su.sun_path) + 1));
	assert_true(len <= (ssize_t)sizeof(struct sockaddr_un));
	assert_int_equal(out->sun_family, AF_UNIX);
	assert_string_equal(out->sun_path, "/tmp/tsocket-bsd.sock");
}

/* Rule: families other than AF_INET/AF_INET6/AF_UNIX are EAFNOSUPPORT. */
static void test_bsd_from_sockaddr_bad_family(void **state)
{
	static const int families[] = { AF_APPLETALK, AF_PACKET, AF_UNSPEC };
	TALLOC_CTX *ctx = *state;
	struct sockaddr_storage ss;
	size_t i;

	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		struct tsocket_address *addr = NULL;
		int ret;

		memset(&ss, 0, sizeof(ss));
		ss.ss_family = families[i];
		errno = 0;
		ret = tsocket_address_bsd_from_sockaddr(ctx,
				(struct sockaddr *)&ss, sizeof(ss), &addr);
		if (ret != -1 || errno != EAFNOSUPPORT) {
			fail_msg("bsd_from_sockaddr(family %d): ret %d errno "
				 "%d (%s), expected -1 EAFNOSUPPORT",
				 families[i], ret, errno, strerror(errno));
		}
	}
}

/* Rule: a socklen too small for the family (or too large) is EINVAL. */
static void test_bsd_from_sockaddr_bad_len(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct {
		struct sockaddr_storage ss;
		char extra[16];
	} big;
	struct sockaddr *sa = (struct sockaddr *)&big.ss;
	struct tsocket_address *addr = NULL;
	int ret;

	memset(&big, 0, sizeof(big));

	big.ss.ss_family = AF_INET;
	errno = 0;
	ret = tsocket_address_bsd_from_sockaddr(ctx, sa,
			sizeof(struct sockaddr_in) - 1, &addr);
	assert_int_equal(ret, -1);
	assert_int_equal(errno, EINVAL);

	errno = 0;
	ret = tsocket_address_bsd_from_sockaddr(ctx, sa, 0, &addr);
	assert_int_equal(ret, -1);
	assert_int_equal(errno, EINVAL);

	errno = 0;
	ret = tsocket_address_bsd_from_sockaddr(ctx, sa, 1, &addr);
	assert_int_equal(ret, -1);
	assert_int_equal(errno, EINVAL);

	big.ss.ss_family = AF_INET6;
	errno = 0;
	ret = tsocket_address_bsd_from_sockaddr(ctx, sa,
			sizeof(struct sockaddr_in6) - 1, &addr);
	assert_int_equal(ret, -1);
	assert_int_equal(errno, EINVAL);

	errno = 0;
	ret = tsocket_address_bsd_from_sockaddr(ctx, sa,
			sizeof(struct sockaddr_in), &addr);
	assert_int_equal(ret, -1);
	assert_int_equal(errno, EINVAL);

	/* larger than any sockaddr can be */
	big.ss.ss_family = AF_INET;
	errno = 0;
	ret = tsocket_address_bsd_from_sockaddr(ctx, sa,
			sizeof(struct sockaddr_storage) + 1, &addr);
	if (ret != -1 || errno != EINVAL) {
		fail_msg("bsd_from_sockaddr(AF_INET, socklen %zu > "
			 "sizeof(struct sockaddr_storage)): ret %d errno %d "
			 "(%s), expected -1 EINVAL",
			 sizeof(struct sockaddr_storage) + 1, ret, errno,
			 strerror(errno));
	}
}

/* Rule: bsd_from_sockaddr with a NULL sockaddr is EINVAL. */
static void test_bsd_from_sockaddr_null(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct tsocket_address *addr = NULL;
	int ret;

	errno = 0;
	ret = tsocket_address_bsd_from_sockaddr(ctx, NULL,
			sizeof(struct sockaddr_in), &addr);
	assert_int_equal(ret, -1);
	assert_int_equal(errno, EINVAL);
}

/* ------------------------------------------------------------------ */
/* tsocket_address_bsd_sockaddr                                       */
/* ------------------------------------------------------------------ */

/*
 * Rule: bsd_sockaddr copies the sockaddr out and returns its length;
 * wrapping that sockaddr again gives an equal address.
 */
static void test_bsd_sockaddr_roundtrip(void **state)
{
	static const struct {
		const char *family;
		const char *str;
		uint16_t port;
		size_t len;
		const char *printed;
	} cases[] = {
		{ "ipv4", "10.1.2.3", 1234, sizeof(struct sockaddr_in),
		  "ipv4:10.1.2.3:1234" },
		{ "ipv4", NULL, 0, sizeof(struct sockaddr_in),
		  "ipv4:0.0.0.0:0" },
		{ "ipv6", "2001:db8::99", 4321, sizeof(struct sockaddr_in6),
		  "ipv6:2001:db8::99:4321" },
		{ "ipv6", NULL, 1, sizeof(struct sockaddr_in6),
		  "ipv6::::1" },
	};
	TALLOC_CTX *ctx = *state;
	struct sockaddr_storage ss;
	struct tsocket_address *addr, *back = NULL;
	size_t i;
	ssize_t len;
	int ret;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		addr = mk_inet(ctx, cases[i].family, cases[i].str,
			       cases[i].port);
		get_sockaddr(addr, &ss, cases[i].len);
		if (cases[i].len == sizeof(struct sockaddr_in)) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			struct in_addr want;

			assert_int_equal(sin->sin_family, AF_INET);
			assert_int_equal(ntohs(sin->sin_port), cases[i].port);
			assert_int_equal(inet_pton(AF_INET,
				cases[i].str ? cases[i].str : "0.0.0.0",
				&want), 1);
			assert_memory_equal(&sin->sin_addr, &want,
					    sizeof(want));
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			struct in6_addr want;

			assert_int_equal(s6->sin6_family, AF_INET6);
			assert_int_equal(ntohs(s6->sin6_port), cases[i].port);
			assert_int_equal(inet_pton(AF_INET6,
				cases[i].str ? cases[i].str : "::", &want), 1);
			assert_memory_equal(&s6->sin6_addr, &want,
					    sizeof(want));
		}
		ret = tsocket_address_bsd_from_sockaddr(ctx,
				(struct sockaddr *)&ss, cases[i].len, &back);
		assert_int_equal(ret, 0);
		check_string(back, cases[i].printed);
	}

	/* unix: the path survives the trip both ways */
	addr = mk_unix(ctx, "/tmp/round.trip");
	memset(&ss, 0xa5, sizeof(ss));
	len = tsocket_address_bsd_sockaddr(addr, (struct sockaddr *)&ss,
					   sizeof(ss));
	assert_true(len > (ssize_t)offsetof(struct sockaddr_un, sun_path));
	assert_true(len <= (ssize_t)sizeof(struct sockaddr_un));
	assert_int_equal(((struct sockaddr_un *)&ss)->sun_family, AF_UNIX);
	assert_string_equal(((struct sockaddr_un *)&ss)->sun_path,
			    "/tmp/round.trip");
	memset((char *)&ss + len, 0, sizeof(ss) - (size_t)len);
	ret = tsocket_address_bsd_from_sockaddr(ctx, (struct sockaddr *)&ss,
						sizeof(struct sockaddr_un),
						&back);
	assert_int_equal(ret, 0);
	check_string(back, "unix:/tmp/round.trip");
}

/* Rule: a buffer too small for the sockaddr gives -1 with errno EINVAL. */
static void test_bsd_sockaddr_small_buffer(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct sockaddr_storage ss;
	struct sockaddr *sa = (struct sockaddr *)&ss;
	struct tsocket_address *v4, *v6, *un;
	ssize_t ulen;

	v4 = mk_inet(ctx, "ipv4", "1.2.3.4", 1);
	v6 = mk_inet(ctx, "ipv6", "::1", 1);
	un = mk_unix(ctx, "/tmp/tsocket-a-rather-long-unix-socket-path");

	errno = 0;
	assert_int_equal(tsocket_address_bsd_sockaddr(v4, sa,
			sizeof(struct sockaddr_in) - 1), -1);
	assert_int_equal(errno, EINVAL);

	errno = 0;
	assert_int_equal(tsocket_address_bsd_sockaddr(v4, sa, 0), -1);
	assert_int_equal(errno, EINVAL);

	errno = 0;
	assert_int_equal(tsocket_address_bsd_sockaddr(v6, sa,
			sizeof(struct sockaddr_in6) - 1), -1);
	assert_int_equal(errno, EINVAL);

	errno = 0;
	assert_int_equal(tsocket_address_bsd_sockaddr(v6, sa,
			sizeof(struct sockaddr_in)), -1);
	assert_int_equal(errno, EINVAL);

	/* a unix sockaddr may be shorter than sockaddr_un: use its length */
	ulen = tsocket_address_bsd_sockaddr(un, sa, sizeof(ss));
	assert_true(ulen > (ssize_t)offsetof(struct sockaddr_un, sun_path));
	errno = 0;
	assert_int_equal(tsocket_address_bsd_sockaddr(un, sa,
			(size_t)ulen - 1), -1);
	assert_int_equal(errno, EINVAL);

	/* exactly large enough is fine */
	assert_int_equal(tsocket_address_bsd_sockaddr(v4, sa,
			sizeof(struct sockaddr_in)),
			 (ssize_t)sizeof(struct sockaddr_in));
	assert_int_equal(tsocket_address_bsd_sockaddr(v6, sa,
			sizeof(struct sockaddr_in6)),
			 (ssize_t)sizeof(struct sockaddr_in6));
}

/*
 * Rule: an address that is not BSD (here one from a fake backend made
 * through tsocket_internal.h) is neither inet nor unix: the BSD
 * functions fail with EINVAL, while string and copy use its own ops.
 */
static void test_not_bsd_address(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct tsocket_address *fake, *copy;
	struct sockaddr_storage ss;

	fake = fake_new(ctx, 42, __location__);
	assert_non_null(fake);
	check_string(fake, "fake:42");
	copy = tsocket_address_copy(fake, ctx);
	assert_non_null(copy);
	assert_ptr_not_equal(copy, fake);
	check_string(copy, "fake:42");

	assert_false(tsocket_address_is_inet(fake, "ip"));
	assert_false(tsocket_address_is_unix(fake));

	errno = 0;
	assert_int_equal(tsocket_address_bsd_sockaddr(fake,
			(struct sockaddr *)&ss, sizeof(ss)), -1);
	assert_int_equal(errno, EINVAL);

	errno = 0;
	assert_null(tsocket_address_inet_addr_string(fake, ctx));
	assert_int_equal(errno, EINVAL);

	errno = 0;
	assert_int_equal(tsocket_address_inet_port(fake), 0);
	assert_int_equal(errno, EINVAL);

	errno = 0;
	assert_int_equal(tsocket_address_inet_set_port(fake, 1), -1);
	assert_int_equal(errno, EINVAL);

	errno = 0;
	assert_null(tsocket_address_unix_path(fake, ctx));
	assert_int_equal(errno, EINVAL);
}

/* ------------------------------------------------------------------ */
/* Constructor names                                                  */
/* ------------------------------------------------------------------ */

/* The talloc name of ptr must point at this file ("...test_address.c:N"). */
static void check_named_here(const void *ptr, const char *what)
{
	const char *name = talloc_get_name(ptr);

	if (name == NULL || strstr(name, "test_address.c:") == NULL) {
		fail_msg("%s: talloc name \"%s\", expected the caller's "
			 "location (test_address.c:LINE)", what,
			 name ? name : "(null)");
	}
}

/*
 * Rule: constructors shown as macros record the caller's source location
 * as the talloc name of the address they create.
 */
static void test_constructor_location(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct tsocket_address *addr = NULL, *copy;
	struct sockaddr_in sin;
	int ret;

	ret = tsocket_address_inet_from_strings(ctx, "ipv4", "1.2.3.4", 1,
						&addr);
	assert_int_equal(ret, 0);
	check_named_here(addr, "inet_from_strings");

	ret = tsocket_address_inet_from_hostport_strings(ctx, "ip",
							 "[::1]:80", 1, &addr);
	assert_int_equal(ret, 0);
	check_named_here(addr, "inet_from_hostport_strings");

	ret = tsocket_address_unix_from_path(ctx, "/tmp/x", &addr);
	assert_int_equal(ret, 0);
	check_named_here(addr, "unix_from_path");

	copy = tsocket_address_copy(addr, ctx);
	assert_non_null(copy);
	check_named_here(copy, "copy");

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	ret = tsocket_address_bsd_from_sockaddr(ctx, (struct sockaddr *)&sin,
						sizeof(sin), &addr);
	assert_int_equal(ret, 0);
	check_named_here(addr, "bsd_from_sockaddr");
}

/* ------------------------------------------------------------------ */
/* NULL addresses (kept last: a crash here must not hide other tests)  */
/* ------------------------------------------------------------------ */

/*
 * Rule: NULL is neither an inet nor a unix address, so the getters give
 * NULL / 0 / -1 with errno EINVAL and is_unix is false, like is_inet;
 * copying NULL fails with errno set.
 */
static void test_getters_on_null(void **state)
{
	TALLOC_CTX *ctx = *state;
	struct sockaddr_storage ss;

	assert_false(tsocket_address_is_unix(NULL));

	/* copy reports its failure through errno */
	errno = 0;
	assert_null(tsocket_address_copy(NULL, ctx));
	assert_int_not_equal(errno, 0);

	errno = 0;
	assert_null(tsocket_address_inet_addr_string(NULL, ctx));
	assert_int_equal(errno, EINVAL);

	errno = 0;
	assert_int_equal(tsocket_address_inet_port(NULL), 0);
	assert_int_equal(errno, EINVAL);

	errno = 0;
	assert_int_equal(tsocket_address_inet_set_port(NULL, 1), -1);
	assert_int_equal(errno, EINVAL);

	errno = 0;
	assert_null(tsocket_address_unix_path(NULL, ctx));
	assert_int_equal(errno, EINVAL);

	errno = 0;
	assert_int_equal(tsocket_address_bsd_sockaddr(NULL,
			(struct sockaddr *)&ss, sizeof(ss)), -1);
	assert_int_equal(errno, EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		ADDR_TEST(test_string_ipv4),
		ADDR_TEST(test_string_ipv6),
		ADDR_TEST(test_string_unix),
		ADDR_TEST(test_string_null),
		ADDR_TEST(test_copy_inet_independent),
		ADDR_TEST(test_copy_ipv6),
		ADDR_TEST(test_copy_unix),
		ADDR_TEST(test_inet_from_strings_families),
		ADDR_TEST(test_inet_from_strings_any),
		ADDR_TEST(test_inet_from_strings_port_range),
		ADDR_TEST(test_inet_from_strings_bad_address),
		ADDR_TEST(test_inet_from_strings_mismatch),
		ADDR_TEST(test_inet_from_strings_unknown_family),
		ADDR_TEST(test_inet_from_strings_scope),
		ADDR_TEST(test_inet_from_strings_scope_ifname),
		ADDR_TEST(test_hostport_valid),
		ADDR_TEST(test_hostport_invalid),
		ADDR_TEST(test_hostport_family),
		ADDR_TEST(test_is_inet),
		ADDR_TEST(test_is_unix),
		ADDR_TEST(test_inet_getters),
		ADDR_TEST(test_inet_getters_on_unix),
		ADDR_TEST(test_unix_path_on_inet),
		ADDR_TEST(test_unix_from_path),
		ADDR_TEST(test_unix_from_path_length),
		ADDR_TEST(test_bsd_from_sockaddr_inet),
		ADDR_TEST(test_bsd_from_sockaddr_inet6),
		ADDR_TEST(test_bsd_from_sockaddr_unix),
		ADDR_TEST(test_bsd_from_sockaddr_bad_family),
		ADDR_TEST(test_bsd_from_sockaddr_bad_len),
		ADDR_TEST(test_bsd_from_sockaddr_null),
		ADDR_TEST(test_bsd_sockaddr_roundtrip),
		ADDR_TEST(test_bsd_sockaddr_small_buffer),
		ADDR_TEST(test_not_bsd_address),
		ADDR_TEST(test_constructor_location),
		ADDR_TEST(test_getters_on_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
