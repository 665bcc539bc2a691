/*
 * bridge.c - datagram requests over a pool of framed stream connections
 *
 * `tsock relay --frame SPEC DGRAM_FRONT STREAM_BACK` (DNS over UDP in
 * front of DNS over TCP, say).  Every datagram is a request; the answer
 * is the next PDU on the connection it was sent on.  Stub resolvers send
 * each query from a new source port, so a connection per peer would pin
 * one backend connection per query (and servers cap their TCP clients:
 * dnsmasq at 20).  Instead a connection carries one request at a time and
 * goes back to the pool once answered, so a handful of connections serve
 * any number of peers; each reply goes to the peer whose request it
 * answers.  One request per connection at a time also keeps replies
 * matched to requests for servers that answer out of order.
 *
 * Limits (tsock(1)): --pool connections, BRIDGE_QUEUE_MAX requests (and
 * BRIDGE_QUEUE_BYTES) waiting for one, beyond which datagrams are
 * dropped as a full socket buffer would drop them; a request unanswered
 * for the reply timeout is dropped with its connection.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include "bridge.h"
#include "log.h"

#define BRIDGE_QUEUE_MAX 1024
#define BRIDGE_QUEUE_BYTES (4 * 1024 * 1024)
/* Without -i: how long a request may wait for its reply. */
#define BRIDGE_REPLY_MS (10 * 1000)

struct bridge_request {
	struct bridge_request *next;
	struct tsocket_address *peer;
	uint8_t *pdu;			/* header and datagram */
	size_t size;
	bool retried;			/* sent again after a reused conn died */
};

struct bridge_conn {
	struct bridge_conn *prev, *next;
	struct bridge *b;
	struct channel *chan;		/* NULL while opening */
	struct tframe_reader *reader;
	struct tevent_req *io;		/* the open, or the PDU read */
	struct tevent_req *write;
	struct bridge_request *busy;	/* sent, not answered yet */
	bool reused;			/* has answered a request before */
	struct tevent_timer *timer;	/* reply timeout, or idle close */
};

struct bridge {
	struct tevent_context *ev;
	struct channel *sock;
	struct bridge_opts opts;
	struct bridge_conn *conns;
	unsigned nconns;
	struct bridge_request *head, *tail;	/* waiting for a connection */
	unsigned queued;
	size_t queued_bytes;
	struct tevent_queue *send_queue;	/* replies to the front */
};

static void bridge_dispatch(struct bridge *b);

/* ---------------------------------------------------------------- queue */

static void bridge_push(struct bridge *b, struct bridge_request *req,
			bool at_head)
{
	talloc_steal(b, req);
	if (at_head) {
		req->next = b->head;
		b->head = req;
		if (b->tail == NULL) {
			b->tail = req;
		}
	} else {
		req->next = NULL;
		if (b->tail != NULL) {
			b->tail->next = req;
		} else {
			b->head = req;
		}
		b->tail = req;
	}
	b->queued++;
	b->queued_bytes += req->size;
}

static struct bridge_request *bridge_pop(struct bridge *b)
{
	struct bridge_request *req = b->head;

	if (req == NULL) {
		return NULL;
	}
	b->head = req->next;
	if (b->head == NULL) {
		b->tail = NULL;
	}
	req->next = NULL;
	b->queued--;
	b->queued_bytes -= req->size;
	return req;
}

/* ---------------------------------------------------------------- connections */

static int bridge_conn_destructor(struct bridge_conn *c)
{
	struct bridge *b = c->b;

	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		b->conns = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	b->nconns--;
	return 0;
}

/*
 * The connection is done for (an error, end of stream, a timeout): free
 * it.  Its unanswered request is lost, unless the connection had served
 * before: then the server may just have closed it as idle while the
 * request was on its way, and the request gets one more try.
 */
static void bridge_conn_drop(struct bridge_conn *c, const char *why)
{
	struct bridge *b = c->b;
	struct bridge_request *req = c->busy;

	c->busy = NULL;
	if (req != NULL && c->reused && !req->retried) {
		req->retried = true;
		bridge_push(b, req, true);
		req = NULL;
	}
	if (req != NULL) {
		log_error("%s: %s: the request of %s is dropped",
			  c->chan != NULL ? c->chan->name : "back end", why,
			  tsocket_address_string(req->peer, req));
		talloc_free(req);
	} else {
		log_verbose("%s: %s", c->chan != NULL ? c->chan->name
						      : "back end", why);
	}
	talloc_free(c);
	bridge_dispatch(b);
}

static void bridge_conn_idle_over(struct tevent_context *ev,
				  struct tevent_timer *te, struct timeval now,
				  void *private_data)
{
	struct bridge_conn *c = private_data;

	c->timer = NULL;
	if (c->busy != NULL) {
		bridge_conn_drop(c, "no reply in time");
		return;
	}
	log_verbose("%s: idle, closed", c->chan->name);
	talloc_free(c);
}

