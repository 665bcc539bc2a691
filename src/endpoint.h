/*
 * endpoint.h - the endpoints users write on the command line
 *
 * An endpoint is written KIND:ADDRESS[,NAME=VALUE]... .  What each KIND
 * means (its address syntax, whether it carries bytes or datagrams, how
 * it is opened and listened on, the layers that run on it) is one entry
 * in the table of kinds (kinds.c), each defined in a file of its own
 * (kind_*.c).  Nothing outside those files tests which kind an endpoint
 * is: they ask the endpoint what it carries and call its kind's hooks.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_ENDPOINT_H
#define TSOCK_ENDPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <talloc.h>
#include <tevent.h>

struct channel;
struct endpoint;
struct layer;
struct proxy_url;
struct selfloop;

/* What an endpoint carries. */
enum endpoint_carries {
	CARRIES_BYTES,		/* a byte stream: tcp, unix, stdio, exec */
	CARRIES_DATAGRAMS,	/* datagrams from any peer: udp, unix-dgram */
	CARRIES_MESSAGES,	/* datagrams on a connection: unix-seqpacket */
};

/* What a kind can do (struct endpoint_kind.roles). */
enum {
	KIND_CONNECTS = 1,	/* connect, relay's BACK */
	KIND_LISTENS = 2,	/* listen, relay's FRONT, udp-echo */
};

/*
 * The settings an endpoint may carry after commas.  Those that have a
 * global option of the same name take it as their default (tsock.c), so
 * that a command line written before per-endpoint options keeps its
 * meaning; the others (alpn=, priority=, min-version=) default to none.
 */
struct endpoint_settings {
	int connect_timeout_ms;		/* timeout=, -w: 0 for none */
	int handshake_timeout_ms;	/* a listener's layers (TLS) */
	int mode;			/* mode=: a unix socket file's, or -1 */
	/* TLS layer */
	const char *cafile;
	const char *certfile;
	const char *keyfile;
	const char *servername;		/* default: the endpoint's host */
	const char *pin;
	bool insecure;
	bool require_client_cert;
	/*
	 * --proxy, via=: proxy URLs, NULL-terminated, or NULL.  An
	 * endpoint's via= options replace --proxy's list (via=direct: none).
	 */
	const char *const *proxies;
	/* the PROXY protocol: version sent to BACK (0: none); FRONT's */
	int send_proxy;			/* --send-proxy, send-proxy= */
	bool accept_proxy;		/* --accept-proxy, accept-proxy */
	const char *alpn;		/* "h2:http/1.1", or NULL */
	const char *priority;		/* GnuTLS's, or NULL: the default */
	int min_version;		/* 10..13 for TLS 1.0..1.3; 0: any */
};

/*
 * What an opener gets besides the endpoint (a talloc object of the
 * caller's).  client is the accepted client the endpoint is opened for
 * (relay's BACK), or NULL: exec children learn its addresses from it.
 * With self (else NULL), addresses of the relay's own FRONT are skipped
 * and each connect is noted there as owner's (see selfloop.h).  The
 * opener keeps trying up to date (on args) with the address it tries,
 * for the message if the connect timeout ends it.
 */
struct open_args {
	const struct channel *client;
	struct selfloop *self;
	void *owner;
	char *trying;
	int err;	/* why it failed, if the opener knows: an errno */
};

/* Option groups a kind accepts (struct endpoint_kind.options). */
enum {
	KIND_OPT_CONNECT = 1,	/* timeout= */
	KIND_OPT_TLS = 2,	/* cafile= cert= key= servername= alpn= ... */
	KIND_OPT_FILE = 4,	/* mode= (listening on a socket file) */
	KIND_OPT_PROXY = 8,	/* via= (HOST:PORT reached through proxies) */
	KIND_OPT_PROXY_HEADER = 16,	/* send-proxy= accept-proxy */
};

struct endpoint_alias {
	const char *name;	/* "tcp4" */
	int family;		/* what it forces: AF_INET */
};

struct endpoint_kind {
	const char *name;
	const struct endpoint_alias *aliases;	/* NULL-terminated, or NULL */
	enum endpoint_carries carries;	/* the default: see endpoint */
	unsigned roles;			/* KIND_CONNECTS | KIND_LISTENS */
	unsigned options;		/* KIND_OPT_... */
	bool no_address;		/* written alone: "stdio" */
	bool is_stdio;			/* tsock's own stdin and stdout */
	bool address_optional;		/* "systemd" or "systemd:NAME" */
	/* opened once only (stdio, fd:): not a BACK for many clients */
	bool single_use;
	/* a socket tsock was given: named after what it is ("tcp:...") */
	bool inherited;
	const char *syntax;		/* for help: "tcp:HOST:PORT" */
	const char *help;		/* one line, for --help and errors */

