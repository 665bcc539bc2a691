/*
 * test_session.c - unit tests of what runs a connection in tsock: the
 * opener with its layers (src/channel.c, src/layers.c), exec: children
 * (src/kind_exec.c, src/child.c), the relay (src/relay.c) and datagram
 * sessions (src/udp_front.c)
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "channel.h"
#include "endpoint.h"
#include "layer.h"
#include "listener.h"
#include "relay.h"
#include "test_util.h"
#include "udp_front.h"

#define LOOP_MS 5000

static const struct endpoint_settings defaults = { .mode = -1 };

struct opened {
	TALLOC_CTX *mem;
	bool done;
	struct channel *chan;
	char *error;
};

static void opened(struct tevent_req *req)
{
	struct opened *o = tevent_req_callback_data_void(req);

	o->chan = channel_open_recv(req, o->mem, &o->error);
	talloc_free(req);
	o->done = true;
}

/* Open ep in the loop; the channel, or NULL with o->error. */
static struct channel *open_ep(struct tu_ctx *t, const struct endpoint *ep,
			       struct opened *o)
{
	struct tevent_req *req;

	memset(o, 0, sizeof(*o));
	o->mem = t->mem;
	req = channel_open_send(t->mem, t->ev, ep, NULL, NULL);
	assert_non_null(req);
	tevent_req_set_callback(req, opened, o);
	assert_true(tu_loop_until(t->ev, &o->done, LOOP_MS));
	return o->chan;
}

static struct endpoint *parse(struct tu_ctx *t, const char *text)
{
	char *error = NULL;
	struct endpoint *ep = endpoint_parse(t->mem, text, false, AF_UNSPEC,
					     &defaults, &error);

	if (ep == NULL) {
		fail_msg("%s", error);
	}
	assert_int_equal(endpoint_prepare(ep, &error), 0);
	return ep;
}

static void write_all(struct tu_ctx *t, struct tstream_context *s,
		      const char *text)
{
	int err = 0;

	assert_int_equal(do_writev(t, s, text, strlen(text), &err),
			 (int)strlen(text));
}

/* Rule: an exec: channel is the child's stdin and stdout, half-closed. */
static void test_exec_channel(void **state)
{
	struct tu_ctx *t = *state;
	struct endpoint *ep = parse(t, "exec:tr a-z A-Z");
	struct opened o;
	struct tevent_req *req;
	char buf[16] = "";
	bool done = false;
	char *error = NULL;
	int err = 0;

	assert_non_null(open_ep(t, ep, &o));
	assert_string_equal(o.chan->name, "exec:tr a-z A-Z");
	write_all(t, o.chan->stream, "hello");
	assert_int_equal(do_shutdown(t, o.chan->stream, &err), 0);
	assert_int_equal(do_readv(t, o.chan->stream, buf, 5, &err), 5);
	assert_memory_equal(buf, "HELLO", 5);
	/* the finish hook waits for the child, which exits 0 */
	assert_non_null(o.chan->finish_send);
	req = o.chan->finish_send(t->mem, t->ev, o.chan);
	tevent_req_set_callback(req, tu_set_done, &done);
	assert_true(tu_loop_until(t->ev, &done, LOOP_MS));
	assert_int_equal(o.chan->finish_recv(req, t->mem, &error), 0);
	talloc_free(o.chan);
}

/* Rule: a child that fails makes the finish hook fail, saying how. */
static void test_exec_failure(void **state)
{
	struct tu_ctx *t = *state;
	struct opened o;
	struct tevent_req *req;
	bool done = false;
	char *error = NULL;

	assert_non_null(open_ep(t, parse(t, "sh:exit 4"), &o));
	req = o.chan->finish_send(t->mem, t->ev, o.chan);
	tevent_req_set_callback(req, tu_set_done, &done);
	assert_true(tu_loop_until(t->ev, &done, LOOP_MS));
	assert_int_equal(o.chan->finish_recv(req, t->mem, &error), -1);
	assert_string_equal(error, "sh:exit 4: exited with status 4");
	talloc_free(o.chan);

	assert_null(open_ep(t, parse(t, "exec:/nonexistent/prog"), &o));
	assert_non_null(strstr(o.error, "cannot run '/nonexistent/prog': "
			       "No such file or directory"));
}

/* ---------------------------------------------- layers, on a test kind */

