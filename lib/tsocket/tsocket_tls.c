/*
 * tsocket_tls.c - TLS over any tstream_context (GnuTLS)
 *
 * Written on the backend API (tsocket_internal.h) and the public stream
 * API only.  GnuTLS talks to two memory buffers through its transport
 * callbacks:
 *
 *   in   raw bytes read from the plain stream, not yet pulled by GnuTLS;
 *        when it is empty the pull callback says EAGAIN and the request
 *        that called GnuTLS reads more (tstream_read_some) and retries;
 *   out  records GnuTLS pushed; the push callback never blocks, and the
 *        request that produced them flushes them to the plain stream
 *        (through one tevent_queue, so flushes keep their order).
 *
 * So every operation is "call GnuTLS, flush what it wrote, read what it
 * needs, call again" until GnuTLS is done.  Both buffers exist only while
 * they hold bytes.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include "tsocket_internal.h"
#include "tsocket_tls.h"

/* Raw bytes read from the plain stream at once: a few TLS records. */
#define TLS_IN_SIZE (64 * 1024)
/* The most raw bytes held for GnuTLS (records are at most ~16 KiB). */
#define TLS_IN_MAX (1024 * 1024)

struct tstream_tls_params {
	gnutls_certificate_credentials_t cred;
	bool server;
	bool verify;		/* CA chain (and name) */
	bool require_client_cert;
	char *servername;	/* name to check; NULL: none */
	bool sni;		/* servername is a DNS name: send it */
	bool have_pin;
	uint8_t pin[32];
	gnutls_priority_t priority;	/* NULL: GnuTLS's default */
	gnutls_datum_t *alpn;		/* in order of preference */
	unsigned n_alpn;
	char *alpn_text;		/* "h2, http/1.1", for messages */
};

struct tstream_tls {
	struct tstream_context *plain;
	struct tstream_tls_params *params;
	gnutls_session_t session;
	struct tevent_queue *flush_queue;

	uint8_t *in;		/* in[in_start..in_end) not yet pulled */
	size_t in_start, in_end, in_cap;
	bool plain_eof;
	int plain_err;

	uint8_t *out;		/* out[0..out_len) not yet flushed */
	size_t out_len, out_cap;

	char *last_error;	/* see tstream_error_message() */
	/*
	 * GnuTLS invalidates a session after a fatal error; later reads and
	 * writes report the first error again instead of that.
	 */
	int fatal_errno;
};

/* ---------------------------------------------------------------- params */

static int tls_params_destructor(struct tstream_tls_params *p)
{
	if (p->cred != NULL) {
		gnutls_certificate_free_credentials(p->cred);
	}
	if (p->priority != NULL) {
		gnutls_priority_deinit(p->priority);
	}
	return 0;
}

static struct tstream_tls_params *tls_params_new(TALLOC_CTX *mem_ctx)
{
	struct tstream_tls_params *p;

	p = talloc_zero(mem_ctx, struct tstream_tls_params);
	if (p == NULL) {
		return NULL;
	}
	if (gnutls_certificate_allocate_credentials(&p->cred) < 0) {
		talloc_free(p);
		return NULL;
	}
	talloc_set_destructor(p, tls_params_destructor);
	return p;
}

/* Trust cafile, or the system store; NULL or the error. */
static char *tls_load_trust(TALLOC_CTX *mem_ctx, struct tstream_tls_params *p,
			    const char *cafile)
{
	int ret;

	if (cafile != NULL) {
		ret = gnutls_certificate_set_x509_trust_file(p->cred, cafile,
						GNUTLS_X509_FMT_PEM);
		if (ret <= 0) {
			return talloc_asprintf(mem_ctx, "CA file '%s': %s",
				cafile, ret == 0 ? "no certificate in it"
						 : gnutls_strerror(ret));
		}
		return NULL;
	}
	ret = gnutls_certificate_set_x509_system_trust(p->cred);
	if (ret < 0) {
		return talloc_asprintf(mem_ctx, "system trust store: %s",
				       gnutls_strerror(ret));
	}
	return NULL;
}

static char *tls_load_key(TALLOC_CTX *mem_ctx, struct tstream_tls_params *p,
			  const char *certfile, const char *keyfile)
{
	int ret;

	if (certfile == NULL || keyfile == NULL) {
		return talloc_strdup(mem_ctx, "a certificate needs both a "
				     "certificate file and a key file");
	}
	ret = gnutls_certificate_set_x509_key_file(p->cred, certfile, keyfile,
						   GNUTLS_X509_FMT_PEM);
	if (ret < 0) {
		return talloc_asprintf(mem_ctx, "certificate '%s' / key '%s': "
				       "%s", certfile, keyfile,
				       gnutls_strerror(ret));
	}
	return NULL;
}

