/*
 * udp_front.c - one datagram socket serving many peers as sessions
 *
 * A session is a virtual tdgram_context (a backend written on
 * tsocket_internal.h): the front reads datagrams from the shared socket
 * and hands each to the session of its sender.  So the relay code sees a
 * session as just another datagram channel.
 *
 * All peers share the front socket's receive queue, so one peer that
 * floods it fills it: everyone else's datagrams are dropped, and the few
 * that get in wait behind thousands of the flood's (measured: 300 ms,
 * three quarters lost; bench/fairness.sh).  So an IP session also gets a
 * socket of its own, bound to the front's address and connected to its
 * peer, as socat's fork mode does: the kernel queues that peer's
 * datagrams there (a connected socket is the closer match), the front
 * sees only new peers, and the event loop serves each queue in turn.
 * Sessions without one (unix sockets, a wildcard front, no fd left) are
 * served from the front's socket as before, and send through it,
 * serialized by one tevent_queue.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "log.h"
#include "ratelimit.h"
#include "tsocket_internal.h"
#include "udp_front.h"

#define UDP_FRONT_BUCKETS 1024
/*
 * What sessions hold while their relay is not reading (connecting, or a
 * slow back end): at most this many datagrams and bytes per session, and
 * bytes over all sessions.  Beyond that datagrams are dropped, as a full
 * socket buffer would.
 */
#define UDP_SESSION_QUEUE_MAX 1024
#define UDP_SESSION_BYTES_MAX (1024 * 1024)
#define UDP_FRONT_QUEUE_MAX 65536
#define UDP_FRONT_BYTES_MAX (64 * 1024 * 1024)
/*
 * What a queued datagram costs beyond its payload, counted against the
 * byte limits: its queue entry and buffer, each a talloc chunk in a
 * malloc block (measured: a flood of one-byte datagrams cost about this
 * much each).  So a flood of tiny datagrams cannot queue a million.
 */
#define UDP_DATAGRAM_OVERHEAD 512
/*
 * A session socket's receive buffer: smaller than the front's (it holds
 * one peer's datagrams, and a full one only delays that peer), large
 * enough for a fast peer's bursts.
 */
#define UDP_SESSION_RCVBUF (256 * 1024)

struct udp_session;

struct udp_front {
	struct tevent_context *ev;
	struct channel *sock;
	struct tevent_queue *send_queue;
	size_t queued_bytes;		/* over all sessions, with overhead */
	unsigned queued;		/* datagrams, over all sessions */
	struct udp_session *buckets[UDP_FRONT_BUCKETS];
	unsigned sessions, max_sessions;
	struct ratelimit *limit;	/* --max-rate, or NULL */
	bool own_sockets;		/* sessions get a socket each */
	udp_front_session_fn fn;
	void *private_data;
};

struct udp_datagram {
	struct udp_datagram *next;
	uint8_t *buf;
	size_t len;
};

struct udp_session {
	struct udp_front *front;	/* NULL once the front is gone */
	struct udp_session *next;	/* in its bucket */
	unsigned bucket;
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct tsocket_address *peer;

	struct udp_datagram *head, *tail;
	unsigned queued;
	size_t queued_bytes;
	struct tevent_req *waiting;	/* a recvfrom with nothing to give */

	struct tdgram_context *own;	/* its own connected socket, or NULL */
	/*
	 * A receive on it, started for a waiting receive; never cancelled,
	 * as it may have taken a datagram already: what it gets when nobody
	 * waits any more is queued.
	 */
	struct tevent_req *own_req;
};

/* ---------------------------------------------------------------- lookup */

static unsigned udp_front_hash(const struct sockaddr_storage *ss,
			       socklen_t len)
{
	const uint8_t *p = (const uint8_t *)ss;
	uint32_t h = 2166136261u;	/* FNV-1a */
	socklen_t i;

	for (i = 0; i < len; i++) {
		h = (h ^ p[i]) * 16777619u;
	}
	return h % UDP_FRONT_BUCKETS;
}

static struct udp_session *udp_front_find(struct udp_front *f,
					  const struct sockaddr_storage *ss,
					  socklen_t len, unsigned bucket)
{
	struct udp_session *s;

	for (s = f->buckets[bucket]; s != NULL; s = s->next) {
		if (s->sslen == len && memcmp(&s->ss, ss, len) == 0) {
			return s;
		}
	}
	return NULL;
}

