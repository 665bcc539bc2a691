/*
 * options.h - the settings every command shares
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_OPTIONS_H
#define TSOCK_OPTIONS_H

#include <stdbool.h>
#include "endpoint.h"
#include "relay.h"
#include "tsocket_frame.h"

/* Defaults, documented in tsock(1). */
#define TSOCK_UDP_ECHO_DEFAULT "udp:127.0.0.1:7007"
#define TSOCK_PROXY_DEFAULT "tcp:127.0.0.1:1080"
#define TSOCK_SESSION_IDLE_MS (60 * 1000)
#define TSOCK_LINGER_MS 1000
#define TSOCK_MAX_CONNS 10000
#define TSOCK_MAX_SESSIONS 1000
/* udp-echo answers each peer this many datagrams a second at most. */
#define TSOCK_ECHO_MAX_RATE 10000
/* Back end connections of a datagram-to-stream bridge (bridge.c). */
#define TSOCK_POOL 8
/* A client that does not finish its TLS handshake in time is dropped. */
#define TSOCK_HANDSHAKE_MS (10 * 1000)

struct tsock_options {
	int family;		/* -4 / -6: AF_INET / AF_INET6 */
	bool keep_open;		/* -k */
	unsigned max_conns;
	unsigned max_sessions;
	unsigned pool;		/* --pool */
	int max_rate;		/* --max-rate; -1: the command's default */
	bool have_frame;
	struct tframe_spec frame;
	size_t max_buffer;	/* --max-buffer: the relays' memory budget */
	struct relay_opts relay;	/* idle timeout, linger, hexdump */
	int session_idle_ms;	/* idle timeout of datagram sessions */
	/*
	 * The settings of every endpoint (-w, --cafile, ...), which its
	 * own options (,timeout=...) override: see endpoint.h.
	 */
	struct endpoint_settings endpoint;
	/* tsock proxy: --allow-target, --deny-target, --auth */
	struct target_rules *target_rules;
	const char *const *proxy_users;	/* "USER:PASS"..., or NULL */
};

/* Exit statuses, documented in tsock(1). */
enum {
	TSOCK_EXIT_OK = 0,
	TSOCK_EXIT_FAILURE = 1,	/* network or I/O */
	TSOCK_EXIT_USAGE = 2,
};

#endif