static void bridge_conn_arm(struct bridge_conn *c, int ms)
{
	TALLOC_FREE(c->timer);
	if (ms <= 0) {
		return;
	}
	c->timer = tevent_add_timer(c->b->ev, c,
				    tevent_timeval_current_ofs(ms / 1000,
						(ms % 1000) * 1000),
				    bridge_conn_idle_over, c);
}

/* A reply on its way to the front: it owns what the send refers to. */
struct bridge_reply {
	uint8_t *pdu;
	struct tsocket_address *peer;
};

static void bridge_reply_sent(struct tevent_req *subreq)
{
	struct bridge_reply *reply = tevent_req_callback_data(subreq,
						struct bridge_reply);
	int err = 0;

	if (tdgram_sendto_queue_recv(subreq, &err) == -1) {
		log_verbose("sending a reply: %s", strerror(err));
	}
	talloc_free(reply);	/* and subreq with it */
}

/* Send the payload of a reply PDU to the peer whose request it answers. */
static void bridge_answer(struct bridge_conn *c, uint8_t *pdu, size_t size)
{
	struct bridge *b = c->b;
	size_t hsize = tframe_header_size(b->opts.frame);
	struct bridge_request *req = c->busy;
	struct bridge_reply *reply;
	struct tevent_req *subreq;

	reply = talloc_zero(b, struct bridge_reply);
	if (reply == NULL) {
		talloc_free(pdu);
		return;
	}
	reply->pdu = talloc_steal(reply, pdu);
	reply->peer = talloc_steal(reply, req->peer);
	if (b->opts.hexdump) {
		log_hexdump(c->chan->name, pdu + hsize, size - hsize);
	}
	if (size == hsize) {
		/* an empty PDU has no datagram to become */
		talloc_free(reply);
		return;
	}
	subreq = tdgram_sendto_queue_send(reply, b->ev, b->sock->dgram,
					  b->send_queue, pdu + hsize,
					  size - hsize, reply->peer);
	if (subreq == NULL) {
		talloc_free(reply);
		return;
	}
	tevent_req_set_callback(subreq, bridge_reply_sent, reply);
}

static void bridge_conn_read(struct bridge_conn *c);

static void bridge_conn_got_pdu(struct tevent_req *subreq)
{
	struct bridge_conn *c = tevent_req_callback_data(subreq,
							 struct bridge_conn);
	uint8_t *pdu;
	size_t size = 0;
	int err = 0;

	c->io = NULL;
	if (tstream_readv_pdu_recv(subreq, &err) == -1) {
		talloc_free(subreq);
		bridge_conn_drop(c, err == EPIPE ? "closed by the server"
						 : strerror(err));
		return;
	}
	talloc_free(subreq);
	pdu = tframe_reader_take(c->reader, c, &size);
	if (pdu == NULL) {
		bridge_conn_drop(c, strerror(ENOMEM));
		return;
	}
	if (c->busy == NULL) {
		log_verbose("%s: a reply nobody asked for: dropped",
			    c->chan->name);
		talloc_free(pdu);
	} else {
		bridge_answer(c, pdu, size);
		TALLOC_FREE(c->busy);
		c->reused = true;
		bridge_conn_arm(c, c->b->opts.idle_ms);
	}
	bridge_conn_read(c);
	bridge_dispatch(c->b);
}

static void bridge_conn_read(struct bridge_conn *c)
{
	c->io = tstream_readv_pdu_send(c, c->b->ev, c->chan->stream,
				       tframe_next_vector, c->reader);
	if (c->io == NULL) {
		bridge_conn_drop(c, strerror(ENOMEM));
		return;
	}
	tevent_req_set_callback(c->io, bridge_conn_got_pdu, c);
}

static void bridge_conn_written(struct tevent_req *subreq)
{
	struct bridge_conn *c = tevent_req_callback_data(subreq,
							 struct bridge_conn);
	int err = 0;

	c->write = NULL;
	if (tstream_writev_recv(subreq, &err) == -1) {
		talloc_free(subreq);
		bridge_conn_drop(c, strerror(err));
		return;
	}
	talloc_free(subreq);
}

/* Send a request on an idle connection; its reply frees it. */
static void bridge_conn_send(struct bridge_conn *c,
			     struct bridge_request *req)
{
	struct iovec iov = { .iov_base = req->pdu, .iov_len = req->size };

	c->busy = talloc_steal(c, req);
	bridge_conn_arm(c, c->b->opts.reply_ms);
	c->write = tstream_writev_send(c, c->b->ev, c->chan->stream, &iov, 1);
	if (c->write == NULL) {
		bridge_conn_drop(c, strerror(ENOMEM));
		return;
	}
	tevent_req_set_callback(c->write, bridge_conn_written, c);
}