static void udp_session_unlink(struct udp_session *s)
{
	struct udp_session **pp;

	if (s->front == NULL) {
		return;
	}
	s->front->queued_bytes -= s->queued_bytes;
	s->front->queued -= s->queued;
	for (pp = &s->front->buckets[s->bucket]; *pp != NULL;
	     pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	s->front->sessions--;
	s->front = NULL;
	TALLOC_FREE(s->own_req);
}

static int udp_session_destructor(struct udp_session *s)
{
	udp_session_unlink(s);
	return 0;
}

/* ---------------------------------------------------------------- recvfrom */

struct udp_session_recv_state {
	struct udp_session *s;
	uint8_t *buf;
	size_t len;
};

static int udp_session_recv_destructor(struct udp_session_recv_state *st)
{
	if (st->s->waiting != NULL &&
	    tevent_req_data(st->s->waiting,
			    struct udp_session_recv_state) == st) {
		st->s->waiting = NULL;
	}
	return 0;
}

static void udp_session_own_read(struct udp_session *s);

/* Hand the oldest queued datagram to a receive request. */
static void udp_session_give(struct udp_session *s, struct tevent_req *req)
{
	struct udp_session_recv_state *st = tevent_req_data(req,
					struct udp_session_recv_state);
	struct udp_datagram *d = s->head;

	s->head = d->next;
	if (s->head == NULL) {
		s->tail = NULL;
	}
	s->queued--;
	s->queued_bytes -= d->len + UDP_DATAGRAM_OVERHEAD;
	if (s->front != NULL) {
		s->front->queued_bytes -= d->len + UDP_DATAGRAM_OVERHEAD;
		s->front->queued--;
	}
	st->buf = talloc_steal(st, d->buf);
	st->len = d->len;
	talloc_free(d);
	tevent_req_done(req);
}

static struct tevent_req *udp_session_recvfrom_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tdgram_context *dgram)
{
	struct udp_session *s = tdgram_context_data(dgram,
						    struct udp_session);
	struct tevent_req *req;
	struct udp_session_recv_state *st;

	req = tevent_req_create(mem_ctx, &st, struct udp_session_recv_state);
	if (req == NULL) {
		return NULL;
	}
	st->s = s;
	if (s->head != NULL) {
		udp_session_give(s, req);
		return tevent_req_post(req, ev);
	}
	if (s->front == NULL) {
		tevent_req_error(req, ENOTCONN);
		return tevent_req_post(req, ev);
	}
	s->waiting = req;
	talloc_set_destructor(st, udp_session_recv_destructor);
	udp_session_own_read(s);
	return req;
}

static ssize_t udp_session_recvfrom_recv(struct tevent_req *req,
					 int *perrno, TALLOC_CTX *mem_ctx,
					 uint8_t **buf,
					 struct tsocket_address **src)
{
	struct udp_session_recv_state *st = tevent_req_data(req,
					struct udp_session_recv_state);
	ssize_t len = -1;

	if (!tsocket_req_is_error(req, perrno)) {
		*src = tsocket_address_copy(st->s->peer, mem_ctx);
		if (*src == NULL) {
			*perrno = ENOMEM;
		} else {
			*buf = talloc_move(mem_ctx, &st->buf);
			len = (ssize_t)st->len;
		}
	}
	tevent_req_received(req);
	return len;
}

/* ---------------------------------------------------------------- sendto */

struct udp_session_send_state {
	bool own;		/* through the session's own socket */
	ssize_t sent;
};

static void udp_session_sent(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct udp_session_send_state *st = tevent_req_data(req,
					struct udp_session_send_state);
	int err = 0;

	st->sent = st->own ? tdgram_sendto_recv(subreq, &err)
			   : tdgram_sendto_queue_recv(subreq, &err);
	talloc_free(subreq);
	if (st->sent == -1) {
		tevent_req_error(req, err);
		return;
	}
	tevent_req_done(req);
}

static struct tevent_req *udp_session_sendto_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tdgram_context *dgram,
					const uint8_t *buf, size_t len,
					const struct tsocket_address *dst)
{
	struct udp_session *s = tdgram_context_data(dgram,
						    struct udp_session);
	struct tevent_req *req, *subreq;
	struct udp_session_send_state *st;

	req = tevent_req_create(mem_ctx, &st, struct udp_session_send_state);
	if (req == NULL) {
		return NULL;
	}
	if (s->front == NULL) {
		tevent_req_error(req, ENOTCONN);
		return tevent_req_post(req, ev);
	}
	/* always to the session's peer, whatever dst says */
	st->own = s->own != NULL;
	if (st->own) {
		/* a session's only writer sends one at a time: no queue */
		subreq = tdgram_sendto_send(st, ev, s->own, buf, len, NULL);
	} else {
		subreq = tdgram_sendto_queue_send(st, ev,
						  s->front->sock->dgram,
						  s->front->send_queue, buf,
						  len, s->peer);
	}
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, udp_session_sent, req);
	return req;
}

