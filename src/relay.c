/*
 * relay.c - carry data both ways between two channels
 *
 * A relay is two pumps, one per direction.  A pump repeats: read a chunk
 * (or a PDU, or a datagram) from its source, write it to its sink.  It
 * never reads ahead of its writes, so a slow sink slows the source down
 * (backpressure) and memory stays bounded: one buffer per direction, and
 * only while data is in flight.
 *
 * Framed streams: PDUs of up to RELAY_HOLD_MAX bytes are read whole (and
 * several at once go out in one writev).  A larger PDU into a stream is
 * passed on as it arrives: its head once the header is checked, then its
 * body in pieces of at most RELAY_BODY_CHUNK, so a direction holds about
 * 128 KiB at most whatever --max-pdu says.  A larger PDU that must become
 * a datagram is held whole, with the budget's leave (budget.h).  Every
 * buffer a framed or datagram pump holds is charged to that budget, and a
 * pump holding nothing starts no read while the budget is spent.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "budget.h"
#include "log.h"
#include "relay.h"

/*
 * Raw stream reads, see pump_read_chunk: a read of RELAY_CHUNK_MIN bytes
 * or more starts bulk mode (a RELAY_CHUNK_MAX buffer), which lasts while
 * reads bring RELAY_BULK_MIN bytes or more.  (Leaving bulk mode too
 * eagerly, say on every read short of 16 KiB, costs a quarter of the
 * throughput in buffer churn.)
 */
#define RELAY_CHUNK_MIN (16 * 1024)
#define RELAY_CHUNK_MAX (1024 * 1024)
#define RELAY_BULK_MIN 4096
/* PDUs already read ahead go out together: at most this many per write. */
#define RELAY_BATCH 64
#define RELAY_BATCH_BYTES (256 * 1024)
/* Largest datagram we send: the most UDP over IPv4 can carry. */
#define RELAY_DGRAM_MAX 65507
/*
 * Framed PDUs up to this size (header included) are held whole; larger
 * ones into a stream go on body piece by body piece, of at most
 * RELAY_BODY_CHUNK bytes.  64 KiB holds any UDP datagram with its header.
 */
#define RELAY_HOLD_MAX (64 * 1024 + 64)
#define RELAY_BODY_CHUNK (64 * 1024)

struct relay;

struct pump {
	struct relay *relay;
	struct channel *src, *dst;
	char *label;			/* "src > dst", for -x */
	struct tframe_reader *reader;	/* the source is framed */
	bool add_header;		/* datagram into a framed stream */
	bool strip_header;		/* framed stream into datagrams */
	size_t chunk_max;		/* largest raw read */
	bool bulk;			/* bulk mode, see pump_read_chunk */
	bool keep;			/* keep the buffer for the next read */

	uint8_t *buf;			/* the data in flight */
	size_t len;
	TALLOC_CTX *batch;		/* or several PDUs, for one write */
	uint8_t *hdr;			/* header for add_header */
	struct iovec iov[2];		/* header and data */

	struct tevent_req *req;		/* the current read or write */
	bool done;
	uint64_t bytes;

	/* the memory budget (budget.h), for framed and datagram pumps */
	bool budgeted;
	size_t charged;			/* what is charged for this pump */
	struct budget_wait wait;	/* in line for memory */
	bool big;			/* assembling a large PDU whole */
};

struct relay {
	struct tevent_context *ev;
	const struct relay_opts *opts;
	struct pump pumps[2];
	struct timeval last_active;
	struct tevent_timer *timer;
	bool finished;
	bool starting;		/* in relay_start, which reports failures */
	/*
	 * A write that found its peer gone: the peer may have said why (a
	 * TLS alert, say) in what the other direction has yet to read, so
	 * that direction gets a moment to report it first.
	 */
	int write_err;
	char *write_message;
	struct tevent_timer *write_grace;
	relay_done_fn fn;
	void *private_data;
	/*
	 * Each stream channel is watched for its peer resetting, so a
	 * direction paused by a slow sink (not reading its source) still
	 * notices its source going away at once.
	 */
	struct tevent_req *monitor[2];
};

