/*
 * test_selfloop.c - tsock's guard against a relay that is its own back
 * end: which addresses are FRONT's, and which accepted clients are our
 * own connections come back
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <talloc.h>
#include "endpoint.h"
#include "selfloop.h"

static struct sockaddr_storage in4(const char *ip, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage in6(const char *ip, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin6_family = AF_INET6;
	in->sin6_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET6, ip, &in->sin6_addr), 1);
	return ss;
}

#define SA(ss) ((struct sockaddr *)&(ss))

/* Rule: a FRONT on one address is that address and port only, of its type. */
static void test_front_one_address(void **state)
{
	struct selfloop *s = selfloop_create(NULL);
	struct sockaddr_storage front = in4("127.0.0.1", 4000);
	struct sockaddr_storage a;

	selfloop_set_front(s, &front, sizeof(struct sockaddr_in), true, false);
	a = in4("127.0.0.1", 4000);
	assert_true(selfloop_is_front(s, true, SA(a), sizeof(struct sockaddr_in)));
	/* a UDP port of the same number is another socket */
	assert_false(selfloop_is_front(s, false, SA(a),
				       sizeof(struct sockaddr_in)));
	a = in4("127.0.0.1", 4001);
	assert_false(selfloop_is_front(s, true, SA(a), sizeof(struct sockaddr_in)));
	a = in4("127.0.0.2", 4000);
	assert_false(selfloop_is_front(s, true, SA(a), sizeof(struct sockaddr_in)));
	/* the same address written as IPv4-mapped IPv6 */
	a = in6("::ffff:127.0.0.1", 4000);
	assert_true(selfloop_is_front(s, true, SA(a), sizeof(struct sockaddr_in6)));
	talloc_free(s);
}

/*
 * Rule: a FRONT on every address is this host's addresses at its port
 * (of its family, or both for a dual-stack one), not other hosts'.
 */
static void test_front_every_address(void **state)
{
	struct selfloop *s = selfloop_create(NULL);
	struct sockaddr_storage front = in4("0.0.0.0", 4000);
	struct sockaddr_storage a;

	selfloop_set_front(s, &front, sizeof(struct sockaddr_in), true, false);
	a = in4("127.0.0.1", 4000);
	assert_true(selfloop_is_front(s, true, SA(a), sizeof(struct sockaddr_in)));
	a = in4("127.0.0.7", 4000);	/* all of 127/8 is this host's */
	assert_true(selfloop_is_front(s, true, SA(a), sizeof(struct sockaddr_in)));
	a = in4("192.0.2.1", 4000);	/* TEST-NET-1: nobody's here */
	assert_false(selfloop_is_front(s, true, SA(a), sizeof(struct sockaddr_in)));
	a = in6("::1", 4000);		/* an IPv4 socket takes no IPv6 */
	assert_false(selfloop_is_front(s, true, SA(a), sizeof(struct sockaddr_in6)));
	talloc_free(s);

	s = selfloop_create(NULL);
	front = in6("::", 4000);
	selfloop_set_front(s, &front, sizeof(struct sockaddr_in6), true, true);
	a = in4("127.0.0.1", 4000);
	assert_true(selfloop_is_front(s, true, SA(a), sizeof(struct sockaddr_in)));
	talloc_free(s);

	s = selfloop_create(NULL);
	selfloop_set_front(s, &front, sizeof(struct sockaddr_in6), true, false);
	a = in4("127.0.0.1", 4000);	/* IPv6 only: IPv4 is someone else */
	assert_false(selfloop_is_front(s, true, SA(a), sizeof(struct sockaddr_in)));
	talloc_free(s);
}

/* Rule: a unix FRONT is its socket file, under any name. */
static void test_front_path(void **state)
{
	char dir[] = "/tmp/selfloop.XXXXXX", path[64], link[64], other[64];
	struct sockaddr_storage ss;
	struct sockaddr_un *un = (struct sockaddr_un *)&ss;
	struct selfloop *s = selfloop_create(NULL);
	struct endpoint ep = { .carries = CARRIES_BYTES };
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	snprintf(link, sizeof(link), "%s/l", dir);
	snprintf(other, sizeof(other), "%s/./s", dir);
	memset(&ss, 0, sizeof(ss));
	un->sun_family = AF_UNIX;
	strcpy(un->sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, SA(ss), sizeof(*un)), 0);
	assert_int_equal(symlink(path, link), 0);
	selfloop_set_front(s, &ss, sizeof(*un), true, false);

	assert_true(selfloop_is_front_path(s, path));
	assert_true(selfloop_is_front_path(s, link));
	assert_true(selfloop_is_front_path(s, other));
	assert_false(selfloop_is_front_path(s, dir));
	ep.path = link;
	assert_true(selfloop_is_front_endpoint(s, &ep));
	close(fd);
	unlink(link);
	unlink(path);
	rmdir(dir);
	talloc_free(s);
}

