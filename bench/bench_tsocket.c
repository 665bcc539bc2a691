/*
 * bench_tsocket.c - how fast libtsocket streams move data
 *
 * Both ends of a tstream_unix_socketpair() are driven by one tevent loop,
 * so the figures cover the library plus the kernel's unix socket path and
 * nothing else: no second thread or process has to be scheduled.
 *
 *   throughput_64k  bulk transfer with 64 KiB tstream_writev/tstream_readv
 *   pdu_64b         tstream_readv_pdu rate for 64-byte bodies behind a
 *                   4-byte big-endian length, written in batches, read
 *                   with a plain two-step next_vector (header, body)
 *   pdu_4k          the same with 4 KiB bodies
 *   frame_64b       the same PDUs read by the framing library's reader
 *   frame_4k        (tframe_next_vector), which reads ahead
 *
 * This is a benchmark, not a test: it checks the data only as far as
 * needed to notice that a run has gone wrong.  The figure lines are the
 * only output on stdout so that scripts can collect them.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "tsocket.h"
#include "tsocket_frame.h"

#define CHUNK_SIZE	(64 * 1024)

#define PDU_HDR_SIZE	4
#define PDU_BODY_MAX	4096	/* the largest body measured */
/*
 * PDUs per tstream_writev: enough (about 17 KiB) that the writer's cost
 * per PDU is small, as for a busy server that replies in bulk, so the
 * figure is dominated by the reader, which is what is being measured.
 */
#define PDU_BATCH	256

/*
 * A run that has not finished this long after its deadline is stuck (a
 * read that never completes, say); fail it rather than hang forever.
 */
#define WATCHDOG_GRACE	30