static void pump_read(struct pump *p);
static void relay_finish(struct relay *r, int err, const char *message);
static void pump_reset_sink(struct pump *p);
static struct pump *pump_other(struct pump *p);

/* ---------------------------------------------------------------- timers */

/* A pump that writes into stdio kept open for the next client. */
static bool pump_into_kept_stdio(const struct relay *r, const struct pump *p)
{
	return r->opts->keep_stdio && p->dst->is_stdio;
}

/*
 * A datagram source never ends: linger once the other side did.  So does
 * stdin kept for the next client (listen -k): once the client's data has
 * ended, its session ends after the linger.
 */
static bool relay_lingering(struct relay *r)
{
	struct pump *a = &r->pumps[0], *b = &r->pumps[1];

	return (a->done && (channel_is_endless(b->src) ||
			    pump_into_kept_stdio(r, a))) ||
	       (b->done && (channel_is_endless(a->src) ||
			    pump_into_kept_stdio(r, b)));
}

static int relay_timeout_ms(struct relay *r)
{
	int linger = 0;

	if (relay_lingering(r)) {
		linger = r->opts->linger_ms;
	}
	if (r->opts->idle_timeout_ms > 0 &&
	    (linger == 0 || r->opts->idle_timeout_ms < linger)) {
		return r->opts->idle_timeout_ms;
	}
	return linger;
}

static void relay_timer_fired(struct tevent_context *ev,
			      struct tevent_timer *te, struct timeval now,
			      void *private_data);

/* (Re)arm the timer for the idle or linger deadline, if there is one. */
static void relay_arm_timer(struct relay *r)
{
	int ms = relay_timeout_ms(r);
	struct timeval at;

	TALLOC_FREE(r->timer);
	if (ms <= 0) {
		return;
	}
	at = tevent_timeval_add(&r->last_active, ms / 1000,
				(ms % 1000) * 1000);
	r->timer = tevent_add_timer(r->ev, r, at, relay_timer_fired, r);
}

static void relay_timer_fired(struct tevent_context *ev,
			      struct tevent_timer *te, struct timeval now,
			      void *private_data)
{
	struct relay *r = private_data;
	int ms = relay_timeout_ms(r);
	struct timeval deadline = tevent_timeval_add(&r->last_active,
					ms / 1000, (ms % 1000) * 1000);

	r->timer = NULL;
	if (tevent_timeval_compare(&now, &deadline) < 0) {
		/* activity since it was armed: wait for the rest */
		relay_arm_timer(r);
		return;
	}
	relay_finish(r, 0, NULL);
}

/* ---------------------------------------------------------------- ending */

static void relay_finish(struct relay *r, int err, const char *message)
{
	int i;

	if (r->finished) {
		return;
	}
	r->finished = true;
	for (i = 0; i < 2; i++) {
		struct pump *p = &r->pumps[i];

		budget_cancel(&p->wait);
		if (p->reader != NULL &&
		    tframe_reader_body_left(p->reader) > 0) {
			/*
			 * Part of a PDU went out already: a clean end would
			 * leave the receiver with a PDU cut short that looks
			 * like one still to be completed.
			 */
			log_verbose("%s ended inside a PDU (%llu bytes short)",
				    p->src->name, (unsigned long long)
				    tframe_reader_body_left(p->reader));
			pump_reset_sink(p);
		}
	}
	TALLOC_FREE(r->pumps[0].req);
	TALLOC_FREE(r->pumps[1].req);
	TALLOC_FREE(r->monitor[0]);
	TALLOC_FREE(r->monitor[1]);
	TALLOC_FREE(r->timer);
	TALLOC_FREE(r->write_grace);
	log_verbose("closed %s <-> %s: %llu bytes sent, %llu received",
		    r->pumps[0].src->name, r->pumps[0].dst->name,
		    (unsigned long long)r->pumps[0].bytes,
		    (unsigned long long)r->pumps[1].bytes);
	if (r->starting) {
		return;		/* relay_start returns NULL instead */
	}
	/* last: the callback may free the relay */
	r->fn(r->private_data, err, message);
}

/*
 * A source that was reset, or cut short (a TLS peer that closed without
 * close_notify), ends abortively: its sink is reset too instead of seeing
 * a clean end that would pass for a complete exchange.
 */