/* "sha256:AB:CD..." or plain hex into 32 bytes; false if malformed. */
static bool tls_parse_pin(const char *text, uint8_t pin[32])
{
	size_t n = 0;
	int hi = -1;

	if (strncasecmp(text, "sha256:", 7) == 0) {
		text += 7;
	}
	for (; *text != '\0'; text++) {
		int v;

		if (*text == ':' && hi == -1) {
			continue;
		}
		if (!isxdigit((unsigned char)*text)) {
			return false;
		}
		v = isdigit((unsigned char)*text)
			? *text - '0'
			: tolower((unsigned char)*text) - 'a' + 10;
		if (hi == -1) {
			hi = v;
			continue;
		}
		if (n == 32) {
			return false;
		}
		pin[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return n == 32 && hi == -1;
}

/*
 * GnuTLS's limits: gnutls_alpn_set_protocols() refuses more protocols or
 * longer names, and only at each handshake; checked once here instead.
 */
#define TLS_ALPN_MAX 8
#define TLS_ALPN_NAME_MAX 31

/* "h2,http/1.1" into p->alpn; NULL or the problem. */
static char *tls_load_alpn(TALLOC_CTX *mem_ctx, struct tstream_tls_params *p,
			   const char *list)
{
	const char *s = list;

	p->alpn = talloc_zero_array(p, gnutls_datum_t, TLS_ALPN_MAX);
	p->alpn_text = talloc_strdup(p, "");
	if (p->alpn == NULL || p->alpn_text == NULL) {
		return talloc_strdup(mem_ctx, "out of memory");
	}
	for (;;) {
		size_t len = strcspn(s, ",");
		uint8_t *name;

		/* the name, not the list: callers may write lists otherwise */
		if (len == 0) {
			return talloc_strdup(mem_ctx, "ALPN: an empty protocol "
					     "name in the list");
		}
		if (len > TLS_ALPN_NAME_MAX) {
			return talloc_asprintf(mem_ctx, "ALPN protocol "
					       "'%.*s': longer than %d bytes",
					       (int)len, s, TLS_ALPN_NAME_MAX);
		}
		if (p->n_alpn == TLS_ALPN_MAX) {
			return talloc_asprintf(mem_ctx, "ALPN: more than %d "
					       "protocols", TLS_ALPN_MAX);
		}
		name = talloc_memdup(p->alpn, s, len);
		p->alpn_text = talloc_asprintf_append(p->alpn_text, "%s%.*s",
						      p->n_alpn > 0 ? ", " : "",
						      (int)len, s);
		if (name == NULL || p->alpn_text == NULL) {
			return talloc_strdup(mem_ctx, "out of memory");
		}
		p->alpn[p->n_alpn].data = name;
		p->alpn[p->n_alpn].size = (unsigned)len;
		p->n_alpn++;
		if (s[len] == '\0') {
			return NULL;
		}
		s += len + 1;
	}
}

/*
 * A priority string into p->priority (one starting with ':' appended to
 * the default); NULL or the problem, naming the part GnuTLS refused.
 */
static char *tls_load_priority(TALLOC_CTX *mem_ctx,
			       struct tstream_tls_params *p, const char *text)
{
	bool append = text[0] == ':';
	const char *err_pos = NULL;
	const unsigned *versions = NULL;
	int i, n, ret;

	if (text[0] == '\0') {
		return talloc_strdup(mem_ctx, "an empty priority string");
	}
	ret = gnutls_priority_init2(&p->priority, append ? text + 1 : text,
				    &err_pos, append
				    ? GNUTLS_PRIORITY_INIT_DEF_APPEND : 0);
	if (ret < 0) {
		p->priority = NULL;
		if (ret == GNUTLS_E_INVALID_REQUEST && err_pos != NULL &&
		    err_pos >= text && err_pos < text + strlen(text)) {
			return talloc_asprintf(mem_ctx, "priority string "
					       "'%s': invalid at '%.*s'", text,
					       (int)strcspn(err_pos, ":"),
					       err_pos);
		}
		return talloc_asprintf(mem_ctx, "priority string '%s': %s",
				       text, gnutls_strerror(ret));
	}
	/*
	 * Removing every TLS version leaves DTLS ones, which GnuTLS takes
	 * here and fails every handshake on: say so at once instead.
	 */
	n = gnutls_priority_protocol_list(p->priority, &versions);
	for (i = 0; i < n; i++) {
		if (versions[i] >= GNUTLS_SSL3 &&
		    versions[i] < GNUTLS_DTLS_VERSION_MIN) {
			return NULL;
		}
	}
	return talloc_asprintf(mem_ctx, "priority string '%s': enables no "
			       "TLS protocol version", text);
}

/* The options both sides have; NULL or the problem. */
static char *tls_load_common(TALLOC_CTX *mem_ctx,
			     struct tstream_tls_params *p, const char *alpn,
			     const char *priority)
{
	char *err = NULL;

	if (alpn != NULL) {
		err = tls_load_alpn(mem_ctx, p, alpn);
	}
	if (err == NULL && priority != NULL) {
		err = tls_load_priority(mem_ctx, p, priority);
	}
	return err;
}

/* A DNS name, as opposed to an IPv4 or IPv6 address (no SNI for those). */
static bool tls_is_dns_name(const char *name)
{
	uint8_t buf[16];

	return inet_pton(AF_INET, name, buf) != 1 &&
	       inet_pton(AF_INET6, name, buf) != 1;
}

int tstream_tls_params_client(TALLOC_CTX *mem_ctx,
			      const struct tstream_tls_client_opts *opts,
			      struct tstream_tls_params **params,
			      char **error)
{
	struct tstream_tls_params *p = tls_params_new(mem_ctx);
	char *err = NULL;

	if (p == NULL) {
		*error = talloc_strdup(mem_ctx, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	if (opts->pin != NULL) {
		if (!tls_parse_pin(opts->pin, p->pin)) {
			err = talloc_asprintf(mem_ctx, "pin '%s': expected "
				"sha256: and 64 hex digits", opts->pin);
			goto fail;
		}
		p->have_pin = true;
	}
	p->verify = !opts->insecure && (!p->have_pin || opts->cafile != NULL);
	if (p->verify) {
		err = tls_load_trust(mem_ctx, p, opts->cafile);
		if (err != NULL) {
			goto fail;
		}
	}
	if (opts->certfile != NULL || opts->keyfile != NULL) {
		err = tls_load_key(mem_ctx, p, opts->certfile, opts->keyfile);
		if (err != NULL) {
			goto fail;
		}
	}
	if (opts->servername != NULL) {
		p->servername = talloc_strdup(p, opts->servername);
		if (p->servername == NULL) {
			err = talloc_strdup(mem_ctx, "out of memory");
			goto fail;
		}
		p->sni = tls_is_dns_name(opts->servername);
	}
	if (opts->insecure) {
		p->have_pin = false;
	}
	err = tls_load_common(mem_ctx, p, opts->alpn, opts->priority);
	if (err != NULL) {
		goto fail;
	}
	*params = p;
	return 0;
fail:
	talloc_free(p);
	*error = err;
	errno = EINVAL;
	return -1;
}

int tstream_tls_params_server(TALLOC_CTX *mem_ctx,
			      const struct tstream_tls_server_opts *opts,
			      struct tstream_tls_params **params,
			      char **error)
{
	struct tstream_tls_params *p = tls_params_new(mem_ctx);
	char *err;

	if (p == NULL) {
		*error = talloc_strdup(mem_ctx, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	p->server = true;
	err = tls_load_key(mem_ctx, p, opts->certfile, opts->keyfile);
	if (err == NULL && opts->require_client_cert) {
		p->require_client_cert = true;
		p->verify = true;
		err = tls_load_trust(mem_ctx, p, opts->cafile);
	}
	if (err == NULL) {
		err = tls_load_common(mem_ctx, p, opts->alpn, opts->priority);
	}
	if (err != NULL) {
		talloc_free(p);
		*error = err;
		errno = EINVAL;
		return -1;
	}
	*params = p;
	return 0;
}

/* ---------------------------------------------------------------- transport */

/* Raw bytes read from the plain stream that GnuTLS has not pulled. */
static size_t tls_buffered(const struct tstream_tls *tls)
{
	return tls->in_end - tls->in_start;
}

/*
 * GnuTLS said EAGAIN, but may not have needed more bytes: after a
 * post-handshake message (a TLS 1.3 NewSessionTicket or KeyUpdate) it
 * says EAGAIN with the next records still in our buffer.  Call it again
 * at once when it took something and more is buffered; waiting for the
 * socket instead would stall on bytes we already hold.
 */
static bool tls_again_now(const struct tstream_tls *tls, int ret,
			  size_t buffered_before)
{
	size_t now = tls_buffered(tls);

	return (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) &&
	       now > 0 && now != buffered_before;
}

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
	struct tstream_tls *tls = ptr;
	size_t avail = tls->in_end - tls->in_start;

	if (avail == 0) {
		if (tls->plain_err != 0) {
			gnutls_transport_set_errno(tls->session,
						   tls->plain_err);
			return -1;
		}
		if (tls->plain_eof) {
			return 0;
		}
		gnutls_transport_set_errno(tls->session, EAGAIN);
		return -1;
	}
	if (len > avail) {
		len = avail;
	}
	memcpy(data, tls->in + tls->in_start, len);
	tls->in_start += len;
	if (tls->in_start == tls->in_end) {
		/* drained: no buffer while idle */
		TALLOC_FREE(tls->in);
		tls->in_start = tls->in_end = tls->in_cap = 0;
	}
	return (ssize_t)len;
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *data,
			size_t len)
{
	struct tstream_tls *tls = ptr;
	size_t cap = tls->out_cap;
	uint8_t *out;

	if (tls->out_len + len > cap) {
		/* grow geometrically: a large write is many records */
		cap = cap * 2 > tls->out_len + len ? cap * 2
						   : tls->out_len + len;
		out = talloc_realloc(tls, tls->out, uint8_t, cap);
		if (out == NULL) {
			gnutls_transport_set_errno(tls->session, ENOMEM);
			return -1;
		}
		tls->out = out;
		tls->out_cap = cap;
	}
	memcpy(tls->out + tls->out_len, data, len);
	tls->out_len += len;
	return (ssize_t)len;
}

/* Flush what GnuTLS wrote to the plain stream, in order. */
struct tls_flush_state {
	uint8_t *buf;
	struct iovec iov;
};

static void tls_flush_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	int err = 0;

	if (tstream_writev_queue_recv(subreq, &err) == -1) {
		talloc_free(subreq);
		tevent_req_error(req, err);
		return;
	}
	talloc_free(subreq);
	tevent_req_done(req);
}

static struct tevent_req *tls_flush_send(TALLOC_CTX *mem_ctx,
					 struct tevent_context *ev,
					 struct tstream_tls *tls)
{
	struct tevent_req *req, *subreq;
	struct tls_flush_state *state;

	req = tevent_req_create(mem_ctx, &state, struct tls_flush_state);
	if (req == NULL) {
		return NULL;
	}
	if (tls->out_len == 0) {
		tevent_req_done(req);
		return tevent_req_post(req, ev);
	}
	/* the bytes are the request's now; GnuTLS starts a new buffer */
	state->buf = talloc_steal(state, tls->out);
	state->iov.iov_base = state->buf;
	state->iov.iov_len = tls->out_len;
	tls->out = NULL;
	tls->out_len = tls->out_cap = 0;
	subreq = tstream_writev_queue_send(state, ev, tls->plain,
					   tls->flush_queue, &state->iov, 1);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, tls_flush_done, req);
	return req;
}

static int tls_flush_recv(struct tevent_req *req, int *perrno)
{
	return tsocket_req_simple_recv(req, perrno);
}

/* Read more raw bytes for GnuTLS; end of stream and errors are noted. */
struct tls_fill_state {
	struct tstream_tls *tls;
};

static void tls_fill_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tls_fill_state *state = tevent_req_data(req,
						struct tls_fill_state);
	struct tstream_tls *tls = state->tls;
	int err = 0;
	ssize_t n;

	n = tstream_read_some_recv(subreq, &err);
	talloc_free(subreq);
	if (n > 0) {
		tls->in_end += (size_t)n;
	} else if (err == EPIPE) {
		tls->plain_eof = true;
	} else {
		tls->plain_err = err;
	}
	/* GnuTLS sees end of stream or the error through tls_pull */
	tevent_req_done(req);
}

static struct tevent_req *tls_fill_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_tls *tls)
{
	struct tevent_req *req, *subreq;
	struct tls_fill_state *state;

	req = tevent_req_create(mem_ctx, &state, struct tls_fill_state);
	if (req == NULL) {
		return NULL;
	}
	state->tls = tls;
	if (tls->in == NULL) {
		tls->in = talloc_size(tls, TLS_IN_SIZE);
		if (tevent_req_nomem(tls->in, req)) {
			return tevent_req_post(req, ev);
		}
		tls->in_start = tls->in_end = 0;
		tls->in_cap = TLS_IN_SIZE;
	}
	if (tls->in_start > 0) {
		/* what GnuTLS pulled is gone: make room at the end */
		memmove(tls->in, tls->in + tls->in_start,
			tls->in_end - tls->in_start);
		tls->in_end -= tls->in_start;
		tls->in_start = 0;
	}
	if (tls->in_end == tls->in_cap) {
		/*
		 * Full of bytes GnuTLS did not take: it wants more than
		 * the buffer holds.  Grow rather than ask for nothing (a
		 * zero-length read means nothing and would never end),
		 * up to a bound no record comes near.
		 */
		uint8_t *in;

		if (tls->in_cap >= TLS_IN_MAX) {
			tls->plain_err = EMSGSIZE;
			tevent_req_done(req);
			return tevent_req_post(req, ev);
		}
		in = talloc_realloc(tls, tls->in, uint8_t, tls->in_cap * 2);
		if (tevent_req_nomem(in, req)) {
			return tevent_req_post(req, ev);
		}
		tls->in = in;
		tls->in_cap *= 2;
	}
	subreq = tstream_read_some_send(state, ev, tls->plain,
					tls->in + tls->in_end,
					tls->in_cap - tls->in_end);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, tls_fill_done, req);
	return req;
}