static ssize_t udp_session_sendto_recv(struct tevent_req *req, int *perrno)
{
	struct udp_session_send_state *st = tevent_req_data(req,
					struct udp_session_send_state);
	ssize_t sent = -1;

	if (!tsocket_req_is_error(req, perrno)) {
		sent = st->sent;
	}
	tevent_req_received(req);
	return sent;
}

/* ---------------------------------------------------------------- disconnect */

struct udp_session_disconnect_state {
	int unused;
};

static struct tevent_req *udp_session_disconnect_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tdgram_context *dgram)
{
	struct udp_session *s = tdgram_context_data(dgram,
						    struct udp_session);
	struct tevent_req *req;
	struct udp_session_disconnect_state *st;

	req = tevent_req_create(mem_ctx, &st,
				struct udp_session_disconnect_state);
	if (req == NULL) {
		return NULL;
	}
	udp_session_unlink(s);
	tevent_req_done(req);
	return tevent_req_post(req, ev);
}

static int udp_session_disconnect_recv(struct tevent_req *req, int *perrno)
{
	int ret = tsocket_req_is_error(req, perrno) ? -1 : 0;

	tevent_req_received(req);
	return ret;
}

static const struct tdgram_context_ops udp_session_ops = {
	.name = "udp-session",
	.recvfrom_send = udp_session_recvfrom_send,
	.recvfrom_recv = udp_session_recvfrom_recv,
	.sendto_send = udp_session_sendto_send,
	.sendto_recv = udp_session_sendto_recv,
	.disconnect_send = udp_session_disconnect_send,
	.disconnect_recv = udp_session_disconnect_recv,
};

/* ---------------------------------------------------------------- front */

static struct channel *udp_front_new_session(struct udp_front *f,
					     struct tsocket_address *peer,
					     const struct sockaddr_storage *ss,
					     socklen_t len, unsigned bucket)
{
	struct channel *chan;
	struct udp_session *s;

	chan = talloc_zero(NULL, struct channel);
	if (chan == NULL) {
		return NULL;
	}
	chan->fd = -1;
	chan->dgram = tdgram_context_create(chan, &udp_session_ops, &s,
					    struct udp_session, __location__);
	if (chan->dgram == NULL) {
		talloc_free(chan);
		return NULL;
	}
	s->peer = talloc_steal(s, peer);
	chan->name = channel_address_name(chan,
			tsocket_address_is_unix(peer) ? "unix-dgram" : "udp",
			peer);
	memcpy(&s->ss, ss, len);
	s->sslen = len;
	s->bucket = bucket;
	s->front = f;
	s->next = f->buckets[bucket];
	f->buckets[bucket] = s;
	f->sessions++;
	talloc_set_destructor(s, udp_session_destructor);
	return chan;
}

/* Queue a datagram for its session, or give it to a waiting receive. */
static void udp_session_deliver(struct udp_session *s, uint8_t *buf,
				size_t len)
{
	struct udp_datagram *d;
	struct tevent_req *req;

	size_t cost = len + UDP_DATAGRAM_OVERHEAD;

	if (s->queued >= UDP_SESSION_QUEUE_MAX ||
	    s->front->queued >= UDP_FRONT_QUEUE_MAX ||
	    s->queued_bytes + cost > UDP_SESSION_BYTES_MAX ||
	    s->front->queued_bytes + cost > UDP_FRONT_BYTES_MAX) {
		log_verbose("session queue full: dropping a datagram");
		talloc_free(buf);
		return;
	}
	d = talloc_zero(s, struct udp_datagram);
	if (d == NULL) {
		talloc_free(buf);
		return;
	}
	d->buf = talloc_steal(d, buf);
	d->len = len;
	if (s->tail != NULL) {
		s->tail->next = d;
	} else {
		s->head = d;
	}
	s->tail = d;
	s->queued++;
	s->queued_bytes += cost;
	s->front->queued_bytes += cost;
	s->front->queued++;
	if (s->waiting != NULL) {
		req = s->waiting;
		s->waiting = NULL;
		udp_session_give(s, req);
	}
}

static void udp_front_read(struct udp_front *f);
static void udp_front_dispatch(struct udp_front *f, uint8_t *buf,
			       size_t len, struct tsocket_address *peer);