static void pump_pass_abort(struct pump *p, struct channel *where, int err)
{
	if (where != p->src || (err != ECONNRESET && err != ECONNABORTED)) {
		return;
	}
	pump_reset_sink(p);
}

/* The sink is reset when closed instead of seeing a clean end. */
static void pump_reset_sink(struct pump *p)
{
	if (p->dst->stream == NULL || p->dst->is_stdio) {
		return;
	}
	tstream_bsd_reset_on_close(p->dst->stream, true);
	/* the setting reads back as on only on sockets, where it applies */
	if (tstream_bsd_reset_on_close(p->dst->stream, true)) {
		log_verbose("%s ended abortively: resetting %s",
			    p->src->name, p->dst->name);
	}
}

/* ---------------------------------------------------------------- memory */

/*
 * Charge the budget with what the pump holds now: its reader's PDU and
 * read-ahead, and the data in flight.  Called where that changes: when
 * data is about to go out and when it has gone.
 */
static void pump_account(struct pump *p)
{
	size_t held = 0;

	if (!p->budgeted) {
		return;
	}
	if (p->reader != NULL) {
		held += talloc_total_size(p->reader) -
			talloc_get_size(p->reader);
	}
	if (p->buf != NULL) {
		held += talloc_get_size(p->buf);
	}
	if (p->batch != NULL) {
		held += talloc_total_size(p->batch);
	}
	budget_set(p->relay->opts->budget, &p->charged, held);
	if (held > 0) {
		/* the other direction may not wait now (pump_may_wait) */
		budget_wait_over(&pump_other(p)->wait);
	}
}

static struct pump *pump_other(struct pump *p)
{
	struct relay *r = p->relay;

	return p == &r->pumps[0] ? &r->pumps[1] : &r->pumps[0];
}

/* Nothing read and not yet written, not in the middle of a PDU. */
static bool pump_idle(const struct pump *p)
{
	return p->charged == 0 &&
	       (p->reader == NULL ||
		(tframe_reader_buffered(p->reader) == 0 &&
		 tframe_reader_body_left(p->reader) == 0));
}

/*
 * Only a relay that holds nothing waits for the budget.  One in the middle
 * of a PDU must finish it to release memory.  And while one direction
 * holds data, the other must go on reading: the peer it writes to may be
 * unable to take more until its own output (the other direction's source)
 * is read, an echo server say, and waiting there would wait for ever.
 */
static bool pump_may_wait(struct pump *p)
{
	return pump_idle(p) && pump_idle(pump_other(p));
}

static void pump_resume(void *private_data)
{
	pump_read(private_data);
}

/* A pump failed: the whole relay ends, naming the failing channel. */
static void pump_fail(struct pump *p, struct channel *where, int err)
{
	char message[512];

	pump_pass_abort(p, where, err);

	if (err == EMSGSIZE && p->reader != NULL && where == p->src) {
		snprintf(message, sizeof(message),
			 "%s: PDU larger than the limit (--max-pdu)",
			 where->name);
	} else if (where->stream != NULL &&
		   tstream_error_message(where->stream) != NULL) {
		snprintf(message, sizeof(message), "%s: %s", where->name,
			 tstream_error_message(where->stream));
	} else {
		snprintf(message, sizeof(message), "%s: %s", where->name,
			 strerror(err));
	}
	relay_finish(p->relay, err, message);
}

/* True if chan's peer has closed its socket entirely (POLLHUP). */
static bool channel_hung_up(const struct channel *chan)
{
	struct pollfd pfd = { .fd = chan->fd, .events = POLLOUT };

	return chan->fd != -1 && poll(&pfd, 1, 0) == 1 &&
	       (pfd.revents & POLLHUP);
}

static void pump_done(struct pump *p)
{
	struct relay *r = p->relay;

	p->done = true;
	if (r->write_message != NULL) {
		/* the other direction ended without a better reason */
		relay_finish(r, r->write_err, r->write_message);
		return;
	}
	if (p->src->quits_quietly && channel_hung_up(p->src)) {
		/* a program that has gone: what is left for it has nowhere
		   to go, and waiting for more of it could wait for ever */
		relay_finish(r, 0, NULL);
		return;
	}
	if ((r->pumps[0].done && r->pumps[1].done) ||
	    (relay_lingering(r) && r->opts->linger_ms == 0)) {
		/* -q 0: no linger at all */
		relay_finish(r, 0, NULL);
		return;
	}
	relay_arm_timer(r);	/* the linger may start now */
}