/* Remember why a GnuTLS call failed, for tstream_error_message(). */
static void tls_note_error(struct tstream_tls *tls, int ret)
{
	TALLOC_FREE(tls->last_error);
	switch (ret) {
	case GNUTLS_E_PREMATURE_TERMINATION:
		tls->last_error = talloc_strdup(tls, "the peer closed the "
			"connection without a TLS close_notify (truncated)");
		break;
	case GNUTLS_E_FATAL_ALERT_RECEIVED:
		tls->last_error = talloc_asprintf(tls, "the peer sent a fatal "
			"TLS alert: %s",
			gnutls_alert_get_name(gnutls_alert_get(tls->session)));
		break;
	case GNUTLS_E_PUSH_ERROR:
	case GNUTLS_E_PULL_ERROR:
		break;	/* the plain stream's errno says it all */
	default:
		tls->last_error = talloc_asprintf(tls, "TLS: %s",
						  gnutls_strerror(ret));
		break;
	}
}

static const char *tls_error_message(struct tstream_context *stream)
{
	struct tstream_tls *tls = tstream_context_data(stream,
						       struct tstream_tls);

	return tls->last_error;
}

static int tls_errno_of(struct tstream_tls *tls, int ret);

/* The errno for a failed GnuTLS call (the first fatal one sticks). */
static int tls_errno(struct tstream_tls *tls, int ret)
{
	if (tls->fatal_errno != 0) {
		return tls->fatal_errno;
	}
	tls_note_error(tls, ret);
	tls->fatal_errno = tls_errno_of(tls, ret);
	return tls->fatal_errno;
}

