/*
 * tsocket_tls.h - TLS over any tstream_context (GnuTLS)
 *
 * The "virtual socket" of the tsocket guide: a tstream_context that runs
 * TLS over another one (TCP, unix, stdio, or another virtual stream).  It
 * follows the same contract as the BSD streams (one read and one write at
 * a time, cancel by free) and has tstream_read_some and tstream_shutdown;
 * shutdown and disconnect send a TLS close_notify first.
 *
 * End of stream is the peer's close_notify: reads then fail with EPIPE.
 * A connection that ends without one (which is what a truncation attack
 * looks like) fails reads with ECONNABORTED instead, and a fatal alert
 * from the peer with EPROTO; tstream_error_message() says which alert.
 * A failed handshake sends the peer a fatal alert saying why.
 * tstream_tls_info() tells what a handshake agreed on.
 *
 * Built (and installed) only when configure finds GnuTLS.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCKET_TLS_H
#define TSOCKET_TLS_H

#include <stdbool.h>
#include "tsocket.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tstream_tls_params;

/* How a client checks the server.  Verification is on unless insecure. */
struct tstream_tls_client_opts {
	/* trusted CAs (PEM); NULL: the system trust store */
	const char *cafile;
	/*
	 * The name the certificate must carry (a DNS name or an IP address;
	 * NULL: none is checked).  DNS names are also sent as SNI.
	 */
	const char *servername;
	/*
	 * SHA-256 fingerprint of the server certificate (DER), in hex with
	 * or without colons, optionally prefixed "sha256:".  When given,
	 * the certificate must match it; the CA and name checks then apply
	 * only if cafile is given too (a pin is the stronger check).
	 */
	const char *pin;
	/* a client certificate and its key (PEM), or NULL */
	const char *certfile;
	const char *keyfile;
	/* skip every check: the caller takes the risk */
	bool insecure;
	/*
	 * ALPN protocols to offer, in order of preference, separated by
	 * commas ("h2,http/1.1"); NULL: none.  At most 8, each of 1 to 31
	 * bytes (GnuTLS's limits).  A server that picks none of them, or
	 * does not do ALPN, is no error: tstream_tls_info() then says NULL.
	 */
	const char *alpn;
	/*
	 * A GnuTLS priority string (versions, ciphers...: see
	 * gnutls_priority_init(3)), e.g. "NORMAL:-VERS-TLS1.3"; NULL: the
	 * default (the system's).  One that starts with ':' is appended to
	 * the default instead of replacing it, so ":-VERS-TLS1.0" is the
	 * default without TLS 1.0.
	 */
	const char *priority;
};

/* How a server presents itself and checks clients. */
struct tstream_tls_server_opts {
	const char *certfile;	/* PEM, required */
	const char *keyfile;	/* PEM, required */
	/* CAs trusted for client certificates; NULL: the system store */
	const char *cafile;
	/* fail the handshake unless the client shows a valid certificate */
	bool require_client_cert;
	/*
	 * ALPN protocols accepted, in the server's order of preference,
	 * written as the client's.  A client that offers ALPN but none of
	 * these fails the handshake (a no_application_protocol alert); one
	 * that offers no ALPN at all is served.  NULL: ALPN is ignored.
	 */
	const char *alpn;
	/* as the client's: NULL for the default */
	const char *priority;
};

/*
 * Load credentials once for many connections.  The params must outlive
 * every stream made with them.  Returns 0, or -1 with errno and *error (a
 * message on mem_ctx naming the file or option and the problem: for a
 * priority string, the part GnuTLS does not take).
 */
int tstream_tls_params_client(TALLOC_CTX *mem_ctx,
			      const struct tstream_tls_client_opts *opts,
			      struct tstream_tls_params **params,
			      char **error);
int tstream_tls_params_server(TALLOC_CTX *mem_ctx,
			      const struct tstream_tls_server_opts *opts,
			      struct tstream_tls_params **params,
			      char **error);

/*
 * Run the TLS handshake over plain, as client (connect) or server
 * (accept).  plain must stay untouched until the request completes; on
 * success the TLS stream owns it.  Bound the handshake with
 * tevent_req_set_endtime() on the returned request.
 */
struct tevent_req *tstream_tls_connect_send(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct tstream_context *plain,
					    struct tstream_tls_params *params);
struct tevent_req *tstream_tls_accept_send(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   struct tstream_context *plain,
					   struct tstream_tls_params *params);

/*
 * Result of either: 0 with the TLS stream on mem_ctx, or -1 with *perrno
 * (EACCES: the peer's certificate failed verification or the pin;
 * ETIMEDOUT; EPIPE or ECONNRESET: the peer went away; EPROTO: any other
 * TLS failure) and, if error is not NULL, a message on mem_ctx saying
 * why (e.g. "certificate verification failed: The certificate issuer is
 * unknown.").
 */
int tstream_tls_handshake_recv(struct tevent_req *req, int *perrno,
			       TALLOC_CTX *mem_ctx,
			       struct tstream_context **tls, char **error);

/*
 * What the handshake of a TLS stream agreed on, each on mem_ctx (pass
 * NULL for what is not wanted): the protocol version ("TLSv1.3"), the
 * cipher suite ("TLS_AES_256_GCM_SHA384") and the ALPN protocol (NULL
 * if none was negotiated).  Returns 0, or -1 with errno: EINVAL (not a
 * TLS stream), ENOTCONN (disconnected) or ENOMEM; nothing is allocated
 * then.
 */
int tstream_tls_info(struct tstream_context *tls, TALLOC_CTX *mem_ctx,
		     char **version, char **cipher, char **alpn);

#ifdef __cplusplus
}
#endif

#endif /* TSOCKET_TLS_H */