static void pump_shutdown_done(struct tevent_req *subreq)
{
	struct pump *p = tevent_req_callback_data_void(subreq);
	int err = 0;

	p->req = NULL;
	p->relay->last_active = tevent_timeval_current();
	if (tstream_shutdown_recv(subreq, &err) == -1 && err != ENOTCONN &&
	    err != EPIPE) {
		talloc_free(subreq);
		pump_fail(p, p->dst, err);
		return;
	}
	talloc_free(subreq);
	pump_done(p);
}

/* The source ended: pass the end on to a stream sink. */
static void pump_eof(struct pump *p)
{
	struct relay *r = p->relay;

	TALLOC_FREE(p->buf);	/* a kept bulk buffer has nothing to do */
	pump_account(p);
	log_verbose("end of stream from %s", p->src->name);
	if (p->dst->messages_end && p->dst->fd != -1) {
		/* a message connection: its peer reads the end as 0 bytes */
		shutdown(p->dst->fd, SHUT_WR);
	}
	if (p->dst->stream == NULL ||
	    (p->dst->is_stdio && r->opts->keep_stdio)) {
		pump_done(p);
		return;
	}
	p->req = tstream_shutdown_send(r, r->ev, p->dst->stream);
	if (p->req == NULL) {
		pump_fail(p, p->dst, ENOMEM);
		return;
	}
	tevent_req_set_callback(p->req, pump_shutdown_done, p);
}

/* ---------------------------------------------------------------- writing */

/* How long a direction may take to say why its peer went away. */
#define RELAY_WRITE_GRACE_MS 1000

static void relay_write_grace_over(struct tevent_context *ev,
				   struct tevent_timer *te,
				   struct timeval now, void *private_data)
{
	struct relay *r = private_data;

	r->write_grace = NULL;
	relay_finish(r, r->write_err, r->write_message);
}

/*
 * A write found its peer gone.  If the other direction is still reading
 * from that peer, let it finish first (briefly): what it reads may name
 * the reason.  False if the relay should fail at once.
 */
static bool pump_write_failed(struct pump *p, int err)
{
	struct relay *r = p->relay;
	struct pump *other = p == &r->pumps[0] ? &r->pumps[1] : &r->pumps[0];
	char message[300];

	if (other->done || other->src != p->dst || r->write_message != NULL) {
		return false;
	}
	snprintf(message, sizeof(message), "%s: %s", p->dst->name,
		 strerror(err));
	r->write_err = err;
	r->write_message = talloc_strdup(r, message);
	r->write_grace = tevent_add_timer(r->ev, r,
			tevent_timeval_current_ofs(0,
				RELAY_WRITE_GRACE_MS * 1000),
			relay_write_grace_over, r);
	return r->write_message != NULL && r->write_grace != NULL;
}

static void pump_written(struct tevent_req *subreq)
{
	struct pump *p = tevent_req_callback_data_void(subreq);
	int err = 0;
	ssize_t n;

	p->req = NULL;
	/* data moving out counts as activity too (see the idle timeout) */
	p->relay->last_active = tevent_timeval_current();
	if (p->dst->stream != NULL) {
		n = tstream_writev_recv(subreq, &err);
	} else {
		n = tdgram_sendto_recv(subreq, &err);
	}
	talloc_free(subreq);
	if (!p->keep) {
		TALLOC_FREE(p->buf);
	}
	p->keep = false;
	TALLOC_FREE(p->batch);
	if (p->big) {
		p->big = false;
		budget_big_done(p->relay->opts->budget);
	}
	pump_account(p);
	if (n == -1) {
		if (err == EPIPE && p->dst->is_stdio) {
			/* the reader of our output is gone: a quiet end */
			relay_finish(p->relay, 0, NULL);
			return;
		}
		if ((err == EPIPE || err == ECONNRESET) &&
		    p->dst->quits_quietly) {
			log_verbose("%s: stopped reading", p->dst->name);
			pump_done(p);
			return;
		}
		if ((err == EPIPE || err == ECONNRESET) &&
		    pump_write_failed(p, err)) {
			return;
		}
		pump_fail(p, p->dst, err);
		return;
	}
	pump_read(p);
}