static int tls_errno_of(struct tstream_tls *tls, int ret)
{
	switch (ret) {
	case GNUTLS_E_PREMATURE_TERMINATION:
		/* a truncation attack looks just like this: not an end */
		return ECONNABORTED;
	case GNUTLS_E_PUSH_ERROR:
	case GNUTLS_E_PULL_ERROR:
		return tls->plain_err != 0 ? tls->plain_err : EIO;
	case GNUTLS_E_MEMORY_ERROR:
		return ENOMEM;
	case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
		return EACCES;
	default:
		return tls->plain_err != 0 ? tls->plain_err : EPROTO;
	}
}

/*
 * One step of an operation driven by a GnuTLS call: after the call said
 * `ret`, flush what it wrote, or read what it needs.  Returns the
 * subrequest to wait for (its callback re-runs the operation), or NULL
 * when the operation does not have to wait (then ret decides).
 */
static struct tevent_req *tls_wait_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_tls *tls, int ret,
					bool *nomem)
{
	struct tevent_req *subreq = NULL;

	*nomem = false;
	if (tls->out_len > 0) {
		subreq = tls_flush_send(mem_ctx, ev, tls);
	} else if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
		subreq = tls_fill_send(mem_ctx, ev, tls);
	} else {
		return NULL;
	}
	*nomem = subreq == NULL;
	return subreq;
}

/* Finish a waited-for subrequest of either kind; 0 or an errno. */
static int tls_wait_recv(struct tevent_req *subreq)
{
	int err = 0;

	/* fills always succeed (errors wait in the tls state) */
	if (tls_flush_recv(subreq, &err) == -1) {
		return err;
	}
	return 0;
}

/* ---------------------------------------------------------------- handshake */

struct tls_handshake_state {
	struct tevent_context *ev;
	struct tstream_context *stream;	/* the TLS stream, once made */
	struct tstream_tls *tls;
	int last;			/* GnuTLS's last answer */
	bool alerted;			/* our fatal alert is on its way */
	int fail_errno;
	char *error;
};

static void tls_handshake_step(struct tevent_req *req);
static void tls_handshake_finish(struct tevent_req *req, int ret);
static void tls_handshake_alert_sent(struct tevent_req *subreq);

static void tls_handshake_filled(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);

	TALLOC_FREE(subreq);	/* fills always succeed, see tls_fill_done */
	tls_handshake_step(req);
}

static void tls_handshake_flushed(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tls_handshake_state *state = tevent_req_data(req,
					struct tls_handshake_state);
	int err = 0;

	if (tls_flush_recv(subreq, &err) == -1) {
		/* what GnuTLS wrote never left: the handshake cannot go on */
		state->tls->plain_err = err;
		state->last = GNUTLS_E_PUSH_ERROR;
	}
	TALLOC_FREE(subreq);
	if (state->last == GNUTLS_E_AGAIN ||
	    state->last == GNUTLS_E_INTERRUPTED) {
		tls_handshake_step(req);
		return;
	}
	tls_handshake_finish(req, state->last);
}

/* Check the peer certificate against the pin; NULL or the problem. */
static char *tls_check_pin(TALLOC_CTX *mem_ctx, struct tstream_tls *tls)
{
	const gnutls_datum_t *certs;
	unsigned int n = 0;
	uint8_t digest[32];

	certs = gnutls_certificate_get_peers(tls->session, &n);
	if (certs == NULL || n == 0) {
		return talloc_strdup(mem_ctx, "the peer sent no certificate "
				     "to check the pin against");
	}
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, certs[0].data, certs[0].size,
			     digest) < 0) {
		return talloc_strdup(mem_ctx, "cannot hash the certificate");
	}
	if (memcmp(digest, tls->params->pin, sizeof(digest)) != 0) {
		return talloc_strdup(mem_ctx, "certificate does not match the "
				     "pin");
	}
	return NULL;
}

/* Describe why the handshake failed, from GnuTLS's answer. */
static char *tls_handshake_error(TALLOC_CTX *mem_ctx, struct tstream_tls *tls,
				 int ret)
{
	gnutls_datum_t out = { NULL, 0 };
	unsigned status;
	char *msg;

	if (ret == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		status = gnutls_session_get_verify_cert_status(tls->session);
		if (gnutls_certificate_verification_status_print(status,
				GNUTLS_CRT_X509, &out, 0) == 0) {
			size_t len = strlen((char *)out.data);

			while (len > 0 && out.data[len - 1] == ' ') {
				len--;
			}
			msg = talloc_asprintf(mem_ctx, "certificate "
					      "verification failed: %.*s",
					      (int)len, (char *)out.data);
			gnutls_free(out.data);
			return msg;
		}
		return talloc_strdup(mem_ctx, "certificate verification "
				     "failed");
	}
	if (ret == GNUTLS_E_NO_APPLICATION_PROTOCOL) {
		return talloc_asprintf(mem_ctx, "TLS handshake: the client "
				       "offers none of the ALPN protocols "
				       "accepted (%s)",
				       tls->params->alpn_text);
	}
	if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		gnutls_alert_description_t alert;

		alert = gnutls_alert_get(tls->session);
		if (alert == GNUTLS_A_NO_APPLICATION_PROTOCOL &&
		    tls->params->n_alpn > 0) {
			return talloc_asprintf(mem_ctx, "TLS handshake: the "
				"peer accepts none of the ALPN protocols "
				"offered: %s (alert: %s)",
				tls->params->alpn_text,
				gnutls_alert_get_name(alert));
		}
		return talloc_asprintf(mem_ctx, "TLS handshake: the peer "
			"refused it (alert: %s)", gnutls_alert_get_name(alert));
	}
	if (ret == GNUTLS_E_PREMATURE_TERMINATION || tls->plain_eof) {
		return talloc_strdup(mem_ctx, "TLS handshake: the peer closed "
				     "the connection");
	}
	if (tls->plain_err != 0) {
		return talloc_asprintf(mem_ctx, "TLS handshake: %s",
				       strerror(tls->plain_err));
	}
	return talloc_asprintf(mem_ctx, "TLS handshake: %s",
			       gnutls_strerror(ret));
}

