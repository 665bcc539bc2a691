/*
 * test_endpoint.c - unit tests of tsock's endpoint table and parser
 * (src/kinds.c, src/endpoint.c, src/endpoint_options.c, src/kind_*.c's
 * parsers, src/parse.c)
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <talloc.h>
#include "endpoint.h"
#include "parse.h"

static const struct endpoint_settings defaults = {
	.connect_timeout_ms = 7000,
	.handshake_timeout_ms = 10000,
	.mode = -1,
	.cafile = "global-ca.pem",
};

/* Parse text (listening or not); NULL with *error. */
static struct endpoint *parse(TALLOC_CTX *mem, const char *text,
			      bool listening, char **error)
{
	*error = NULL;
	return endpoint_parse(mem, text, listening, AF_UNSPEC, &defaults,
			      error);
}

/* Parsing text fails with a message containing want. */
static void parse_fails(const char *text, bool listening, const char *want)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	char *error = NULL;

	assert_null(parse(mem, text, listening, &error));
	assert_non_null(error);
	if (strstr(error, want) == NULL) {
		fail_msg("'%s': got \"%s\", want \"%s\"", text, error, want);
	}
	/* every message names the endpoint as written */
	assert_true(strncmp(error, "endpoint '", 10) == 0);
	talloc_free(mem);
}

/* Rule: every kind and alias of the table is found by its name. */
static void test_table_lookup(void **state)
{
	const struct endpoint_kind *const *k;
	int family;

	for (k = endpoint_kinds; *k != NULL; k++) {
		assert_ptr_equal(endpoint_kind_find((*k)->name,
						    strlen((*k)->name),
						    &family), *k);
		assert_int_equal(family, AF_UNSPEC);
		assert_non_null((*k)->syntax);
		assert_non_null((*k)->help);
		/* what can listen can bind; what connects can open */
		assert_true(!((*k)->roles & KIND_LISTENS) ||
			    (*k)->bind != NULL || (*k)->is_stdio);
		assert_true(!((*k)->roles & KIND_CONNECTS) ||
			    (*k)->open != NULL || (*k)->open_send != NULL);
		assert_non_null(strstr(endpoint_kind_list(), (*k)->name));
	}
	assert_non_null(endpoint_kind_find("tcp6", 4, &family));
	assert_int_equal(family, AF_INET6);
	assert_null(endpoint_kind_find("tcp7", 4, &family));
	assert_true(endpoint_is_type_word("tcp"));
	assert_true(endpoint_is_type_word("exec"));
	assert_false(endpoint_is_type_word("stdio"));
	assert_false(endpoint_is_type_word("systemd"));
	assert_false(endpoint_is_type_word("nonsense"));
}

/* Rule: an unknown kind names itself and every kind there is. */
static void test_unknown_kind(void **state)
{
	parse_fails("foo:1.2.3.4:5", false, "unknown endpoint type 'foo': "
		    "expected one of tcp, tcp4, tcp6, udp");
	parse_fails("127.0.0.1", false, "unknown endpoint type '127.0.0.1'");
	parse_fails("tcp", false, "missing address after the type "
		    "(tcp:HOST:PORT)");
	parse_fails("stdio:x", false, "stdio takes no address");
	parse_fails("exec:cat", true, "exec endpoints cannot listen");
	parse_fails("systemd", false, "cannot be connected to");
}

static void test_inet(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct endpoint *ep;
	char *error;

	ep = parse(mem, "tcp4:example.org:445", false, &error);
	assert_non_null(ep);
	assert_string_equal(ep->kind->name, "tcp");
	assert_int_equal(ep->family, AF_INET);
	assert_string_equal(ep->host, "example.org");
	assert_int_equal(ep->port, 445);
	assert_int_equal(ep->carries, CARRIES_BYTES);
	ep = parse(mem, "udp:[::1]:53", false, &error);
	assert_non_null(ep);
	assert_int_equal(ep->carries, CARRIES_DATAGRAMS);
	assert_string_equal(ep->host, "::1");
	ep = parse(mem, "tcp:8080", true, &error);
	assert_non_null(ep);
	assert_null(ep->host);
	parse_fails("tcp:8080", false, "missing port");
	parse_fails("tcp:h:0", false, "port 0 is only valid when listening");
	parse_fails("tcp:::1:80", false, "put IPv6 addresses in brackets");
	talloc_free(mem);
}

/* Rule: options override the defaults for their endpoint alone. */
static void test_options_override(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct endpoint *ep;
	char *error;

	ep = parse(mem, "tls:h:443,cafile=mine.pem,servername=x,insecure,"
		   "timeout=1.5", false, &error);
	assert_non_null(ep);
	assert_string_equal(ep->host, "h");
	assert_string_equal(ep->set.cafile, "mine.pem");
	assert_string_equal(ep->set.servername, "x");
	assert_true(ep->set.insecure);
	assert_int_equal(ep->set.connect_timeout_ms, 1500);
	/* the others keep the defaults */
	assert_int_equal(ep->set.handshake_timeout_ms, 10000);
	ep = parse(mem, "tls:h:443", false, &error);
	assert_string_equal(ep->set.cafile, "global-ca.pem");
	assert_int_equal(ep->set.connect_timeout_ms, 7000);
	ep = parse(mem, "tls:h:443,insecure=no", false, &error);
	assert_false(ep->set.insecure);
	ep = parse(mem, "unix:/run/s,mode=0660", true, &error);
	assert_non_null(ep);
	assert_string_equal(ep->path, "/run/s");
	assert_int_equal(ep->set.mode, 0660);
	talloc_free(mem);
}