/* Rule: BACK written as FRONT's address is FRONT; a name is not looked up. */
static void test_front_endpoint(void **state)
{
	struct selfloop *s = selfloop_create(NULL);
	struct sockaddr_storage front = in4("127.0.0.1", 4000);
	struct endpoint tcp = { .carries = CARRIES_BYTES, .host = "127.0.0.1",
				.port = 4000 };
	struct endpoint udp = { .carries = CARRIES_DATAGRAMS, .host = "127.0.0.1",
				.port = 4000 };
	struct endpoint name = { .carries = CARRIES_BYTES, .host = "localhost",
				 .port = 4000 };

	selfloop_set_front(s, &front, sizeof(struct sockaddr_in), true, false);
	assert_true(selfloop_is_front_endpoint(s, &tcp));
	assert_false(selfloop_is_front_endpoint(s, &udp));
	assert_false(selfloop_is_front_endpoint(s, &name));
	talloc_free(s);
}

/* A listener on 127.0.0.1 and a client connected to it: the accepted fd. */
static int accepted_pair(int *lfd, int *cfd, struct sockaddr_storage *peer,
			 socklen_t *peer_len, unsigned *lport)
{
	struct sockaddr_storage ss = in4("127.0.0.1", 0);
	socklen_t len = sizeof(struct sockaddr_in);
	int afd;

	*lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(*lfd, SA(ss), len), 0);
	assert_int_equal(listen(*lfd, 4), 0);
	assert_int_equal(getsockname(*lfd, SA(ss), &len), 0);
	*lport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	*cfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(*cfd, SA(ss), len), 0);
	*peer_len = sizeof(*peer);
	afd = accept(*lfd, SA(*peer), peer_len);
	assert_true(afd >= 0);
	return afd;
}

/*
 * Rule: a client is our own connection come back only if it comes from
 * our connection's address and reached what that connection asked for;
 * a client that merely has the port of one of our connections to
 * somewhere else (the kernel shares ports between destinations) is not.
 */
static void test_find_conn(void **state)
{
	struct selfloop *s = selfloop_create(NULL);
	TALLOC_CTX *owner = talloc_new(NULL);
	struct sockaddr_storage peer, elsewhere, front;
	socklen_t peer_len;
	unsigned lport;
	int lfd, cfd, afd, data = 1;

	afd = accepted_pair(&lfd, &cfd, &peer, &peer_len, &lport);
	/* ours, from the client's very address, to another place */
	elsewhere = in4("127.0.0.1", lport == 65535 ? 1 : lport + 1);
	assert_non_null(selfloop_note_conn(s, owner, &peer, peer_len,
					   SA(elsewhere),
					   sizeof(struct sockaddr_in), &data));
	assert_null(selfloop_find_conn(s, afd, &peer, peer_len));
	/* ours, to this listener: the client is us */
	front = in4("127.0.0.1", lport);
	assert_non_null(selfloop_note_conn(s, owner, &peer, peer_len,
					   SA(front),
					   sizeof(struct sockaddr_in), &data));
	assert_ptr_equal(selfloop_find_conn(s, afd, &peer, peer_len), &data);
	/* the note goes with its owner */
	talloc_free(owner);
	assert_null(selfloop_find_conn(s, afd, &peer, peer_len));
	close(afd);
	close(cfd);
	close(lfd);
	talloc_free(s);
}

/* Rule: notes that outlive the table do not touch it when freed. */
static void test_table_freed_first(void **state)
{
	struct selfloop *s = selfloop_create(NULL);
	TALLOC_CTX *owner = talloc_new(NULL);
	struct sockaddr_storage local = in4("127.0.0.1", 5000);
	struct sockaddr_storage remote = in4("127.0.0.1", 6000);

	assert_non_null(selfloop_note_conn(s, owner, &local,
					   sizeof(struct sockaddr_in),
					   SA(remote),
					   sizeof(struct sockaddr_in), NULL));
	talloc_free(s);
	talloc_free(owner);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_front_one_address),
		cmocka_unit_test(test_front_every_address),
		cmocka_unit_test(test_front_path),
		cmocka_unit_test(test_front_endpoint),
		cmocka_unit_test(test_find_conn),
		cmocka_unit_test(test_table_freed_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