static double now_sec(void)
{
	struct timespec ts;

	/* MONOTONIC: wall-clock steps must not distort the figures. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * State shared by both measurements.  The writer sends the same buffer
 * over and over until the deadline; the run ends once the reader has
 * consumed everything that was sent, so the time includes the drain.
 * "Units" are 64 KiB chunks or PDUs, depending on the measurement.
 */
struct run {
	struct tevent_context *ev;
	struct tstream_context *wstream;
	struct tstream_context *rstream;
	struct tevent_req *rreq;	/* the reader's pending request */

	struct iovec wiov;		/* what every write sends */
	uint64_t units_per_write;

	double start;
	double deadline;
	double end;
	uint64_t sent;
	uint64_t received;
	bool writer_stopped;
	bool finished;

	const char *failed;		/* the step that failed, or NULL */
	int err;
};

static void run_fail(struct run *run, const char *step, int err)
{
	/* Keep the first failure: later ones are usually its echoes. */
	if (run->failed == NULL) {
		run->failed = step;
		run->err = err;
	}
	run->finished = true;
}

static void run_check_done(struct run *run)
{
	if (run->writer_stopped && run->received == run->sent) {
		run->end = now_sec();
		run->finished = true;
	}
}

static void run_write_done(struct tevent_req *req);

static void run_write_next(struct run *run)
{
	struct tevent_req *req;

	req = tstream_writev_send(run, run->ev, run->wstream, &run->wiov, 1);
	if (req == NULL) {
		run_fail(run, "tstream_writev_send", ENOMEM);
		return;
	}
	tevent_req_set_callback(req, run_write_done, run);
}

static void run_write_done(struct tevent_req *req)
{
	struct run *run = tevent_req_callback_data(req, struct run);
	int err = 0;
	int n;

	n = tstream_writev_recv(req, &err);
	talloc_free(req);
	if (n == -1) {
		run_fail(run, "tstream_writev", err);
		return;
	}
	if ((size_t)n != run->wiov.iov_len) {
		run_fail(run, "tstream_writev (short count)", EIO);
		return;
	}
	run->sent += run->units_per_write;

	/*
	 * The clock is read only here, once per write, so timekeeping adds
	 * nothing to the reader's per-unit cost.
	 */
	if (now_sec() >= run->deadline) {
		run->writer_stopped = true;
		run_check_done(run);
		return;
	}
	run_write_next(run);
}

static void run_watchdog(struct tevent_context *ev, struct tevent_timer *te,
			 struct timeval now, void *private_data)
{
	struct run *run = private_data;

	(void)ev;
	(void)te;
	(void)now;
	run_fail(run, "no progress (watchdog)", ETIMEDOUT);
}

/*
 * A run on mem_ctx with a fresh socketpair, writing wbuf[0..wlen-1] and
 * counting units_per_write units for each write.  NULL on failure.
 */
static struct run *run_create(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
			      double seconds, void *wbuf, size_t wlen,
			      uint64_t units_per_write)
{
	struct run *run;

	run = talloc_zero(mem_ctx, struct run);
	if (run == NULL) {
		fprintf(stderr, "bench_tsocket: %s\n", strerror(ENOMEM));
		return NULL;
	}
	run->ev = ev;
	/* Both streams are children of run, so freeing it closes them. */
	if (tstream_unix_socketpair(run, &run->wstream,
				    run, &run->rstream) == -1) {
		fprintf(stderr, "bench_tsocket: tstream_unix_socketpair: %s\n",
			strerror(errno));
		talloc_free(run);
		return NULL;
	}
	run->wiov.iov_base = wbuf;
	run->wiov.iov_len = wlen;
	run->units_per_write = units_per_write;

	/* The timer is a child of run, so it goes away with the run. */
	if (tevent_add_timer(ev, run,
			     tevent_timeval_current_ofs(
				     (uint32_t)seconds + WATCHDOG_GRACE, 0),
			     run_watchdog, run) == NULL) {
		fprintf(stderr, "bench_tsocket: tevent_add_timer: %s\n",
			strerror(ENOMEM));
		talloc_free(run);
		return NULL;
	}

	run->start = now_sec();
	run->deadline = run->start + seconds;
	return run;
}

/* Drive the loop until the run ends; returns the elapsed time or -1. */
static double run_loop(struct run *run, const char *name)
{
	while (!run->finished) {
		if (tevent_loop_once(run->ev) != 0) {
			run_fail(run, "tevent_loop_once", errno);
		}
	}

	/*
	 * When the writer stops the reader is left waiting for more; freeing
	 * that request is the documented way to cancel it.
	 */
	TALLOC_FREE(run->rreq);

	if (run->failed != NULL) {
		fprintf(stderr, "bench_tsocket: %s: %s: %s\n", name,
			run->failed, strerror(run->err));
		return -1;
	}
	if (run->end <= run->start) {
		fprintf(stderr, "bench_tsocket: %s: clock did not advance\n",
			name);
		return -1;
	}
	return run->end - run->start;
}

/* ---------------------------------------------------------------- */
/* throughput_64k                                                   */
/* ---------------------------------------------------------------- */

struct tp_state {
	struct run *run;
	uint8_t *rbuf;
	struct iovec riov;
};

static void tp_read_done(struct tevent_req *req);

static void tp_read_next(struct tp_state *tp)
{
	struct run *run = tp->run;

	tp->riov.iov_base = tp->rbuf;
	tp->riov.iov_len = CHUNK_SIZE;
	run->rreq = tstream_readv_send(tp, run->ev, run->rstream,
				       &tp->riov, 1);
	if (run->rreq == NULL) {
		run_fail(run, "tstream_readv_send", ENOMEM);
		return;
	}
	tevent_req_set_callback(run->rreq, tp_read_done, tp);
}

static void tp_read_done(struct tevent_req *req)
{
	struct tp_state *tp = tevent_req_callback_data(req, struct tp_state);
	int err = 0;
	int n;

	n = tstream_readv_recv(req, &err);
	TALLOC_FREE(tp->run->rreq);
	if (n == -1) {
		run_fail(tp->run, "tstream_readv", err);
		return;
	}
	if (n != CHUNK_SIZE) {
		/* readv promises full buffers; anything else is a bug. */
		run_fail(tp->run, "tstream_readv (short count)", EIO);
		return;
	}
	tp->run->received++;
	run_check_done(tp->run);
	if (!tp->run->finished) {
		tp_read_next(tp);
	}
}

static int bench_throughput(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
			    double seconds)
{
	struct tp_state *tp;
	uint8_t *wbuf;
	double elapsed;
	double mib;

	tp = talloc_zero(mem_ctx, struct tp_state);
	if (tp == NULL) {
		goto nomem;
	}
	wbuf = talloc_array(tp, uint8_t, CHUNK_SIZE);
	tp->rbuf = talloc_array(tp, uint8_t, CHUNK_SIZE);
	if (wbuf == NULL || tp->rbuf == NULL) {
		goto nomem;
	}
	/* Touch the pages now so that page faults are not timed. */
	memset(wbuf, 0x5a, CHUNK_SIZE);
	memset(tp->rbuf, 0, CHUNK_SIZE);

	tp->run = run_create(tp, ev, seconds, wbuf, CHUNK_SIZE, 1);
	if (tp->run == NULL) {
		talloc_free(tp);
		return -1;
	}
	tp_read_next(tp);
	run_write_next(tp->run);

	elapsed = run_loop(tp->run, "throughput_64k");
	if (elapsed < 0) {
		talloc_free(tp);
		return -1;
	}
	mib = (double)tp->run->received * CHUNK_SIZE / (1024.0 * 1024.0);
	printf("throughput_64k: %.1f MiB/s\n", mib / elapsed);
	talloc_free(tp);
	return 0;

nomem:
	fprintf(stderr, "bench_tsocket: throughput_64k: %s\n",
		strerror(ENOMEM));
	talloc_free(tp);
	return -1;
}

/* ---------------------------------------------------------------- */
/* pdu_64b                                                          */
/* ---------------------------------------------------------------- */

enum pdu_step {
	PDU_WANT_HEADER,
	PDU_WANT_BODY,
	PDU_COMPLETE,
};

/* The next_vector state: reset before each tstream_readv_pdu_send(). */
struct pdu_reader {
	enum pdu_step step;
	uint8_t hdr[PDU_HDR_SIZE];
	uint8_t body[PDU_BODY_MAX];
	uint32_t body_len;
	struct iovec iov;
};

/*
 * The plain two-step framing a protocol would use: read the 4-byte
 * header, then exactly the body it announces, then report completion.
 * The buffers live in the reader state, so nothing is allocated per PDU.
 */
static int pdu_next_vector(struct tstream_context *stream,
			   void *private_data, TALLOC_CTX *mem_ctx,
			   struct iovec **vector, size_t *count)
{
	struct pdu_reader *r = private_data;

	/* Callback signature: the stream and mem_ctx are not needed here. */
	(void)stream;
	(void)mem_ctx;

	switch (r->step) {
	case PDU_WANT_HEADER:
		r->iov.iov_base = r->hdr;
		r->iov.iov_len = sizeof(r->hdr);
		r->step = PDU_WANT_BODY;
		break;
	case PDU_WANT_BODY:
		r->body_len = (uint32_t)r->hdr[0] << 24 |
			      (uint32_t)r->hdr[1] << 16 |
			      (uint32_t)r->hdr[2] << 8 |
			      (uint32_t)r->hdr[3];
		if (r->body_len > sizeof(r->body)) {
			errno = EMSGSIZE;
			return -1;
		}
		r->step = PDU_COMPLETE;
		if (r->body_len == 0) {
			/* An empty vector would be EINVAL; it ends the PDU. */
			*vector = NULL;
			*count = 0;
			return 0;
		}
		r->iov.iov_base = r->body;
		r->iov.iov_len = r->body_len;
		break;
	case PDU_COMPLETE:
	default:
		*vector = NULL;
		*count = 0;
		return 0;
	}
	*vector = &r->iov;
	*count = 1;
	return 0;
}

struct pdu_state {
	struct run *run;
	struct pdu_reader reader;
	struct tframe_reader *frame;	/* NULL: the plain reader */
	size_t body_size;
};

static void pdu_read_done(struct tevent_req *req);

static void pdu_read_next(struct pdu_state *ps)
{
	struct run *run = ps->run;

	ps->reader.step = PDU_WANT_HEADER;
	if (ps->frame != NULL) {
		run->rreq = tstream_readv_pdu_send(ps, run->ev, run->rstream,
						   tframe_next_vector,
						   ps->frame);
	} else {
		run->rreq = tstream_readv_pdu_send(ps, run->ev, run->rstream,
						   pdu_next_vector,
						   &ps->reader);
	}
	if (run->rreq == NULL) {
		run_fail(run, "tstream_readv_pdu_send", ENOMEM);
		return;
	}
	tevent_req_set_callback(run->rreq, pdu_read_done, ps);
}

static void pdu_read_done(struct tevent_req *req)
{
	struct pdu_state *ps = tevent_req_callback_data(req, struct pdu_state);
	const uint8_t *body = ps->reader.body;
	size_t body_len = ps->reader.body_len;
	uint8_t *pdu = NULL;
	uint8_t expect;
	int err = 0;
	int n;

	n = tstream_readv_pdu_recv(req, &err);
	TALLOC_FREE(ps->run->rreq);
	if (n == -1) {
		run_fail(ps->run, "tstream_readv_pdu", err);
		return;
	}

	/*
	 * Each body starts with its index in the batch, so a PDU boundary
	 * lost or invented by the library shows up here at once.
	 */
	if (ps->frame != NULL) {
		size_t size = 0;

		pdu = tframe_reader_take(ps->frame, ps, &size);
		body = pdu != NULL ? pdu + PDU_HDR_SIZE : NULL;
		body_len = size - PDU_HDR_SIZE;
	}
	expect = (uint8_t)(ps->run->received % PDU_BATCH);
	if (body == NULL || body_len != ps->body_size || body[0] != expect) {
		run_fail(ps->run, "tstream_readv_pdu (framing lost)", EIO);
		return;
	}
	talloc_free(pdu);
	ps->run->received++;
	run_check_done(ps->run);
	if (!ps->run->finished) {
		pdu_read_next(ps);
	}
}

/*
 * PDUs/s with body_size-byte bodies, read by the plain two-step reader
 * or (use_frame) by the framing library's reader; printed as name.
 */
static int bench_pdu(TALLOC_CTX *mem_ctx, struct tevent_context *ev,
		     double seconds, size_t body_size, bool use_frame,
		     const char *name)
{
	struct tframe_spec spec;
	struct pdu_state *ps;
	uint8_t *batch;
	size_t wire = PDU_HDR_SIZE + body_size;
	double elapsed;
	size_t i;

	ps = talloc_zero(mem_ctx, struct pdu_state);
	if (ps == NULL) {
		goto nomem;
	}
	ps->body_size = body_size;
	if (use_frame) {
		if (tframe_spec_parse("u32be", &spec, NULL) == -1) {
			goto nomem;
		}
		ps->frame = tframe_reader_create(ps, &spec);
		if (ps->frame == NULL) {
			goto nomem;
		}
	}
	batch = talloc_zero_array(ps, uint8_t, PDU_BATCH * wire);
	if (batch == NULL) {
		goto nomem;
	}
	for (i = 0; i < PDU_BATCH; i++) {
		uint8_t *pdu = batch + i * wire;

		pdu[0] = (body_size >> 24) & 0xff;
		pdu[1] = (body_size >> 16) & 0xff;
		pdu[2] = (body_size >> 8) & 0xff;
		pdu[3] = body_size & 0xff;
		pdu[PDU_HDR_SIZE] = (uint8_t)i;
	}

	ps->run = run_create(ps, ev, seconds, batch, PDU_BATCH * wire,
			     PDU_BATCH);
	if (ps->run == NULL) {
		talloc_free(ps);
		return -1;
	}
	pdu_read_next(ps);
	run_write_next(ps->run);

	elapsed = run_loop(ps->run, name);
	if (elapsed < 0) {
		talloc_free(ps);
		return -1;
	}
	printf("%s: %.0f PDUs/s\n", name, (double)ps->run->received / elapsed);
	talloc_free(ps);
	return 0;

nomem:
	fprintf(stderr, "bench_tsocket: %s: %s\n", name, strerror(ENOMEM));
	talloc_free(ps);
	return -1;
}

/* ---------------------------------------------------------------- */
/* main                                                             */
/* ---------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bench_tsocket [-t SECONDS] "
		"[-m throughput|pdu|frame|all]\n"
		"  -t SECONDS  how long each measurement writes (default 3)\n"
		"  -m MODE     which figure to measure (default all)\n");
}

int main(int argc, char **argv)
{
	TALLOC_CTX *mem_ctx;
	struct tevent_context *ev;
	double seconds = 3.0;
	bool do_tp = true;
	bool do_pdu = true;
	bool do_frame = true;
	char *end;
	int status = 0;
	int opt;

	while ((opt = getopt(argc, argv, "ht:m:")) != -1) {
		switch (opt) {
		case 't':
			errno = 0;
			seconds = strtod(optarg, &end);
			/* A cap keeps the watchdog timeout sane. */
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !(seconds > 0.0) || seconds > 86400.0) {
				fprintf(stderr, "bench_tsocket: -t '%s': "
					"expected seconds between 0 and "
					"86400\n", optarg);
				return 2;
			}
			break;
		case 'm':
			do_tp = strcmp(optarg, "throughput") == 0;
			do_pdu = strcmp(optarg, "pdu") == 0;
			do_frame = strcmp(optarg, "frame") == 0;
			if (strcmp(optarg, "all") == 0) {
				do_tp = do_pdu = do_frame = true;
			}
			if (!do_tp && !do_pdu && !do_frame) {
				fprintf(stderr, "bench_tsocket: -m '%s': "
					"expected throughput, pdu, frame or "
					"all\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "bench_tsocket: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}

	mem_ctx = talloc_new(NULL);
	if (mem_ctx == NULL) {
		fprintf(stderr, "bench_tsocket: %s\n", strerror(ENOMEM));
		return 1;
	}
	ev = tevent_context_init(mem_ctx);
	if (ev == NULL) {
		fprintf(stderr, "bench_tsocket: tevent_context_init failed\n");
		talloc_free(mem_ctx);
		return 1;
	}

	/*
	 * Each measurement gets a fresh socketpair, so the second one does
	 * not start with the first one's leftovers in the socket buffers.
	 */
	if (do_tp && bench_throughput(mem_ctx, ev, seconds) != 0) {
		status = 1;
	}
	if (do_pdu &&
	    (bench_pdu(mem_ctx, ev, seconds, 64, false, "pdu_64b") != 0 ||
	     bench_pdu(mem_ctx, ev, seconds, 4096, false, "pdu_4k") != 0)) {
		status = 1;
	}
	if (do_frame &&
	    (bench_pdu(mem_ctx, ev, seconds, 64, true, "frame_64b") != 0 ||
	     bench_pdu(mem_ctx, ev, seconds, 4096, true, "frame_4k") != 0)) {
		status = 1;
	}

	talloc_free(mem_ctx);
	return status;
}