/*
 * Call GnuTLS; flush what it wrote (an alert too, before failing), read
 * what it needs, and call it again until it is done.
 */
static void tls_handshake_step(struct tevent_req *req)
{
	struct tls_handshake_state *state = tevent_req_data(req,
					struct tls_handshake_state);
	struct tstream_tls *tls = state->tls;
	struct tevent_req *subreq;
	size_t buffered;

	do {
		buffered = tls_buffered(tls);
		state->last = gnutls_handshake(tls->session);
	} while (tls->out_len == 0 &&
		 tls_again_now(tls, state->last, buffered));
	if (tls->out_len > 0) {
		subreq = tls_flush_send(state, state->ev, tls);
		if (tevent_req_nomem(subreq, req)) {
			return;
		}
		tevent_req_set_callback(subreq, tls_handshake_flushed, req);
		return;
	}
	if (state->last == GNUTLS_E_AGAIN ||
	    state->last == GNUTLS_E_INTERRUPTED) {
		subreq = tls_fill_send(state, state->ev, tls);
		if (tevent_req_nomem(subreq, req)) {
			return;
		}
		tevent_req_set_callback(subreq, tls_handshake_filled, req);
		return;
	}
	tls_handshake_finish(req, state->last);
}

/*
 * Fail the handshake, telling the peer why with a fatal alert first
 * (unless the peer is gone or told us): flush it, then fail.
 */
static void tls_handshake_fail(struct tevent_req *req, int err,
			       int alert_for)
{
	struct tls_handshake_state *state = tevent_req_data(req,
					struct tls_handshake_state);
	struct tstream_tls *tls = state->tls;
	struct tevent_req *subreq;

	if (!state->alerted && alert_for != 0 &&
	    alert_for != GNUTLS_E_PREMATURE_TERMINATION &&
	    alert_for != GNUTLS_E_FATAL_ALERT_RECEIVED &&
	    alert_for != GNUTLS_E_PUSH_ERROR &&
	    alert_for != GNUTLS_E_PULL_ERROR) {
		state->alerted = true;
		state->fail_errno = err;
		if (alert_for > 0) {
			gnutls_alert_send(tls->session, GNUTLS_AL_FATAL,
					  (gnutls_alert_description_t)alert_for);
		} else {
			gnutls_alert_send_appropriate(tls->session, alert_for);
		}
		if (tls->out_len > 0) {
			subreq = tls_flush_send(state, state->ev, tls);
			if (subreq != NULL) {
				tevent_req_set_callback(subreq,
					tls_handshake_alert_sent, req);
				return;
			}
		}
	}
	tevent_req_error(req, err);
}

static void tls_handshake_alert_sent(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tls_handshake_state *state = tevent_req_data(req,
					struct tls_handshake_state);

	TALLOC_FREE(subreq);	/* a gone peer misses the alert: no matter */
	tevent_req_error(req, state->fail_errno);
}

static void tls_handshake_finish(struct tevent_req *req, int ret)
{
	struct tls_handshake_state *state = tevent_req_data(req,
					struct tls_handshake_state);
	struct tstream_tls *tls = state->tls;

	if (ret < 0) {
		state->error = tls_handshake_error(state, tls, ret);
		/* before any data, a peer that leaves has just gone away */
		tls_handshake_fail(req,
				   ret == GNUTLS_E_PREMATURE_TERMINATION
					? EPIPE : tls_errno(tls, ret),
				   ret);
		return;
	}
	if (tls->params->have_pin) {
		state->error = tls_check_pin(state, tls);
		if (state->error != NULL) {
			tls_handshake_fail(req, EACCES,
					   GNUTLS_A_BAD_CERTIFICATE);
			return;
		}
	}
	tevent_req_done(req);
}

/* ---------------------------------------------------------------- monitor */

/* The TLS stream breaks when its plain stream does: watch that. */
static void tls_monitor_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	int err = 0;

	if (tstream_monitor_recv(subreq, &err) == -1) {
		TALLOC_FREE(subreq);
		tevent_req_error(req, err);
		return;
	}
	TALLOC_FREE(subreq);
	tevent_req_done(req);
}

static struct tevent_req *tls_monitor_send(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   struct tstream_context *stream)
{
	struct tstream_tls *tls = tstream_context_data(stream,
						       struct tstream_tls);
	struct tevent_req *req, *subreq;
	int *state;

	req = tevent_req_create(mem_ctx, &state, int);
	if (req == NULL) {
		return NULL;
	}
	subreq = tstream_monitor_send(state, ev, tls->plain);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, tls_monitor_done, req);
	return req;
}

static int tls_monitor_recv(struct tevent_req *req, int *perrno)
{
	return tsocket_req_simple_recv(req, perrno);
}

static const struct tstream_context_ops tstream_tls_ops;

static int tls_destructor(struct tstream_tls *tls)
{
	if (tls->session != NULL) {
		gnutls_deinit(tls->session);
		tls->session = NULL;
	}
	return 0;
}