static int peer_fd = -1;	/* the other end of the test kind's socket */
static char layer_trace[64];	/* which layers ran, in order */

static struct channel *pair_open(TALLOC_CTX *mem_ctx,
				 const struct endpoint *ep,
				 struct open_args *args, char **error)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
				    sv), 0);
	peer_fd = sv[1];
	return channel_from_fd(mem_ctx, sv[0], true, "pair");
}

struct mark_state {
	int dummy;
};

/* A layer that notes its name, then fails if it is "bad". */
static struct tevent_req *mark_send(TALLOC_CTX *mem_ctx,
				    struct tevent_context *ev,
				    struct channel *chan,
				    const struct endpoint *ep,
				    const struct channel *client, void *state)
{
	const char *name = state;
	struct mark_state *ms;
	struct tevent_req *req = tevent_req_create(mem_ctx, &ms,
						   struct mark_state);

	strncat(layer_trace, name, sizeof(layer_trace) -
		strlen(layer_trace) - 1);
	if (strcmp(name, "bad") == 0) {
		tevent_req_error(req, EPROTO);
	} else {
		tevent_req_done(req);
	}
	return tevent_req_post(req, ev);
}

static int mark_recv(struct tevent_req *req, TALLOC_CTX *mem_ctx,
		     char **error)
{
	if (tevent_req_is_error(req, &(enum tevent_req_state){ 0 },
				&(uint64_t){ 0 })) {
		*error = talloc_strdup(mem_ctx, "the bad layer refused");
		return -1;
	}
	return 0;
}

static int mark_prepare_a(TALLOC_CTX *mem_ctx, struct endpoint *ep,
			  void **state, char **error)
{
	*state = (void *)"a";
	return 0;
}

static int mark_prepare_b(TALLOC_CTX *mem_ctx, struct endpoint *ep,
			  void **state, char **error)
{
	*state = (void *)"b";
	return 0;
}

static int mark_prepare_bad(TALLOC_CTX *mem_ctx, struct endpoint *ep,
			    void **state, char **error)
{
	*state = (void *)"bad";
	return 0;
}

static const struct layer layer_a = { "A", mark_prepare_a, mark_send,
				      mark_recv };
static const struct layer layer_b = { "B", mark_prepare_b, mark_send,
				      mark_recv };
static const struct layer layer_bad = { "BAD", mark_prepare_bad, mark_send,
					mark_recv };
static const struct layer *const good_layers[] = { &layer_a, &layer_b, NULL };
static const struct layer *const bad_layers[] = { &layer_a, &layer_bad,
						  &layer_b, NULL };

/* Rule: layers run in order after the opener; the first failure ends it. */
static void test_layers_in_order(void **state)
{
	struct tu_ctx *t = *state;
	struct endpoint_kind kind = {
		.name = "pair", .carries = CARRIES_BYTES,
		.roles = KIND_CONNECTS, .syntax = "pair", .help = "test",
		.open = pair_open, .layers = good_layers,
	};
	/* a talloc object, as endpoint_parse makes them */
	struct endpoint *ep = talloc_zero(t->mem, struct endpoint);
	struct opened o;
	char *error = NULL;

	ep->text = "pair";
	ep->kind = &kind;
	ep->carries = CARRIES_BYTES;
	ep->fd = -1;
	ep->set = defaults;
	assert_int_equal(endpoint_prepare(ep, &error), 0);
	layer_trace[0] = '\0';
	assert_non_null(open_ep(t, ep, &o));
	assert_string_equal(layer_trace, "ab");
	talloc_free(o.chan);
	close(peer_fd);

	kind.layers = bad_layers;
	TALLOC_FREE(ep->layers);
	TALLOC_FREE(ep->layer_state);
	assert_int_equal(endpoint_prepare(ep, &error), 0);
	layer_trace[0] = '\0';
	assert_null(open_ep(t, ep, &o));
	assert_string_equal(layer_trace, "abad");	/* b never ran */
	assert_string_equal(o.error, "pair: the bad layer refused");
	close(peer_fd);
	talloc_free(ep);
}

/* ---------------------------------------------------------------- relay */

struct relay_end {
	bool done;
	int err;
};

static void relay_ended(void *private_data, int err, const char *message)
{
	struct relay_end *e = private_data;

	e->err = err;
	e->done = true;
}