static void pump_write(struct pump *p)
{
	struct relay *r = p->relay;
	const struct tframe_spec *spec = r->opts->frame;
	uint8_t *data = p->buf;
	size_t len = p->len;
	size_t count = 1;

	pump_account(p);
	p->bytes += len;
	if (r->opts->hexdump) {
		log_hexdump(p->label, data, len);
	}
	if (p->strip_header) {
		size_t hsize = tframe_header_size(spec);

		data += hsize;
		len -= hsize;
		if (len == 0) {
			/* an empty PDU has no datagram to become */
			TALLOC_FREE(p->buf);
			pump_account(p);
			pump_read(p);
			return;
		}
	}
	if (p->dst->dgram != NULL && len == 0 && p->dst->messages_end) {
		/* an empty message would read as the end there: dropped */
		TALLOC_FREE(p->buf);
		pump_account(p);
		pump_read(p);
		return;
	}
	if (p->dst->dgram != NULL) {
		p->req = tdgram_sendto_send(r, r->ev, p->dst->dgram, data, len,
					    NULL);
	} else {
		if (p->add_header) {
			if (tframe_header(spec, len, p->hdr) == -1) {
				pump_fail(p, p->src, errno);
				return;
			}
			p->iov[0].iov_base = p->hdr;
			p->iov[0].iov_len = tframe_header_size(spec);
			count = 2;
		}
		p->iov[count - 1].iov_base = data;
		p->iov[count - 1].iov_len = len;
		p->req = tstream_writev_send(r, r->ev, p->dst->stream, p->iov,
					     count);
	}
	if (p->req == NULL) {
		pump_fail(p, p->dst, ENOMEM);
		return;
	}
	tevent_req_set_callback(p->req, pump_written, p);
}

/* ---------------------------------------------------------------- reading */

/* A read finished: 0 bytes means end of stream, -1 an error. */
static void pump_got(struct pump *p, ssize_t n, int err)
{
	struct relay *r = p->relay;

	r->last_active = tevent_timeval_current();
	if (n == -1) {
		if (err == EPIPE && p->reader != NULL &&
		    tframe_reader_buffered(p->reader) > 0) {
			/* not a clean end: the PDU in progress is lost */
			char message[300];

			snprintf(message, sizeof(message), "%s: the stream "
				 "ended inside a PDU (at least %zu bytes "
				 "dropped)",
				 p->src->name,
				 tframe_reader_buffered(p->reader));
			relay_finish(r, EPIPE, message);
			return;
		}
		if ((err == EPIPE ||
		     (err == ECONNRESET && p->src->quits_quietly)) &&
		    p->src->stream != NULL) {
			pump_eof(p);
			return;
		}
		pump_fail(p, p->src, err);
		return;
	}
	p->len = (size_t)n;
	pump_write(p);
}

static void pump_read_dgram_done(struct tevent_req *subreq)
{
	struct pump *p = tevent_req_callback_data_void(subreq);
	int err = 0;
	ssize_t n;

	p->req = NULL;
	n = tdgram_recvfrom_recv(subreq, &err, p->relay, &p->buf, NULL);
	talloc_free(subreq);
	if (n == -1 && err == EPIPE && p->src->messages_end) {
		pump_eof(p);	/* a message connection's peer closed */
		return;
	}
	pump_got(p, n, err);
}

/*
 * Framed stream into a stream: the PDU just read and the ones already
 * complete behind it go out in one writev, so a burst of small PDUs does
 * not cost a system call each.
 */
