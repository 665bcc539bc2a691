/*
 * selfloop.c - keeping a relay from being its own back end
 *
 * See selfloop.h.  Addresses are compared in one canonical form, IPv4
 * ones as IPv4-mapped IPv6 addresses, so that a dual-stack FRONT that
 * sees an IPv4 client as ::ffff:a.b.c.d matches the IPv4 address of
 * our own connection.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/netfilter_ipv4.h>	/* SO_ORIGINAL_DST */
#include "endpoint.h"
#include "selfloop.h"

/*
 * Noted connections are found by port: a bucket per port value modulo
 * this, so that a note costs a look into one short list even with
 * thousands of clients.
 */
#define SELFLOOP_BUCKETS 1024

struct inet_key {
	struct in6_addr addr;	/* IPv4 as ::ffff:a.b.c.d */
	uint16_t port;		/* host order */
};

struct selfloop_conn {
	struct selfloop *table;	/* NULL once the table is gone */
	struct selfloop_conn *prev, *next;
	struct inet_key key;	/* our own address */
	struct inet_key remote;	/* the address we asked for */
	void *data;
};

struct selfloop {
	bool have_front;
	bool front_stream;	/* a stream socket, not a datagram one */
	bool front_any;		/* bound to every address */
	bool front_dual;	/* ... of IPv6 and IPv4 */
	bool front_v4;		/* bound to an IPv4 address */
	struct inet_key front;
	bool have_file;		/* a unix FRONT's socket file */
	char abstract[110];	/* or its abstract name, "@NAME" */
	dev_t dev;
	ino_t ino;
	struct selfloop_conn *buckets[SELFLOOP_BUCKETS];
};

/* sa in canonical form; false for anything but IPv4 and IPv6. */
static bool inet_key_of(const struct sockaddr *sa, socklen_t len,
			struct inet_key *key)
{
	memset(key, 0, sizeof(*key));
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		key->addr.s6_addr[10] = 0xff;
		key->addr.s6_addr[11] = 0xff;
		memcpy(&key->addr.s6_addr[12], &in->sin_addr, 4);
		key->port = ntohs(in->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)sa;

		key->addr = in6->sin6_addr;
		key->port = ntohs(in6->sin6_port);
		return true;
	}
	return false;
}

static bool inet_key_equal(const struct inet_key *a, const struct inet_key *b)
{
	return a->port == b->port &&
	       memcmp(&a->addr, &b->addr, sizeof(a->addr)) == 0;
}

static int selfloop_destructor(struct selfloop *s)
{
	struct selfloop_conn *c;
	size_t i;

	/* notes that outlive the table must not unlink from it */
	for (i = 0; i < SELFLOOP_BUCKETS; i++) {
		for (c = s->buckets[i]; c != NULL; c = c->next) {
			c->table = NULL;
		}
	}
	return 0;
}

struct selfloop *selfloop_create(TALLOC_CTX *mem_ctx)
{
	struct selfloop *s = talloc_zero(mem_ctx, struct selfloop);

	if (s != NULL) {
		talloc_set_destructor(s, selfloop_destructor);
	}
	return s;
}

void selfloop_set_front(struct selfloop *s, const struct sockaddr_storage *ss,
			socklen_t len, bool stream, bool dual)
{
	const struct sockaddr *sa = (const struct sockaddr *)ss;
	struct stat st;

	if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)ss;

		size_t off = offsetof(struct sockaddr_un, sun_path);

		if (len > off + 1 && un->sun_path[0] == '\0' &&
		    len - off - 1 < sizeof(s->abstract)) {
			/* an abstract name: kept as "@NAME" */
			s->abstract[0] = '@';
			memcpy(s->abstract + 1, un->sun_path + 1,
			       len - off - 1);
			s->abstract[len - off] = '\0';
			return;
		}
		/* unnamed sockets have no file */
		if (len > offsetof(struct sockaddr_un, sun_path) + 1 &&
		    un->sun_path[0] != '\0' &&
		    stat(un->sun_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
			s->have_file = true;
			s->dev = st.st_dev;
			s->ino = st.st_ino;
		}
		return;
	}
	if (!inet_key_of(sa, len, &s->front)) {
		return;
	}
	s->have_front = true;
	s->front_stream = stream;
	s->front_v4 = sa->sa_family == AF_INET;
	if (s->front_v4) {
		s->front_any = ((const struct sockaddr_in *)ss)->sin_addr.s_addr
			       == htonl(INADDR_ANY);
	} else {
		s->front_any = IN6_IS_ADDR_UNSPECIFIED(
			&((const struct sockaddr_in6 *)ss)->sin6_addr);
		s->front_dual = s->front_any && dual;
	}
}

/*
 * True if sa is an address of this host: one a socket can be bound to
 * (port 0, so nothing is taken).  Asked only when FRONT listens on every
 * address and the port is FRONT's.
 */
static bool is_local_address(const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage probe;
	int fd, ret;

	if (len > sizeof(probe)) {
		return false;
	}
	memcpy(&probe, sa, len);
	if (sa->sa_family == AF_INET) {
		((struct sockaddr_in *)&probe)->sin_port = 0;
	} else {
		((struct sockaddr_in6 *)&probe)->sin6_port = 0;
	}
	fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		return false;
	}
	ret = bind(fd, (struct sockaddr *)&probe, len);
	close(fd);
	return ret == 0;
}