/* Set up a session of the params' side over plain. */
static int tls_session_setup(struct tls_handshake_state *state,
			     struct tstream_context *plain,
			     struct tstream_tls_params *params,
			     const char *location)
{
	struct tstream_tls *tls;
	unsigned flags = (params->server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
			 GNUTLS_NONBLOCK;
	int ret;

	state->stream = tstream_context_create(state, &tstream_tls_ops, &tls,
					       struct tstream_tls, location);
	if (state->stream == NULL) {
		return ENOMEM;
	}
	state->tls = tls;
	tls->plain = plain;
	tls->params = params;
	tls->flush_queue = tevent_queue_create(tls, "tls-flush");
	if (tls->flush_queue == NULL) {
		return ENOMEM;
	}
	ret = gnutls_init(&tls->session, flags);
	if (ret < 0) {
		tls->session = NULL;
		state->error = talloc_asprintf(state, "TLS: %s",
					       gnutls_strerror(ret));
		return EPROTO;
	}
	talloc_set_destructor(tls, tls_destructor);
	if (params->priority != NULL) {
		ret = gnutls_priority_set(tls->session, params->priority);
	} else {
		ret = gnutls_set_default_priority(tls->session);
	}
	if (ret >= 0) {
		ret = gnutls_credentials_set(tls->session,
					     GNUTLS_CRD_CERTIFICATE,
					     params->cred);
	}
	if (ret >= 0 && params->sni) {
		ret = gnutls_server_name_set(tls->session, GNUTLS_NAME_DNS,
					     params->servername,
					     strlen(params->servername));
	}
	if (ret >= 0 && params->n_alpn > 0) {
		/*
		 * A server picks by its own order, and refuses a client
		 * that offers ALPN but nothing it accepts (MANDATORY does
		 * not apply to a client that offers none).
		 */
		ret = gnutls_alpn_set_protocols(tls->session, params->alpn,
			params->n_alpn, params->server
			? GNUTLS_ALPN_MANDATORY | GNUTLS_ALPN_SERVER_PRECEDENCE
			: 0);
	}
	if (ret < 0) {
		state->error = talloc_asprintf(state, "TLS: %s",
					       gnutls_strerror(ret));
		return EPROTO;
	}
	if (params->server && params->require_client_cert) {
		gnutls_certificate_server_set_request(tls->session,
						      GNUTLS_CERT_REQUIRE);
	}
	if (params->verify) {
		/* checked during the handshake, which fails if it fails */
		gnutls_session_set_verify_cert(tls->session,
					       params->server ? NULL
							: params->servername,
					       0);
	}
	gnutls_handshake_set_timeout(tls->session, GNUTLS_INDEFINITE_TIMEOUT);
	gnutls_transport_set_ptr(tls->session, tls);
	gnutls_transport_set_pull_function(tls->session, tls_pull);
	gnutls_transport_set_push_function(tls->session, tls_push);
	return 0;
}

static struct tevent_req *tls_handshake_send(TALLOC_CTX *mem_ctx,
					     struct tevent_context *ev,
					     struct tstream_context *plain,
					     struct tstream_tls_params *params,
					     bool server,
					     const char *location)
{
	struct tevent_req *req;
	struct tls_handshake_state *state;
	int err;

	req = tevent_req_create(mem_ctx, &state, struct tls_handshake_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	if (params->server != server) {
		/* client params to accept, or server params to connect */
		tevent_req_error(req, EINVAL);
		return tevent_req_post(req, ev);
	}
	err = tls_session_setup(state, plain, params, location);
	if (err != 0) {
		tevent_req_error(req, err);
		return tevent_req_post(req, ev);
	}
	tls_handshake_step(req);
	if (!tevent_req_is_in_progress(req)) {
		return tevent_req_post(req, ev);
	}
	return req;
}

struct tevent_req *tstream_tls_connect_send(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct tstream_context *plain,
					    struct tstream_tls_params *params)
{
	return tls_handshake_send(mem_ctx, ev, plain, params, false,
				  __location__);
}

struct tevent_req *tstream_tls_accept_send(TALLOC_CTX *mem_ctx,
					   struct tevent_context *ev,
					   struct tstream_context *plain,
					   struct tstream_tls_params *params)
{
	return tls_handshake_send(mem_ctx, ev, plain, params, true,
				  __location__);
}

int tstream_tls_handshake_recv(struct tevent_req *req, int *perrno,
			       TALLOC_CTX *mem_ctx,
			       struct tstream_context **tls, char **error)
{
	struct tls_handshake_state *state;
	int ret = -1;

	if (tsocket_req_is_error(req, perrno)) {
		state = talloc_get_type(_tevent_req_data(req),
					struct tls_handshake_state);
		if (error != NULL) {
			*error = talloc_asprintf(mem_ctx, "%s",
				state != NULL && state->error != NULL
					? state->error
					: strerror(*perrno));
		}
		goto out;
	}
	state = tevent_req_data(req, struct tls_handshake_state);
	/* the TLS stream takes the plain one along */
	talloc_steal(state->tls, state->tls->plain);
	*tls = talloc_move(mem_ctx, &state->stream);
	ret = 0;
out:
	tevent_req_received(req);
	return ret;
}

/* ---------------------------------------------------------------- info */

/* "TLSv1.3", as OpenSSL and most tools write it (GnuTLS: "TLS1.3"). */
static const char *tls_version_name(gnutls_protocol_t v)
{
	switch (v) {
	case GNUTLS_SSL3:
		return "SSLv3";
	case GNUTLS_TLS1_0:
		return "TLSv1.0";
	case GNUTLS_TLS1_1:
		return "TLSv1.1";
	case GNUTLS_TLS1_2:
		return "TLSv1.2";
	case GNUTLS_TLS1_3:
		return "TLSv1.3";
	default:
		return gnutls_protocol_get_name(v);
	}
}

static const char *tls_cipher_name(gnutls_session_t session)
{
#ifdef HAVE_GNUTLS_CIPHERSUITE_GET
	/* the IANA name: TLS_AES_256_GCM_SHA384 */
	const char *name = gnutls_ciphersuite_get(session);

	if (name != NULL) {
		return name;
	}
#endif
	/* older GnuTLS: the bulk cipher alone (AES-256-GCM) */
	return gnutls_cipher_get_name(gnutls_cipher_get(session));
}

int tstream_tls_info(struct tstream_context *stream, TALLOC_CTX *mem_ctx,
		     char **version, char **cipher, char **alpn)
{
	struct tstream_tls *tls;
	gnutls_datum_t proto = { NULL, 0 };
	const char *name;
	char *v = NULL, *c = NULL, *a = NULL;

	tls = stream != NULL
	      ? talloc_get_type(_tstream_context_data(stream),
				struct tstream_tls)
	      : NULL;
	if (tls == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (tls->session == NULL) {
		errno = ENOTCONN;
		return -1;
	}
	if (version != NULL) {
		name = tls_version_name(
			gnutls_protocol_get_version(tls->session));
		v = talloc_strdup(mem_ctx, name != NULL ? name : "unknown");
		if (v == NULL) {
			goto nomem;
		}
	}
	if (cipher != NULL) {
		name = tls_cipher_name(tls->session);
		c = talloc_strdup(mem_ctx, name != NULL ? name : "unknown");
		if (c == NULL) {
			goto nomem;
		}
	}
	if (alpn != NULL &&
	    gnutls_alpn_get_selected_protocol(tls->session, &proto) == 0 &&
	    proto.size > 0) {
		a = talloc_strndup(mem_ctx, (const char *)proto.data,
				   proto.size);
		if (a == NULL) {
			goto nomem;
		}
	}
	if (version != NULL) {
		*version = v;
	}
	if (cipher != NULL) {
		*cipher = c;
	}
	if (alpn != NULL) {
		*alpn = a;
	}
	return 0;
nomem:
	talloc_free(v);
	talloc_free(c);
	errno = ENOMEM;
	return -1;
}

/* ---------------------------------------------------------------- reading */

struct tls_readv_state {
	struct tevent_context *ev;
	struct tstream_tls *tls;
	struct iovec *vector;
	size_t count;
	int total;
	bool some;
};

static void tls_readv_step(struct tevent_req *req);

static void tls_readv_waited(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	int err = tls_wait_recv(subreq);

	TALLOC_FREE(subreq);
	if (err != 0) {
		tevent_req_error(req, err);
		return;
	}
	tls_readv_step(req);
}

static void tls_readv_step(struct tevent_req *req)
{
	struct tls_readv_state *state = tevent_req_data(req,
					struct tls_readv_state);
	struct tstream_tls *tls = state->tls;
	struct tevent_req *subreq;
	ssize_t n;
	bool nomem;

	if (tls->session == NULL) {
		tevent_req_error(req, ENOTCONN);
		return;
	}
	if (tls->fatal_errno != 0) {
		tevent_req_error(req, tls->fatal_errno);
		return;
	}
	/* GnuTLS takes an empty buffer for a bad request: skip them */
	tsocket_iovec_advance(&state->vector, &state->count, 0);
	while (state->count > 0) {
		size_t buffered = tls_buffered(tls);

		n = gnutls_record_recv(tls->session, state->vector->iov_base,
				       state->vector->iov_len);
		if (tls_again_now(tls, (int)n, buffered)) {
			continue;
		}
		if (n > 0) {
			state->total += (int)n;
			tsocket_iovec_advance(&state->vector, &state->count,
					      (size_t)n);
			continue;
		}
		if (n == GNUTLS_E_WARNING_ALERT_RECEIVED) {
			continue;	/* a warning ends nothing */
		}
		if (state->some && state->total > 0) {
			if (n < 0 && gnutls_error_is_fatal((int)n)) {
				/* keep the real reason for the next read */
				tls_errno(tls, (int)n);
			}
			break;	/* whatever was there without waiting */
		}
		if (n == 0) {
			tevent_req_error(req, EPIPE);	/* close_notify */
			return;
		}
		subreq = tls_wait_send(state, state->ev, tls, (int)n, &nomem);
		if (nomem) {
			tevent_req_oom(req);
			return;
		}
		if (subreq == NULL) {
			tevent_req_error(req, tls_errno(tls, (int)n));
			return;
		}
		tevent_req_set_callback(subreq, tls_readv_waited, req);
		return;
	}
	tevent_req_done(req);
}

static struct tevent_req *tls_read_send(TALLOC_CTX *mem_ctx,
					struct tevent_context *ev,
					struct tstream_context *stream,
					const struct iovec *vector,
					size_t count, bool some)
{
	struct tstream_tls *tls = tstream_context_data(stream,
						       struct tstream_tls);
	struct tevent_req *req;
	struct tls_readv_state *state;

	req = tevent_req_create(mem_ctx, &state, struct tls_readv_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->tls = tls;
	state->some = some;
	if (tls->session == NULL) {
		tevent_req_error(req, ENOTCONN);
		return tevent_req_post(req, ev);
	}
	state->vector = talloc_memdup(state, vector, count * sizeof(*vector));
	if (tevent_req_nomem(state->vector, req)) {
		return tevent_req_post(req, ev);
	}
	state->count = count;
	tls_readv_step(req);
	if (!tevent_req_is_in_progress(req)) {
		return tevent_req_post(req, ev);
	}
	return req;
}

static struct tevent_req *tls_readv_send(TALLOC_CTX *mem_ctx,
					 struct tevent_context *ev,
					 struct tstream_context *stream,
					 struct iovec *vector, size_t count)
{
	return tls_read_send(mem_ctx, ev, stream, vector, count, false);
}

static struct tevent_req *tls_read_some_send(TALLOC_CTX *mem_ctx,
					     struct tevent_context *ev,
					     struct tstream_context *stream,
					     uint8_t *buf, size_t len)
{
	struct iovec v = { .iov_base = buf, .iov_len = len };

	return tls_read_send(mem_ctx, ev, stream, &v, 1, true);
}

static int tls_readv_recv(struct tevent_req *req, int *perrno)
{
	struct tls_readv_state *state = tevent_req_data(req,
					struct tls_readv_state);
	int ret = -1;

	if (!tsocket_req_is_error(req, perrno)) {
		ret = state->total;
	}
	tevent_req_received(req);
	return ret;
}

static ssize_t tls_read_some_recv(struct tevent_req *req, int *perrno)
{
	return tls_readv_recv(req, perrno);
}

static ssize_t tls_pending_bytes(struct tstream_context *stream)
{
	struct tstream_tls *tls = tstream_context_data(stream,
						       struct tstream_tls);

	if (tls->session == NULL) {
		errno = ENOTCONN;
		return -1;
	}
	return (ssize_t)gnutls_record_check_pending(tls->session);
}

/* ---------------------------------------------------------------- writing */

/*
 * Writes are encrypted and flushed a slice at a time, so a large write
 * costs at most a slice of records in memory, not a copy of itself.
 */
#define TLS_WRITE_SLICE (1024 * 1024)

struct tls_writev_state {
	struct tevent_context *ev;
	struct tstream_tls *tls;
	struct iovec *vector;	/* what is still to be encrypted */
	size_t count;
	int total;
};

static void tls_writev_step(struct tevent_req *req);

static void tls_writev_flushed(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	int err = tls_wait_recv(subreq);

	TALLOC_FREE(subreq);
	if (err != 0) {
		tevent_req_error(req, err);
		return;
	}
	tls_writev_step(req);
}

/* Encrypt the next slice and flush it; done when nothing is left. */
static void tls_writev_step(struct tevent_req *req)
{
	struct tls_writev_state *state = tevent_req_data(req,
					struct tls_writev_state);
	struct tstream_tls *tls = state->tls;
	struct tevent_req *subreq;
	size_t slice = 0;
	ssize_t n;

	if (state->count == 0) {
		tevent_req_done(req);
		return;
	}
	if (tls->session == NULL) {
		tevent_req_error(req, ENOTCONN);
		return;
	}
	while (state->count > 0 && slice < TLS_WRITE_SLICE) {
		size_t len = state->vector->iov_len;

		if (len > TLS_WRITE_SLICE - slice) {
			len = TLS_WRITE_SLICE - slice;
		}
		n = gnutls_record_send(tls->session, state->vector->iov_base,
				       len);
		if (n <= 0) {
			/* the push never blocks: no progress is an error,
			 * never a reason to loop */
			tevent_req_error(req, tls_errno(tls,
				n < 0 ? (int)n : GNUTLS_E_PUSH_ERROR));
			return;
		}
		slice += (size_t)n;
		state->total += (int)n;
		tsocket_iovec_advance(&state->vector, &state->count,
				      (size_t)n);
	}
	subreq = tls_flush_send(state, state->ev, tls);
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, tls_writev_flushed, req);
}

static struct tevent_req *tls_writev_send(TALLOC_CTX *mem_ctx,
					  struct tevent_context *ev,
					  struct tstream_context *stream,
					  const struct iovec *vector,
					  size_t count)
{
	struct tstream_tls *tls = tstream_context_data(stream,
						       struct tstream_tls);
	struct tevent_req *req;
	struct tls_writev_state *state;

	req = tevent_req_create(mem_ctx, &state, struct tls_writev_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->tls = tls;
	if (tls->session == NULL) {
		tevent_req_error(req, ENOTCONN);
		return tevent_req_post(req, ev);
	}
	if (tls->fatal_errno != 0) {
		/* the session is dead: nothing can be written any more */
		tevent_req_error(req, tls->fatal_errno == ECONNRESET
				      ? ECONNRESET : EPIPE);
		return tevent_req_post(req, ev);
	}
	state->vector = talloc_memdup(state, vector, count * sizeof(*vector));
	if (tevent_req_nomem(state->vector, req)) {
		return tevent_req_post(req, ev);
	}
	state->count = count;
	/* skip empty buffers (the generic layer made sure of a total) */
	tsocket_iovec_advance(&state->vector, &state->count, 0);
	tls_writev_step(req);
	if (!tevent_req_is_in_progress(req)) {
		return tevent_req_post(req, ev);
	}
	return req;
}

static int tls_writev_recv(struct tevent_req *req, int *perrno)
{
	struct tls_writev_state *state = tevent_req_data(req,
					struct tls_writev_state);
	int ret = -1;

	if (!tsocket_req_is_error(req, perrno)) {
		ret = state->total;
	}
	tevent_req_received(req);
	return ret;
}

/* ---------------------------------------------------------------- closing */

/*
 * Disconnect and shutdown both send close_notify first, then disconnect
 * or shut down the plain stream.
 */
struct tls_close_state {
	struct tevent_context *ev;
	struct tstream_tls *tls;
	bool write_only;
};

static void tls_close_plain_done(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tls_close_state *state = tevent_req_data(req,
					struct tls_close_state);
	int err = 0;
	int ret;

	if (state->write_only) {
		ret = tstream_shutdown_recv(subreq, &err);
	} else {
		ret = tstream_disconnect_recv(subreq, &err);
	}
	talloc_free(subreq);
	if (!state->write_only && ret == 0 && state->tls->session != NULL) {
		gnutls_deinit(state->tls->session);
		state->tls->session = NULL;
	}
	if (ret == -1 && err != ENOTCONN && err != EPIPE) {
		tevent_req_error(req, err);
		return;
	}
	tevent_req_done(req);
}

static void tls_close_flushed(struct tevent_req *subreq)
{
	struct tevent_req *req = tevent_req_callback_data(subreq,
							  struct tevent_req);
	struct tls_close_state *state = tevent_req_data(req,
					struct tls_close_state);

	/* a peer that is gone cannot get close_notify: close anyway */
	tls_wait_recv(subreq);
	TALLOC_FREE(subreq);
	if (state->write_only) {
		subreq = tstream_shutdown_send(state, state->ev,
					       state->tls->plain);
	} else {
		subreq = tstream_disconnect_send(state, state->ev,
						 state->tls->plain);
	}
	if (tevent_req_nomem(subreq, req)) {
		return;
	}
	tevent_req_set_callback(subreq, tls_close_plain_done, req);
}

static struct tevent_req *tls_close_send(TALLOC_CTX *mem_ctx,
					 struct tevent_context *ev,
					 struct tstream_context *stream,
					 bool write_only)
{
	struct tstream_tls *tls = tstream_context_data(stream,
						       struct tstream_tls);
	struct tevent_req *req, *subreq;
	struct tls_close_state *state;

	req = tevent_req_create(mem_ctx, &state, struct tls_close_state);
	if (req == NULL) {
		return NULL;
	}
	state->ev = ev;
	state->tls = tls;
	state->write_only = write_only;
	if (tls->session == NULL) {
		tevent_req_error(req, ENOTCONN);
		return tevent_req_post(req, ev);
	}
	/* close_notify: the push never blocks, so this does not either */
	gnutls_bye(tls->session, GNUTLS_SHUT_WR);
	subreq = tls_flush_send(state, ev, tls);
	if (tevent_req_nomem(subreq, req)) {
		return tevent_req_post(req, ev);
	}
	tevent_req_set_callback(subreq, tls_close_flushed, req);
	return req;
}

static struct tevent_req *tls_disconnect_send(TALLOC_CTX *mem_ctx,
					      struct tevent_context *ev,
					      struct tstream_context *stream)
{
	return tls_close_send(mem_ctx, ev, stream, false);
}

static struct tevent_req *tls_shutdown_send(TALLOC_CTX *mem_ctx,
					    struct tevent_context *ev,
					    struct tstream_context *stream)
{
	return tls_close_send(mem_ctx, ev, stream, true);
}

static int tls_close_recv(struct tevent_req *req, int *perrno)
{
	return tsocket_req_simple_recv(req, perrno);
}

static const struct tstream_context_ops tstream_tls_ops = {
	.name = "tls",
	.pending_bytes = tls_pending_bytes,
	.readv_send = tls_readv_send,
	.readv_recv = tls_readv_recv,
	.writev_send = tls_writev_send,
	.writev_recv = tls_writev_recv,
	.disconnect_send = tls_disconnect_send,
	.disconnect_recv = tls_close_recv,
	.shutdown_send = tls_shutdown_send,
	.shutdown_recv = tls_close_recv,
	.read_some_send = tls_read_some_send,
	.read_some_recv = tls_read_some_recv,
	.monitor_send = tls_monitor_send,
	.monitor_recv = tls_monitor_recv,
	.error_message = tls_error_message,
};