static int read_some(int fd, char *buf, size_t len)
{
	fd_set set;
	struct timeval tv = { 5, 0 };

	FD_ZERO(&set);
	FD_SET(fd, &set);
	if (select(fd + 1, &set, NULL, NULL, &tv) != 1) {
		return -1;
	}
	return (int)read(fd, buf, len);
}

/* Rule: the relay carries both ways and passes each end on; then done. */
static void test_relay_both_ways(void **state)
{
	struct tu_ctx *t = *state;
	struct relay_opts opts = { .linger_ms = 1000 };
	struct relay_end end = { false, -1 };
	struct channel *a, *b;
	int sa[2], sb[2];
	char buf[32];
	bool busy = false;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
				    sa), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
				    sb), 0);
	a = channel_from_fd(t->mem, sa[0], true, "a");
	b = channel_from_fd(t->mem, sb[0], true, "b");
	assert_non_null(relay_start(t->mem, t->ev, a, b, &opts, relay_ended,
				    &end));
	assert_int_equal(write(sa[1], "to b", 4), 4);
	tu_loop_until(t->ev, &busy, 100);
	assert_int_equal(read_some(sb[1], buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "to b", 4);
	/* a's end reaches b as end of stream; b may still answer */
	assert_int_equal(shutdown(sa[1], SHUT_WR), 0);
	tu_loop_until(t->ev, &busy, 100);
	assert_int_equal(read_some(sb[1], buf, sizeof(buf)), 0);
	assert_false(end.done);
	assert_int_equal(write(sb[1], "late reply", 10), 10);
	tu_loop_until(t->ev, &busy, 100);
	assert_int_equal(read_some(sa[1], buf, sizeof(buf)), 10);
	assert_int_equal(shutdown(sb[1], SHUT_WR), 0);
	assert_true(tu_loop_until(t->ev, &end.done, LOOP_MS));
	assert_int_equal(end.err, 0);
	assert_int_equal(read_some(sa[1], buf, sizeof(buf)), 0);
	close(sa[1]);
	close(sb[1]);
}

/* ------------------------------------------------------- udp sessions */

struct sessions {
	unsigned n;
	struct channel *chan[4];
};

static void new_session(struct channel *session, void *private_data)
{
	struct sessions *s = private_data;

	assert_true(s->n < 4);
	s->chan[s->n++] = talloc_steal(s, session);
}

/* Rule: each peer address of a datagram front is a session of its own. */
static void test_udp_sessions(void **state)
{
	struct tu_ctx *t = *state;
	struct sessions *s = talloc_zero(t->mem, struct sessions);
	struct endpoint *ep;
	struct channel *sock;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char *error = NULL;
	bool busy = false;
	int p1, p2;

	ep = endpoint_parse(t->mem, "udp:127.0.0.1:0", true, AF_UNSPEC,
			    &defaults, &error);
	assert_non_null(ep);
	sock = listener_bind_dgram(t->mem, ep, &error);
	assert_non_null(sock);
	assert_non_null(udp_front_create(t->mem, t->ev, sock, 10, 0,
					 new_session, s));
	assert_int_equal(getsockname(sock->fd, (struct sockaddr *)&ss, &len),
			 0);
	p1 = socket(AF_INET, SOCK_DGRAM, 0);
	p2 = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(sendto(p1, "x", 1, 0, (struct sockaddr *)&ss, len), 1);
	assert_int_equal(sendto(p1, "y", 1, 0, (struct sockaddr *)&ss, len), 1);
	assert_int_equal(sendto(p2, "z", 1, 0, (struct sockaddr *)&ss, len), 1);
	tu_loop_until(t->ev, &busy, 300);
	assert_int_equal(s->n, 2);
	assert_string_not_equal(s->chan[0]->name, s->chan[1]->name);
	assert_non_null(s->chan[0]->dgram);
	close(p1);
	close(p2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exec_channel, tu_setup,
						tu_teardown),
		cmocka_unit_test_setup_teardown(test_exec_failure, tu_setup,
						tu_teardown),
		cmocka_unit_test_setup_teardown(test_layers_in_order,
						tu_setup, tu_teardown),
		cmocka_unit_test_setup_teardown(test_relay_both_ways,
						tu_setup, tu_teardown),
		cmocka_unit_test_setup_teardown(test_udp_sessions, tu_setup,
						tu_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