/* ---------------------------------------------------------------- own socket */

static void udp_session_own_received(struct tevent_req *subreq);

/* Wait on the session's own socket for its waiting receive. */
static void udp_session_own_read(struct udp_session *s)
{
	if (s->own == NULL || s->own_req != NULL || s->waiting == NULL ||
	    s->front == NULL) {
		return;
	}
	s->own_req = tdgram_recvfrom_send(s, s->front->ev, s->own);
	if (s->own_req == NULL) {
		log_error("%s: out of memory", s->front->sock->name);
		return;
	}
	tevent_req_set_callback(s->own_req, udp_session_own_received, s);
}

static void udp_session_own_received(struct tevent_req *subreq)
{
	struct udp_session *s = tevent_req_callback_data(subreq,
							 struct udp_session);
	struct udp_front *f = s->front;
	struct tsocket_address *src = NULL;
	struct sockaddr_storage ss;
	uint8_t *buf = NULL;
	ssize_t len, sslen;
	int err = 0;

	len = tdgram_recvfrom_recv(subreq, &err, s, &buf, &src);
	TALLOC_FREE(s->own_req);
	if (len == -1) {
		/* e.g. ECONNREFUSED: the peer's port was closed when we
		 * last sent; it may come back, and idleness ends us */
		log_verbose("%s: %s", f->sock->name, strerror(err));
		udp_session_own_read(s);
		return;
	}
	sslen = tsocket_address_bsd_sockaddr(src, (struct sockaddr *)&ss,
					     sizeof(ss));
	if (sslen == (ssize_t)s->sslen && memcmp(&ss, &s->ss, s->sslen) == 0) {
		talloc_free(src);
		if (!ratelimit_allow(f->limit, &ss, (socklen_t)sslen)) {
			log_verbose("%s: over --max-rate: a datagram dropped",
				    f->sock->name);
			talloc_free(buf);
			udp_session_own_read(s);
			return;
		}
		/* the last use of s: giving runs the relay, which may
		 * free it */
		udp_session_deliver(s, buf, (size_t)len);
		return;
	}
	/*
	 * Another peer's: it came in between our bind and our connect,
	 * when this socket matched any peer as well as the front did.
	 */
	udp_front_dispatch(f, buf, (size_t)len, src);
	udp_session_own_read(s);
}

/*
 * Give s a socket bound to the front's address and connected to its
 * peer.  Two sockets on one address take SO_REUSEADDR on both; the front
 * has it only during this bind, so no other socket can join the front's
 * address at any other time.  On any failure the session is served
 * through the front.
 */
static void udp_session_own_socket(struct udp_front *f, struct udp_session *s)
{
	const struct channel *sock = f->sock;
	int fd, on = 1, off = 0, size = UDP_SESSION_RCVBUF;
	int ret, err;

	fd = socket(sock->local.ss_family,
		    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		err = errno;
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	setsockopt(sock->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	ret = bind(fd, (const struct sockaddr *)&sock->local,
		   sock->local_len);
	err = errno;
	setsockopt(sock->fd, SOL_SOCKET, SO_REUSEADDR, &off, sizeof(off));
	if (ret == -1 ||
	    connect(fd, (const struct sockaddr *)&s->ss, s->sslen) == -1) {
		err = ret == -1 ? err : errno;
		goto fail;
	}
	/* best effort: a smaller buffer still works */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (tdgram_bsd_existing_socket(s, fd, &s->own) == -1) {
		err = errno;
		goto fail;
	}
	return;
fail:
	log_verbose("%s: no socket of its own for a session (%s): served "
		    "through the front's", sock->name, strerror(err));
	if (fd != -1) {
		close(fd);
	}
}

/*
 * Sessions can have sockets of their own on an IP front bound to one
 * address; a wildcard front cannot give them the address a peer sent to.
 */
static bool udp_front_can_split(const struct channel *sock)
{
	const struct sockaddr_in *sin = (const void *)&sock->local;
	const struct sockaddr_in6 *sin6 = (const void *)&sock->local;

	if (sock->local_len == 0 || sock->fd < 0) {
		return false;
	}
	switch (sock->local.ss_family) {
	case AF_INET:
		return sin->sin_addr.s_addr != htonl(INADDR_ANY);
	case AF_INET6:
		return !IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) &&
		       !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr);
	default:
		return false;
	}
}

/*
 * A datagram from peer (both ours now): to its session, to a new session,
 * or dropped.
 */