/* Rule: a comma not followed by an option, or escaped, is the address's. */
static void test_commas_in_addresses(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct endpoint *ep;
	char *error;

	ep = parse(mem, "unix:/tmp/a,b", false, &error);
	assert_non_null(ep);
	assert_string_equal(ep->path, "/tmp/a,b");
	ep = parse(mem, "unix:/tmp/a\\,mode=1", true, &error);
	assert_non_null(ep);
	assert_string_equal(ep->path, "/tmp/a,mode=1");
	assert_int_equal(ep->set.mode, -1);
	ep = parse(mem, "exec:sort -t, -k2", false, &error);
	assert_non_null(ep);
	assert_string_equal(ep->argv[1], "-t,");
	ep = parse(mem, "tls:h:1,cafile=a\\,b.pem", false, &error);
	assert_non_null(ep);
	assert_string_equal(ep->set.cafile, "a,b.pem");
	talloc_free(mem);
}

static void test_options_errors(void **state)
{
	parse_fails("tls:h:1,cafle=x", false,
		    "unknown option 'cafle' (tls endpoints take timeout, "
		    "cafile, cert, key, servername, pin, insecure, "
		    "require-client-cert, alpn, priority, min-version, via, "
		    "send-proxy, accept-proxy)");
	parse_fails("tcp:h:1,cafile=x", false, "option 'cafile' does not "
		    "apply to tcp endpoints (they take timeout, via, send-proxy, "
		    "accept-proxy)");
	parse_fails("stdio,timeout=1", false, "option 'timeout' does not "
		    "apply to stdio endpoints (they take no options)");
	parse_fails("unix:/s,mode=0600", false, "option 'mode' applies only "
		    "to a listening endpoint");
	parse_fails("tls:h:1,servername=x", true, "option 'servername' "
		    "applies only to an endpoint tsock connects to");
	parse_fails("tcp:h:1,timeout=soon", false,
		    "option 'timeout': invalid value 'soon'");
	parse_fails("tls:h:1,cafile=", false, "option 'cafile' needs a value");
	parse_fails("unix:/s,mode=9", true, "option 'mode': invalid value");
	parse_fails("unix:@x,mode=0600", true, "mode= needs a socket file");
	parse_fails("tls:h:1,min-version=1.4", false, "option 'min-version': "
		    "invalid value '1.4' (expected 1.0, 1.1, 1.2 or 1.3)");
	parse_fails("tls:h:1,min-version=13", true, "option 'min-version': "
		    "invalid value '13'");
	parse_fails("tls:h:1,min-version=1.", false, "invalid value '1.'");
	parse_fails("tls:h:1,min-version=1.20", false, "invalid value");
	parse_fails("tls:h:1,alpn=", false, "option 'alpn' needs a value");
	parse_fails("tcp:h:1,alpn=h2", false, "option 'alpn' does not apply "
		    "to tcp endpoints");
	parse_fails("tcp:h:1,priority=NORMAL", false, "option 'priority' "
		    "does not apply to tcp endpoints");
}

/*
 * Rule: alpn=, priority= and min-version= apply to tls endpoints on both
 * sides; ':' in values is theirs (priority strings and ALPN lists use it);
 * the defaults are none.
 */
static void test_tls_protocol_options(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	static const char *const versions[] = { "1.0", "1.1", "1.2", "1.3" };
	struct endpoint *ep;
	char *error, *text;
	size_t i;

	ep = parse(mem, "tls:h:443,alpn=h2:http/1.1,priority=NORMAL:"
		   "-VERS-TLS1.3,min-version=1.2,cafile=c.pem", false, &error);
	assert_non_null(ep);
	assert_string_equal(ep->set.alpn, "h2:http/1.1");
	assert_string_equal(ep->set.priority, "NORMAL:-VERS-TLS1.3");
	assert_int_equal(ep->set.min_version, 12);
	assert_string_equal(ep->set.cafile, "c.pem");
	ep = parse(mem, "tls::8443,alpn=h2,priority=SECURE256,min-version=1.3",
		   true, &error);
	assert_non_null(ep);
	assert_string_equal(ep->set.alpn, "h2");
	assert_string_equal(ep->set.priority, "SECURE256");
	assert_int_equal(ep->set.min_version, 13);
	ep = parse(mem, "tls:h:443", false, &error);
	assert_non_null(ep);
	assert_null(ep->set.alpn);
	assert_null(ep->set.priority);
	assert_int_equal(ep->set.min_version, 0);
	for (i = 0; i < 4; i++) {
		text = talloc_asprintf(mem, "tls:h:1,min-version=%s",
				       versions[i]);
		ep = parse(mem, text, false, &error);
		assert_non_null(ep);
		assert_int_equal(ep->set.min_version, 10 + (int)i);
	}
	talloc_free(mem);
}