bool selfloop_is_front(const struct selfloop *s, bool stream,
		       const struct sockaddr *sa, socklen_t len)
{
	struct inet_key key;
	bool v4;

	if (s == NULL || !s->have_front || stream != s->front_stream ||
	    !inet_key_of(sa, len, &key) || key.port != s->front.port) {
		return false;
	}
	v4 = IN6_IS_ADDR_V4MAPPED(&key.addr);
	if (!s->front_any) {
		return inet_key_equal(&key, &s->front);
	}
	/* every address: of our family (or both), and this host's */
	if (v4 != s->front_v4 && !(v4 && s->front_dual)) {
		return false;
	}
	return is_local_address(sa, len);
}

bool selfloop_is_front_path(const struct selfloop *s, const char *path)
{
	struct stat st;

	if (s != NULL && path[0] == '@') {
		return strcmp(s->abstract, path) == 0;
	}
	/* stat follows symlinks: every name of the file counts */
	return s != NULL && s->have_file && stat(path, &st) == 0 &&
	       st.st_dev == s->dev && st.st_ino == s->ino;
}

bool selfloop_is_front_endpoint(const struct selfloop *s,
				const struct endpoint *ep)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *res = NULL, *ai;
	char port[8];
	bool found = false;

	if (ep->path != NULL) {
		return selfloop_is_front_path(s, ep->path);
	}
	if (s == NULL || ep->host == NULL) {
		return false;	/* stdio, exec...: no address of ours */
	}
	snprintf(port, sizeof(port), "%u", (unsigned)ep->port);
	hints.ai_family = ep->family;
	hints.ai_socktype = endpoint_is_stream(ep) ? SOCK_STREAM : SOCK_DGRAM;
	if (getaddrinfo(ep->host, port, &hints, &res) != 0) {
		return false;	/* a name */
	}
	for (ai = res; ai != NULL && !found; ai = ai->ai_next) {
		found = selfloop_is_front(s, endpoint_is_stream(ep), ai->ai_addr,
					  ai->ai_addrlen);
	}
	freeaddrinfo(res);
	return found;
}

static int selfloop_conn_destructor(struct selfloop_conn *c)
{
	if (c->table == NULL) {
		return 0;
	}
	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		c->table->buckets[c->key.port % SELFLOOP_BUCKETS] = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	return 0;
}

struct selfloop_conn *selfloop_note_conn(struct selfloop *s, TALLOC_CTX *owner,
					 const struct sockaddr_storage *local,
					 socklen_t local_len,
					 const struct sockaddr *remote,
					 socklen_t remote_len, void *data)
{
	struct selfloop_conn *c, **head;

	c = talloc_zero(owner, struct selfloop_conn);
	if (c == NULL) {
		return NULL;
	}
	if (!inet_key_of((const struct sockaddr *)local, local_len, &c->key) ||
	    !inet_key_of(remote, remote_len, &c->remote)) {
		return c;	/* unix: nothing a client could match */
	}
	c->table = s;
	c->data = data;
	head = &s->buckets[c->key.port % SELFLOOP_BUCKETS];
	c->next = *head;
	if (*head != NULL) {
		(*head)->prev = c;
	}
	*head = c;
	talloc_set_destructor(c, selfloop_conn_destructor);
	return c;
}

/*
 * What the client on fd connected to: the address it reached (ours),
 * and, if a NAT rule redirected it, the one it asked for.
 */
static void accepted_destinations(int fd, struct inet_key *reached,
				  struct inet_key *asked)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	bool v6 = false;

	memset(reached, 0, sizeof(*reached));
	memset(asked, 0, sizeof(*asked));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		inet_key_of((struct sockaddr *)&ss, len, reached);
		v6 = ss.ss_family == AF_INET6;
	}
	/* IPv4 (also mapped into a dual-stack socket), then IPv6 */
	len = sizeof(ss);
	if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len) == 0 ||
	    (v6 && (len = sizeof(ss),
		    getsockopt(fd, SOL_IPV6, SO_ORIGINAL_DST, &ss,
			       &len) == 0))) {
		inet_key_of((struct sockaddr *)&ss, len, asked);
	}
}

void *selfloop_find_conn(const struct selfloop *s, int fd,
			 const struct sockaddr_storage *peer, socklen_t len)
{
	const struct selfloop_conn *c;
	struct inet_key key, reached, asked;
	bool looked = false;

	if (s == NULL ||
	    !inet_key_of((const struct sockaddr *)peer, len, &key)) {
		return NULL;
	}
	for (c = s->buckets[key.port % SELFLOOP_BUCKETS]; c != NULL;
	     c = c->next) {
		if (!inet_key_equal(&c->key, &key)) {
			continue;
		}
		if (!looked) {	/* only for a client from one of our ports */
			accepted_destinations(fd, &reached, &asked);
			looked = true;
		}
		if (inet_key_equal(&c->remote, &reached) ||
		    inet_key_equal(&c->remote, &asked)) {
			return c->data;
		}
	}
	return NULL;
}
