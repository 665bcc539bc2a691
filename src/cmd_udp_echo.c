/*
 * cmd_udp_echo.c - tsock udp-echo [ENDPOINT]: every datagram back to its
 * sender
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include "commands.h"
#include "listener.h"
#include "log.h"
#include "ratelimit.h"
#include "run.h"

struct echo {
	struct run *run;
	struct channel *sock;
	struct ratelimit *limit;	/* --max-rate */
	uint8_t *buf;
	struct tsocket_address *peer;
	ssize_t len;
};

static void echo_receive(struct echo *e);

static void echo_sent(struct tevent_req *subreq)
{
	struct echo *e = tevent_req_callback_data(subreq, struct echo);
	int err = 0;

	if (tdgram_sendto_recv(subreq, &err) == -1) {
		log_verbose("%s: %s", e->sock->name, strerror(err));
	}
	talloc_free(subreq);
	TALLOC_FREE(e->buf);
	TALLOC_FREE(e->peer);
	echo_receive(e);
}

/*
 * Never answer ourselves (a datagram spoofed to come from our own
 * address would echo for ever), nor a peer beyond its rate (two echo
 * servers bouncing a datagram: the bucket runs dry, the loop ends).
 */
static bool echo_may_answer(struct echo *e)
{
	struct sockaddr_storage ss;
	ssize_t len;

	len = tsocket_address_bsd_sockaddr(e->peer, (struct sockaddr *)&ss,
					   sizeof(ss));
	if (len <= 0) {
		return false;
	}
	if (channel_is_own_address(e->sock, &ss, (socklen_t)len)) {
		log_verbose("%s: a datagram from our own address: dropped",
			    e->sock->name);
		return false;
	}
	if (!ratelimit_allow(e->limit, &ss, (socklen_t)len)) {
		log_verbose("%s: over --max-rate: a datagram dropped",
			    e->sock->name);
		return false;
	}
	return true;
}

static void echo_received(struct tevent_req *subreq)
{
	struct echo *e = tevent_req_callback_data(subreq, struct echo);
	int err = 0;

	e->len = tdgram_recvfrom_recv(subreq, &err, e, &e->buf, &e->peer);
	talloc_free(subreq);
	if (e->len == -1) {
		/* ICMP errors for earlier replies: keep serving */
		log_verbose("%s: %s", e->sock->name, strerror(err));
		echo_receive(e);
		return;
	}
	if (!echo_may_answer(e)) {
		TALLOC_FREE(e->buf);
		TALLOC_FREE(e->peer);
		echo_receive(e);
		return;
	}
	if (e->run->opts->relay.hexdump) {
		log_hexdump("<", e->buf, (size_t)e->len);
	}
	subreq = tdgram_sendto_send(e, e->run->ev, e->sock->dgram, e->buf,
				    (size_t)e->len, e->peer);
	if (subreq == NULL) {
		run_fail(e->run, TSOCK_EXIT_FAILURE, NULL);
		return;
	}
	tevent_req_set_callback(subreq, echo_sent, e);
}

static void echo_receive(struct echo *e)
{
	struct tevent_req *subreq;

	subreq = tdgram_recvfrom_send(e, e->run->ev, e->sock->dgram);
	if (subreq == NULL) {
		run_fail(e->run, TSOCK_EXIT_FAILURE, NULL);
		return;
	}
	tevent_req_set_callback(subreq, echo_received, e);
}

int cmd_udp_echo(const struct tsock_options *opts, struct endpoint **eps,
		 int n)
{
	struct endpoint *ep = eps[0];
	struct run *run;
	struct echo *e;
	char *error = NULL;

	if (ep->carries != CARRIES_DATAGRAMS) {
		log_error("endpoint '%s': udp-echo needs a udp or unix-dgram "
			  "endpoint", ep->text);
		return TSOCK_EXIT_USAGE;
	}
	run = run_create(NULL, opts);
	if (run == NULL) {
		return TSOCK_EXIT_FAILURE;
	}
	e = talloc_zero(run, struct echo);
	if (e == NULL) {
		run_fail(run, TSOCK_EXIT_FAILURE, NULL);
		return run_loop(run);
	}
	e->run = run;
	run->first = e;
	e->sock = listener_bind_dgram(e, ep, &error);
	if (e->sock == NULL) {
		run_fail(run, TSOCK_EXIT_FAILURE, error);
		return run_loop(run);
	}
	e->limit = ratelimit_create(e, opts->max_rate >= 0
				       ? (unsigned)opts->max_rate
				       : TSOCK_ECHO_MAX_RATE);
	echo_receive(e);
	return run_loop(run);
}