static void test_unix(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	char longname[120];
	struct endpoint *ep;
	char *error;

	ep = parse(mem, "unix:@abstract", false, &error);
	assert_non_null(ep);
	assert_string_equal(ep->path, "@abstract");
	ep = parse(mem, "unix-seqpacket:/s", true, &error);
	assert_non_null(ep);
	assert_int_equal(ep->carries, CARRIES_MESSAGES);
	memset(longname, 'a', sizeof(longname));
	longname[0] = '@';
	longname[109] = '\0';	/* 108 bytes after the '@' */
	parse_fails(talloc_asprintf(mem, "unix:%s", longname), false,
		    "abstract name too long for a unix socket (at most 107");
	longname[108] = '\0';	/* 107: fits */
	assert_non_null(parse(mem, talloc_asprintf(mem, "unix:%s", longname),
			      false, &error));
	parse_fails("unix:@", false, "missing name after '@'");
	parse_fails("unix:", false, "missing path");
	talloc_free(mem);
}

/* Rule: exec: splits like a shell, without expanding anything. */
static void test_exec_words(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct endpoint *ep;
	char *error;

	ep = parse(mem, "exec:printf '%s|' \"a b\" c\\ d '' $HOME", false,
		   &error);
	assert_non_null(ep);
	assert_string_equal(ep->argv[0], "printf");
	assert_string_equal(ep->argv[1], "%s|");
	assert_string_equal(ep->argv[2], "a b");
	assert_string_equal(ep->argv[3], "c d");
	assert_string_equal(ep->argv[4], "");
	assert_string_equal(ep->argv[5], "$HOME");
	assert_null(ep->argv[6]);
	ep = parse(mem, "sh:echo $HOME | wc", false, &error);
	assert_non_null(ep);
	assert_string_equal(ep->argv[0], "/bin/sh");
	assert_string_equal(ep->argv[1], "-c");
	assert_string_equal(ep->argv[2], "echo $HOME | wc");
	parse_fails("exec:", false, "empty command");
	parse_fails("exec:   ", false, "empty command");
	parse_fails("exec:a \"b", false, "missing closing \"");
	talloc_free(mem);
}

static void test_fd_and_systemd(void **state)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct endpoint *ep;
	char *error;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	ep = parse(mem, talloc_asprintf(mem, "fd:%d", sv[0]), false, &error);
	assert_non_null(ep);
	assert_int_equal(ep->fd, sv[0]);
	assert_int_equal(ep->carries, CARRIES_MESSAGES);
	parse_fails(talloc_asprintf(mem, "fd:%d", sv[0]), true,
		    "is a connected socket, not a listening one");
	close(sv[0]);
	close(sv[1]);
	parse_fails(talloc_asprintf(mem, "fd:%d", sv[0]), false,
		    "is not open");
	parse_fails("fd:-1", false, "expected a descriptor number");
	unsetenv("LISTEN_PID");
	parse_fails("systemd", true, "no sockets passed");
	setenv("LISTEN_PID", talloc_asprintf(mem, "%d", (int)getpid()), 1);
	setenv("LISTEN_FDS", "2", 1);
	setenv("LISTEN_FDNAMES", "a:b", 1);
	parse_fails("systemd", true, "2 sockets passed: name one");
	parse_fails("systemd:c", true, "no socket named 'c' passed "
		    "(LISTEN_FDNAMES=a:b)");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	talloc_free(mem);
}

static void test_parse_helpers(void **state)
{
	int ms = 0, mode = 0;
	unsigned n = 0;
	size_t size = 0;
	bool b = false;

	assert_true(parse_seconds("0.0001", &ms));
	assert_int_equal(ms, 1);	/* positive: never 0 */
	assert_true(parse_seconds("2.5", &ms));
	assert_int_equal(ms, 2500);
	assert_false(parse_seconds("-1", &ms));
	assert_false(parse_seconds("3e9", &ms));
	assert_true(parse_count("1000000000", &n));
	assert_false(parse_count("0", &n));
	assert_true(parse_size("64k", &size));
	assert_int_equal(size, 65536);
	assert_false(parse_size(" 1", &size));
	assert_true(parse_mode("660", &mode));
	assert_int_equal(mode, 0660);
	assert_false(parse_mode("8", &mode));
	assert_true(parse_bool("off", &b));
	assert_false(b);
	assert_false(parse_bool("maybe", &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_lookup),
		cmocka_unit_test(test_unknown_kind),
		cmocka_unit_test(test_inet),
		cmocka_unit_test(test_options_override),
		cmocka_unit_test(test_commas_in_addresses),
		cmocka_unit_test(test_options_errors),
		cmocka_unit_test(test_tls_protocol_options),
		cmocka_unit_test(test_unix),
		cmocka_unit_test(test_exec_words),
		cmocka_unit_test(test_fd_and_systemd),
		cmocka_unit_test(test_parse_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