static void pump_write_pdus(struct pump *p, uint8_t *first, size_t size)
{
	struct relay *r = p->relay;
	size_t n = 0, total = 0;
	uint8_t *pdu = first;
	struct iovec *iov;

	p->batch = talloc_new(r);
	if (p->batch == NULL) {
		pump_fail(p, p->src, ENOMEM);
		return;
	}
	/* allocated per batch: an idle relay should stay small */
	iov = talloc_array(p->batch, struct iovec, RELAY_BATCH);
	if (iov == NULL) {
		talloc_free(pdu);
		pump_fail(p, p->src, ENOMEM);
		return;
	}
	while (pdu != NULL) {
		talloc_steal(p->batch, pdu);
		iov[n].iov_base = pdu;
		iov[n].iov_len = size;
		n++;
		total += size;
		if (r->opts->hexdump) {
			log_hexdump(p->label, pdu, size);
		}
		if (n == RELAY_BATCH || total >= RELAY_BATCH_BYTES) {
			break;
		}
		/* a bad next header is reported by the next read */
		pdu = tframe_reader_take_buffered(p->reader, p->batch, &size);
	}
	pump_account(p);
	p->bytes += total;
	p->req = tstream_writev_send(r, r->ev, p->dst->stream, iov, n);
	if (p->req == NULL) {
		pump_fail(p, p->dst, ENOMEM);
		return;
	}
	tevent_req_set_callback(p->req, pump_written, p);
}

/* A large PDU is to be held whole after all (the budget allowed it). */
static void pump_assemble(void *private_data)
{
	struct pump *p = private_data;

	p->big = p->budgeted;
	if (tframe_reader_assemble(p->reader) == -1) {
		pump_fail(p, p->src, errno);
		return;
	}
	pump_account(p);
	pump_read(p);	/* it holds data: no waiting for the budget */
}

/* The read stopped at the checked header of a PDU over RELAY_HOLD_MAX. */
static void pump_large_pdu(struct pump *p)
{
	struct relay *r = p->relay;
	size_t size = (size_t)tframe_reader_stopped_size(p->reader);

	r->last_active = tevent_timeval_current();
	if (p->dst->stream != NULL) {
		/* into a stream: the head now, the body as it comes */
		p->buf = tframe_reader_take_head(p->reader, r, &p->len);
		if (p->buf == NULL) {
			pump_fail(p, p->src, ENOMEM);
			return;
		}
		pump_write(p);
		return;
	}
	/* a datagram is built from the whole PDU: memory first */
	if (p->budgeted && !budget_big_start(r->opts->budget, size)) {
		budget_wait(r->opts->budget, &p->wait, size, pump_assemble, p);
		return;
	}
	pump_assemble(p);
}

/*
 * The source ended, or failed, inside the body of a PDU that has partly
 * gone out: relay_finish resets the sink.
 */
static void pump_cut_short(struct pump *p, int err)
{
	char message[300];

	if (err != EPIPE) {
		pump_fail(p, p->src, err);
		return;
	}
	snprintf(message, sizeof(message), "%s: the stream ended inside a "
		 "PDU (%llu bytes short)", p->src->name, (unsigned long long)
		 tframe_reader_body_left(p->reader));
	relay_finish(p->relay, EPIPE, message);
}

static void pump_read_body_done(struct tevent_req *subreq)
{
	struct pump *p = tevent_req_callback_data_void(subreq);
	int err = 0;
	ssize_t n;

	p->req = NULL;
	n = tstream_read_some_recv(subreq, &err);
	talloc_free(subreq);
	if (n <= 0) {
		pump_cut_short(p, n == 0 ? EPIPE : err);
		return;
	}
	tframe_reader_body_read(p->reader, (size_t)n);
	/* the buffer serves the rest of the body (never more than it) */
	p->keep = tframe_reader_body_left(p->reader) > 0;
	pump_got(p, n, 0);
}

/* The next piece of a large PDU's body, as much as has arrived. */
static void pump_read_body(struct pump *p)
{
	struct relay *r = p->relay;
	uint64_t left = tframe_reader_body_left(p->reader);
	size_t want = left < RELAY_BODY_CHUNK ? (size_t)left
					      : RELAY_BODY_CHUNK;

	if (p->buf == NULL) {
		p->buf = talloc_size(r, want);
		if (p->buf == NULL) {
			pump_fail(p, p->src, ENOMEM);
			return;
		}
	}
	p->req = tstream_read_some_send(r, r->ev, p->src->stream, p->buf,
					want);
	if (p->req == NULL) {
		pump_fail(p, p->src, ENOMEM);
		return;
	}
	tevent_req_set_callback(p->req, pump_read_body_done, p);
}