static void bridge_conn_opened(struct tevent_req *subreq)
{
	struct bridge_conn *c = tevent_req_callback_data(subreq,
							 struct bridge_conn);
	struct bridge *b = c->b;
	struct bridge_request *req;
	char *error = NULL;

	c->io = NULL;
	c->chan = channel_open_recv(subreq, c, &error);
	talloc_free(subreq);
	if (c->chan == NULL) {
		log_error("%s", error);
		talloc_free(c);
		if (b->nconns == 0) {
			/* the back end is not there: waiting requests fail */
			while ((req = bridge_pop(b)) != NULL) {
				talloc_free(req);
			}
		}
		bridge_dispatch(b);
		return;
	}
	log_verbose("connected to %s (%u in the pool)", c->chan->name,
		    b->nconns);
	c->reader = tframe_reader_create(c, b->opts.frame);
	if (c->reader == NULL) {
		bridge_conn_drop(c, strerror(ENOMEM));
		return;
	}
	bridge_conn_read(c);
	bridge_dispatch(b);
}

static void bridge_conn_open(struct bridge *b)
{
	struct bridge_conn *c = talloc_zero(b, struct bridge_conn);

	if (c == NULL) {
		return;
	}
	c->b = b;
	c->next = b->conns;
	if (c->next != NULL) {
		c->next->prev = c;
	}
	b->conns = c;
	b->nconns++;
	talloc_set_destructor(c, bridge_conn_destructor);
	c->io = channel_open_send(c, b->ev, b->opts.back, NULL, NULL);
	if (c->io == NULL) {
		talloc_free(c);
		return;
	}
	tevent_req_set_callback(c->io, bridge_conn_opened, c);
}

/* Give waiting requests to idle connections, opening more if allowed. */
static void bridge_dispatch(struct bridge *b)
{
	struct bridge_conn *c, *next;
	unsigned opening = 0;

	for (c = b->conns; c != NULL && b->head != NULL; c = next) {
		next = c->next;
		if (c->chan == NULL) {
			opening++;
		} else if (c->busy == NULL && c->write == NULL) {
			bridge_conn_send(c, bridge_pop(b));
		}
	}
	/* one opening connection per waiting request, within the pool */
	while (b->queued > opening && b->nconns < b->opts.pool) {
		bridge_conn_open(b);
		opening++;
	}
}

/* ---------------------------------------------------------------- front */

static void bridge_front_read(struct bridge *b);

static void bridge_front_received(struct tevent_req *subreq)
{
	struct bridge *b = tevent_req_callback_data(subreq, struct bridge);
	size_t hsize = tframe_header_size(b->opts.frame);
	struct bridge_request *req;
	struct tsocket_address *peer = NULL;
	uint8_t *buf = NULL;
	ssize_t len;
	int err = 0;

	len = tdgram_recvfrom_recv(subreq, &err, b, &buf, &peer);
	talloc_free(subreq);
	if (len == -1) {
		/* e.g. ICMP errors for an earlier reply: keep serving */
		log_verbose("%s: %s", b->sock->name, strerror(err));
		goto next;
	}
	if (b->queued >= BRIDGE_QUEUE_MAX ||
	    b->queued_bytes + hsize + (size_t)len > BRIDGE_QUEUE_BYTES) {
		log_verbose("%s: %u requests wait for a connection: dropping "
			    "one", b->sock->name, b->queued);
		goto next;
	}
	req = talloc_zero(b, struct bridge_request);
	if (req == NULL) {
		goto next;
	}
	req->peer = talloc_move(req, &peer);
	req->size = hsize + (size_t)len;
	req->pdu = talloc_size(req, req->size);
	if (req->pdu == NULL ||
	    tframe_header(b->opts.frame, (uint64_t)len, req->pdu) == -1) {
		log_verbose("%s: a datagram of %zd bytes does not fit the "
			    "frame: dropped", b->sock->name, len);
		talloc_free(req);
		goto next;
	}
	memcpy(req->pdu + hsize, buf, (size_t)len);
	if (b->opts.hexdump) {
		log_hexdump(b->sock->name, buf, (size_t)len);
	}
	bridge_push(b, req, false);
	bridge_dispatch(b);
next:
	talloc_free(buf);
	talloc_free(peer);
	bridge_front_read(b);
}

static void bridge_front_read(struct bridge *b)
{
	struct tevent_req *req = tdgram_recvfrom_send(b, b->ev,
						      b->sock->dgram);

	if (req == NULL) {
		log_error("%s: out of memory", b->sock->name);
		return;
	}
	tevent_req_set_callback(req, bridge_front_received, b);
}

struct bridge *bridge_create(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
			     struct channel *sock,
			     const struct bridge_opts *opts)
{
	struct bridge *b = talloc_zero(mem_ctx, struct bridge);

	if (b == NULL) {
		return NULL;
	}
	b->ev = ev;
	b->sock = talloc_steal(b, sock);
	b->opts = *opts;
	if (b->opts.reply_ms <= 0) {
		b->opts.reply_ms = BRIDGE_REPLY_MS;
	}
	if (b->opts.pool == 0) {
		b->opts.pool = 1;
	}
	b->send_queue = tevent_queue_create(b, "bridge-replies");
	if (b->send_queue == NULL) {
		talloc_free(b);
		return NULL;
	}
	bridge_front_read(b);
	return b;
}