static void udp_front_dispatch(struct udp_front *f, uint8_t *buf,
			       size_t len, struct tsocket_address *peer)
{
	struct sockaddr_storage ss;
	struct udp_session *s;
	struct channel *chan = NULL;
	unsigned bucket;
	ssize_t sslen;

	sslen = tsocket_address_bsd_sockaddr(peer, (struct sockaddr *)&ss,
					     sizeof(ss));
	if (sslen <= 0) {
		goto done;
	}
	if (ss.ss_family == AF_UNIX &&
	    (size_t)sslen <= offsetof(struct sockaddr_un, sun_path) + 1) {
		/* an unbound unix peer: no address to answer, or to tell
		 * one such peer from another */
		log_verbose("%s: dropping a datagram from an unbound unix "
			    "socket", f->sock->name);
		goto done;
	}
	if (channel_is_own_address(f->sock, &ss, (socklen_t)sslen)) {
		log_verbose("%s: a datagram from our own address: dropped",
			    f->sock->name);
		goto done;
	}
	if (!ratelimit_allow(f->limit, &ss, (socklen_t)sslen)) {
		log_verbose("%s: over --max-rate: a datagram dropped",
			    f->sock->name);
		goto done;
	}
	bucket = udp_front_hash(&ss, (socklen_t)sslen);
	s = udp_front_find(f, &ss, (socklen_t)sslen, bucket);
	if (s == NULL) {
		if (f->max_sessions != 0 && f->sessions >= f->max_sessions) {
			log_verbose("%s: session limit reached, dropping a "
				    "datagram from a new peer", f->sock->name);
			goto done;
		}
		chan = udp_front_new_session(f, peer, &ss, (socklen_t)sslen,
					     bucket);
		if (chan == NULL) {
			goto done;
		}
		peer = NULL;	/* the session has it */
		s = tdgram_context_data(chan->dgram, struct udp_session);
		if (f->own_sockets) {
			udp_session_own_socket(f, s);
		}
	}
	udp_session_deliver(s, buf, len);
	buf = NULL;
	if (chan != NULL) {
		f->fn(chan, f->private_data);
	}
done:
	talloc_free(buf);
	talloc_free(peer);
}

static void udp_front_received(struct tevent_req *subreq)
{
	struct udp_front *f = tevent_req_callback_data(subreq,
						       struct udp_front);
	struct tsocket_address *peer = NULL;
	uint8_t *buf = NULL;
	ssize_t len;
	int err = 0;

	len = tdgram_recvfrom_recv(subreq, &err, f, &buf, &peer);
	talloc_free(subreq);
	if (len == -1) {
		/* e.g. ICMP errors for an earlier send: keep serving */
		log_verbose("%s: %s", f->sock->name, strerror(err));
	} else {
		udp_front_dispatch(f, buf, (size_t)len, peer);
	}
	udp_front_read(f);
}

static void udp_front_read(struct udp_front *f)
{
	struct tevent_req *req = tdgram_recvfrom_send(f, f->ev,
						      f->sock->dgram);

	if (req == NULL) {
		log_error("%s: out of memory", f->sock->name);
		return;
	}
	tevent_req_set_callback(req, udp_front_received, f);
}

static int udp_front_destructor(struct udp_front *f)
{
	unsigned i;

	/* sessions may outlive the front: cut them loose */
	for (i = 0; i < UDP_FRONT_BUCKETS; i++) {
		while (f->buckets[i] != NULL) {
			udp_session_unlink(f->buckets[i]);
		}
	}
	return 0;
}

struct udp_front *udp_front_create(TALLOC_CTX *mem_ctx,
				   struct tevent_context *ev,
				   struct channel *sock, unsigned max_sessions,
				   unsigned max_rate,
				   udp_front_session_fn fn,
				   void *private_data)
{
	struct udp_front *f = talloc_zero(mem_ctx, struct udp_front);

	if (f == NULL) {
		return NULL;
	}
	if (max_rate > 0) {
		f->limit = ratelimit_create(f, max_rate);
		if (f->limit == NULL) {
			talloc_free(f);
			return NULL;
		}
	}
	f->ev = ev;
	f->sock = talloc_steal(f, sock);
	f->own_sockets = udp_front_can_split(sock);
	f->max_sessions = max_sessions;
	f->fn = fn;
	f->private_data = private_data;
	f->send_queue = tevent_queue_create(f, "udp-front-send");
	if (f->send_queue == NULL) {
		talloc_free(f);
		return NULL;
	}
	talloc_set_destructor(f, udp_front_destructor);
	udp_front_read(f);
	return f;
}