static void pump_read_pdu_done(struct tevent_req *subreq)
{
	struct pump *p = tevent_req_callback_data_void(subreq);
	uint8_t *pdu;
	int err = 0;
	size_t size = 0;

	p->req = NULL;
	if (tstream_readv_pdu_recv(subreq, &err) == -1) {
		talloc_free(subreq);
		pump_got(p, -1, err);
		return;
	}
	talloc_free(subreq);
	if (tframe_reader_stopped_size(p->reader) > 0) {
		pump_large_pdu(p);
		return;
	}
	pdu = tframe_reader_take(p->reader, p->relay, &size);
	if (pdu != NULL && p->dst->stream != NULL) {
		p->relay->last_active = tevent_timeval_current();
		pump_write_pdus(p, pdu, size);
		return;
	}
	p->buf = pdu;
	pump_got(p, pdu != NULL ? (ssize_t)size : -1, ENOMEM);
}

/*
 * Raw stream reads come in two modes.  A trickle (and an idle stream)
 * holds no buffer: tstream_read_some_alloc makes one of the size of what
 * arrived (on sockets one read(2) per message, no FIONREAD).
 * A read that brings RELAY_CHUNK_MIN bytes or more starts bulk mode: a
 * large buffer, kept from read to read, one system call per read, for as
 * long as reads bring at least RELAY_BULK_MIN bytes.
 */
static void pump_read_bulk_done(struct tevent_req *subreq)
{
	struct pump *p = tevent_req_callback_data_void(subreq);
	int err = 0;
	ssize_t n;

	p->req = NULL;
	n = tstream_read_some_recv(subreq, &err);
	talloc_free(subreq);
	p->keep = n >= RELAY_BULK_MIN;
	if (!p->keep) {
		p->bulk = false;	/* back to a trickle */
	}
	pump_got(p, n, err);
}

static void pump_read_trickle_done(struct tevent_req *subreq)
{
	struct pump *p = tevent_req_callback_data_void(subreq);
	int err = 0;
	ssize_t n;

	p->req = NULL;
	n = tstream_read_some_alloc_recv(subreq, &err, p->relay, &p->buf);
	talloc_free(subreq);
	p->bulk = n > 0 && (size_t)n >= RELAY_CHUNK_MIN;
	pump_got(p, n, err);
}

static void pump_read_chunk(struct pump *p)
{
	struct relay *r = p->relay;

	if (!p->bulk) {
		p->req = tstream_read_some_alloc_send(r, r->ev, p->src->stream,
						      p->chunk_max);
		if (p->req == NULL) {
			pump_fail(p, p->src, ENOMEM);
			return;
		}
		tevent_req_set_callback(p->req, pump_read_trickle_done, p);
		return;
	}
	if (p->buf == NULL) {
		p->buf = talloc_size(r, p->chunk_max);
		if (p->buf == NULL) {
			pump_fail(p, p->src, ENOMEM);
			return;
		}
	}
	p->req = tstream_read_some_send(r, r->ev, p->src->stream, p->buf,
					p->chunk_max);
	if (p->req == NULL) {
		pump_fail(p, p->src, ENOMEM);
		return;
	}
	tevent_req_set_callback(p->req, pump_read_bulk_done, p);
}

static void pump_read(struct pump *p)
{
	struct relay *r = p->relay;

	if (r->finished) {
		return;
	}
	pump_account(p);
	if (p->budgeted && budget_spent(r->opts->budget) &&
	    pump_may_wait(p)) {
		/* over the budget: no new read until memory is released */
		budget_wait(r->opts->budget, &p->wait, 0, pump_resume, p);
		return;
	}
	if (p->src->dgram != NULL) {
		p->req = tdgram_recvfrom_send(r, r->ev, p->src->dgram);
		if (p->req == NULL) {
			pump_fail(p, p->src, ENOMEM);
			return;
		}
		tevent_req_set_callback(p->req, pump_read_dgram_done, p);
		return;
	}
	if (p->reader != NULL && tframe_reader_body_left(p->reader) > 0) {
		pump_read_body(p);
		return;
	}
	if (p->reader != NULL) {
		p->req = tstream_readv_pdu_send(r, r->ev, p->src->stream,
						tframe_next_vector, p->reader);
		if (p->req == NULL) {
			pump_fail(p, p->src, ENOMEM);
			return;
		}
		tevent_req_set_callback(p->req, pump_read_pdu_done, p);
		return;
	}
	pump_read_chunk(p);
}