	/*
	 * Fill ep from the text after "KIND:" (ep->family holds -4/-6 or
	 * the alias's family, ep->set the options already applied).  NULL, or why the address is wrong (on ep,
	 * or static).
	 */
	const char *(*parse)(struct endpoint *ep, const char *address,
			     bool listening);

	/*
	 * Open as a client: either at once (open), or as an async pair.
	 * Both report failure as a message on mem_ctx.  Layers are run by
	 * the caller (channel.c), not by the opener.
	 */
	struct channel *(*open)(TALLOC_CTX *mem_ctx, const struct endpoint *ep,
				struct open_args *args, char **error);
	struct tevent_req *(*open_send)(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					const struct endpoint *ep,
					struct open_args *args);
	struct channel *(*open_recv)(struct tevent_req *req,
				     TALLOC_CTX *mem_ctx, char **error);

	/*
	 * A socket to listen on: bound, and for streams listening; what
	 * must be undone when it closes (a socket file) hangs off owner.
	 * The fd, or -1 with *error on owner.
	 */
	int (*bind)(TALLOC_CTX *owner, const struct endpoint *ep,
		    char **error);

	/* Run on every connection of this kind, in order: TLS. */
	const struct layer *const *layers;
};

struct endpoint {
	const char *text;	/* as the user wrote it, for messages */
	const struct endpoint_kind *kind;
	enum endpoint_carries carries;	/* fd: finds it at parse time */
	int family;		/* AF_UNSPEC, AF_INET or AF_INET6 */
	char *host;		/* NULL: every address (listening only) */
	uint16_t port;
	char *path;		/* unix: a file, or "@NAME" (abstract) */
	char **argv;		/* exec and sh: the program and arguments */
	int fd;			/* fd and systemd: the descriptor */
	bool listening;
	struct endpoint_settings set;
	const char **own_proxies;	/* via='s list (see set.proxies) */
	/* the proxies HOST:PORT is reached through, in order, or NULL */
	struct proxy_url **proxy_urls;
	size_t n_proxies;
	/*
	 * What endpoint_prepare decided: the layers every connection runs
	 * (NULL-terminated: proxy hops, then the kind's), each one's state,
	 * and with proxies the tcp endpoint of the first, which is what
	 * is connected to.
	 */
	const struct layer **layers;
	void **layer_state;
	struct endpoint *via;
};

/*
 * Parse text as an endpoint, listening or not.  family_hint (AF_UNSPEC,
 * AF_INET, AF_INET6: from -4/-6) applies when the endpoint does not name
 * a family itself; defaults are the settings its options override.
 * On error returns NULL and sets *error to a message (on mem_ctx) that
 * names the endpoint and the problem, e.g. "endpoint 'tcp:localhost':
 * missing port".
 */
struct endpoint *endpoint_parse(TALLOC_CTX *mem_ctx, const char *text,
				bool listening, int family_hint,
				const struct endpoint_settings *defaults,
				char **error);

/*
 * A tcp endpoint to host and port built in code, not parsed (so that no
 * text of a client's can carry options into it), with set's settings
 * and proxy chain; NULL with *error (on mem_ctx) if a proxy URL of set
 * is bad.  host must be a name or an address, nothing else.
 */
struct endpoint *endpoint_tcp(TALLOC_CTX *mem_ctx, const char *host,
			      uint16_t port, int family,
			      const struct endpoint_settings *set,
			      char **error);

/*
 * Get the endpoint's layers ready before anything is opened (load TLS
 * credentials: a missing file is an error at start, not per client).
 * The exit status: 0, or that of the failure with *error on mem_ctx.
 */
int endpoint_prepare(struct endpoint *ep, char **error);

static inline bool endpoint_is_stream(const struct endpoint *ep)
{
	return ep->carries == CARRIES_BYTES;
}

/* The kind's name, for messages and channel names. */
const char *endpoint_kind_name(const struct endpoint *ep);

/* ------------------------------------------------ the table (kinds.c) */

/* Every kind, NULL-terminated, in the order help lists them. */
extern const struct endpoint_kind *const endpoint_kinds[];

/*
 * The kind named name (or an alias of it: *family then says what it
 * forces, else AF_UNSPEC); NULL if none.  len: of name.
 */
const struct endpoint_kind *endpoint_kind_find(const char *name, size_t len,
					       int *family);

/*
 * A kind's name that may stand as a word of its own, as in "tsock connect
 * tcp 127.0.0.1:445": one that takes an address.
 */
bool endpoint_is_type_word(const char *word);

/* "tcp, tcp4, tcp6, udp, ... or fd": every name, for error messages. */
const char *endpoint_kind_list(void);

/* The "Endpoints:" part of --help, one line per kind. */
void endpoint_print_help(FILE *out);

#endif