/* ---------------------------------------------------------------- setup */

static int pump_init(struct relay *r, struct pump *p, struct channel *src,
		     struct channel *dst)
{
	const struct tframe_spec *spec = r->opts->frame;

	p->relay = r;
	p->src = src;
	p->dst = dst;
	if (r->opts->hexdump) {
		p->label = talloc_asprintf(r, "%s > %s", src->name, dst->name);
		if (p->label == NULL) {
			return -1;
		}
	}
	p->chunk_max = dst->dgram != NULL ? RELAY_DGRAM_MAX : RELAY_CHUNK_MAX;
	if (spec != NULL && src->stream != NULL) {
		p->reader = tframe_reader_create(r, spec);
		if (p->reader == NULL) {
			return -1;
		}
		tframe_reader_set_hold_max(p->reader, RELAY_HOLD_MAX);
		p->strip_header = dst->dgram != NULL;
	}
	p->add_header = spec != NULL && src->dgram != NULL &&
			dst->stream != NULL;
	p->budgeted = r->opts->budget != NULL &&
		      (p->reader != NULL || p->add_header);
	if (p->add_header) {
		p->hdr = talloc_size(r, tframe_header_size(spec));
		if (p->hdr == NULL) {
			return -1;
		}
	}
	return 0;
}

/* A watched channel broke (see struct relay): the relay ends with it. */
static void relay_monitor_done(struct tevent_req *subreq)
{
	struct pump *p = tevent_req_callback_data_void(subreq);
	struct relay *r = p->relay;
	int i = p == &r->pumps[0] ? 0 : 1;
	int err = 0;

	r->monitor[i] = NULL;
	tstream_monitor_recv(subreq, &err);
	talloc_free(subreq);
	if (err == EPIPE || err == ENOTSUP ||
	    (err == ECONNRESET && p->src->quits_quietly)) {
		return;	/* a clean end: the pumps see it themselves */
	}
	log_verbose("%s: gone while not being read", p->src->name);
	pump_fail(p, p->src, err);
}

static void relay_monitor(struct relay *r, int i)
{
	struct pump *p = &r->pumps[i];

	if (p->src->stream == NULL || p->src->is_stdio) {
		return;
	}
	r->monitor[i] = tstream_monitor_send(r, r->ev, p->src->stream);
	if (r->monitor[i] != NULL) {
		tevent_req_set_callback(r->monitor[i], relay_monitor_done, p);
	}
}

/* What the pumps hold is no longer charged once the relay is gone. */
static int relay_destructor(struct relay *r)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct pump *p = &r->pumps[i];

		budget_cancel(&p->wait);
		if (p->budgeted) {
			budget_set(r->opts->budget, &p->charged, 0);
		}
		if (p->big) {
			budget_big_done(r->opts->budget);
		}
	}
	return 0;
}

struct relay *relay_start(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
			  struct channel *a, struct channel *b,
			  const struct relay_opts *opts,
			  relay_done_fn fn, void *private_data)
{
	struct relay *r = talloc_zero(mem_ctx, struct relay);

	if (r == NULL) {
		return NULL;
	}
	r->ev = ev;
	r->opts = opts;
	r->fn = fn;
	r->private_data = private_data;
	r->last_active = tevent_timeval_current();
	talloc_set_destructor(r, relay_destructor);
	if (pump_init(r, &r->pumps[0], a, b) == -1 ||
	    pump_init(r, &r->pumps[1], b, a) == -1) {
		talloc_free(r);
		return NULL;
	}
	relay_arm_timer(r);
	relay_monitor(r, 0);
	relay_monitor(r, 1);
	r->starting = true;
	pump_read(&r->pumps[0]);
	pump_read(&r->pumps[1]);
	r->starting = false;
	if (r->finished) {
		/* failed at once (out of memory) */
		talloc_free(r);
		return NULL;
	}
	return r;
}
