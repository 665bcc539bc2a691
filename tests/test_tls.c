/*
 * test_tls.c - unit tests of the TLS stream (tsocket_tls.h, GnuTLS)
 *
 * The certificates are made here, once per run, with the GnuTLS x509 API
 * (EC P-256 keys, so it is cheap) and written as PEM files into a private
 * tu_tmpdir() directory: a CA, a server certificate it signed (SAN
 * DNS:localhost and IP:127.0.0.1), a client certificate it signed, an
 * unrelated second CA and a client certificate of that second CA, and an
 * impostor CA (the first one's name, another key) with a client
 * certificate of its own.
 *
 * Client and server run on one tevent loop over a unix socketpair.  Every
 * wait is bounded by tu_loop_until(); nothing sleeps.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/crypto.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tsocket.h"
#include "tsocket_tls.h"
#include "test_util.h"

#ifndef discard_const
#define discard_const(ptr) ((void *)(uintptr_t)(const void *)(ptr))
#endif

#define TIMEOUT_MS	5000
#define BIG_TIMEOUT_MS	60000	/* 4 MiB transfers, under sanitizers */
#define XFER_LEN	(4 * 1024 * 1024)

/* ------------------------------------------------------------------ */
/* Certificates (group setup)                                         */
/* ------------------------------------------------------------------ */

struct pki {
	char *dir;
	char *ca_cert;
	char *other_ca_cert;
	char *server_cert, *server_key;
	char *client_cert, *client_key;
	char *rogue_cert, *rogue_key;	/* a client of the other CA */
	char *forged_cert, *forged_key;	/* a client of the impostor CA */
	char *junk;		/* text that is no PEM at all */
	char *bad_pem;		/* PEM armour around broken base64 */
	char *missing;		/* a name that does not exist */
	char pin_colons[7 + 32 * 3];	/* "sha256:AB:CD:..." */
	char pin_plain[64 + 1];		/* "abcd..." */
	char ca_pin[64 + 1];		/* the CA's: a pin that fails */
};

static struct pki *pki;

static char *pki_file(const char *name, const void *data, size_t len)
{
	char *path = talloc_asprintf(pki, "%s/%s", pki->dir, name);
	FILE *f;

	if (path == NULL) {
		return NULL;
	}
	f = fopen(path, "w");
	if (f == NULL) {
		return NULL;
	}
	if (fwrite(data, 1, len, f) != len) {
		fclose(f);
		return NULL;
	}
	if (fclose(f) != 0) {
		return NULL;
	}
	return path;
}

static char *pki_write_crt(const char *name, gnutls_x509_crt_t crt)
{
	gnutls_datum_t d = { NULL, 0 };
	char *path;

	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) < 0) {
		return NULL;
	}
	path = pki_file(name, d.data, d.size);
	gnutls_free(d.data);
	return path;
}

static char *pki_write_key(const char *name, gnutls_x509_privkey_t key)
{
	gnutls_datum_t d = { NULL, 0 };
	char *path;

	if (gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d) < 0) {
		return NULL;
	}
	path = pki_file(name, d.data, d.size);
	gnutls_free(d.data);
	return path;
}

/* SHA-256 of the certificate's DER, as 64 hex digits (lowercase). */
static int pki_sha256_hex(gnutls_x509_crt_t crt, uint8_t digest[32],
			  char hex[65])
{
	gnutls_datum_t d = { NULL, 0 };
	int ret;
	int i;

	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &d) < 0) {
		return -1;
	}
	ret = gnutls_hash_fast(GNUTLS_DIG_SHA256, d.data, d.size, digest);
	gnutls_free(d.data);
	if (ret < 0) {
		return -1;
	}
	for (i = 0; i < 32; i++) {
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	}
	return 0;
}

static gnutls_x509_privkey_t pki_key(void)
{
	gnutls_x509_privkey_t key;

	if (gnutls_x509_privkey_init(&key) < 0) {
		return NULL;
	}
	if (gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
			GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
			0) < 0) {
		gnutls_x509_privkey_deinit(key);
		return NULL;
	}
	return key;
}

enum pki_kind { PKI_CA, PKI_SERVER, PKI_CLIENT };

/*
 * A certificate for key named cn: self-signed when issuer is NULL,
 * otherwise signed by issuer/issuer_key.
 */
static gnutls_x509_crt_t pki_crt(enum pki_kind kind, const char *cn,
				 unsigned serial, gnutls_x509_privkey_t key,
				 gnutls_x509_crt_t issuer,
				 gnutls_x509_privkey_t issuer_key)
{
	static const uint8_t loopback[4] = { 127, 0, 0, 1 };
	uint8_t ser[2] = { 0x01, (uint8_t)serial };
	uint8_t kid[64];
	size_t kid_len = sizeof(kid);
	time_t now = time(NULL);
	gnutls_x509_crt_t crt;
	int ret;

	if (gnutls_x509_crt_init(&crt) < 0) {
		return NULL;
	}
	ret = gnutls_x509_crt_set_version(crt, 3);
	if (ret >= 0) {
		ret = gnutls_x509_crt_set_serial(crt, ser, sizeof(ser));
	}
	if (ret >= 0) {
		ret = gnutls_x509_crt_set_activation_time(crt, now - 3600);
	}
	if (ret >= 0) {
		ret = gnutls_x509_crt_set_expiration_time(crt,
							  now + 7 * 86400);
	}
	if (ret >= 0) {
		ret = gnutls_x509_crt_set_key(crt, key);
	}
	if (ret >= 0) {
		ret = gnutls_x509_crt_set_dn_by_oid(crt,
				GNUTLS_OID_X520_COMMON_NAME, 0, cn,
				strlen(cn));
	}
	if (ret >= 0) {
		ret = gnutls_x509_crt_get_key_id(crt, 0, kid, &kid_len);
	}
	if (ret >= 0) {
		ret = gnutls_x509_crt_set_subject_key_id(crt, kid, kid_len);
	}
	if (ret >= 0 && kind == PKI_CA) {
		ret = gnutls_x509_crt_set_basic_constraints(crt, 1, -1);
		if (ret >= 0) {
			ret = gnutls_x509_crt_set_key_usage(crt,
				GNUTLS_KEY_KEY_CERT_SIGN |
				GNUTLS_KEY_CRL_SIGN);
		}
	} else if (ret >= 0) {
		ret = gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
		if (ret >= 0) {
			ret = gnutls_x509_crt_set_key_usage(crt,
				GNUTLS_KEY_DIGITAL_SIGNATURE);
		}
		if (ret >= 0) {
			ret = gnutls_x509_crt_set_key_purpose_oid(crt,
				kind == PKI_SERVER ? GNUTLS_KP_TLS_WWW_SERVER
						   : GNUTLS_KP_TLS_WWW_CLIENT,
				0);
		}
	}
	if (ret >= 0 && kind == PKI_SERVER) {
		ret = gnutls_x509_crt_set_subject_alt_name(crt,
				GNUTLS_SAN_DNSNAME, "localhost",
				strlen("localhost"), GNUTLS_FSAN_APPEND);
		if (ret >= 0) {
			ret = gnutls_x509_crt_set_subject_alt_name(crt,
				GNUTLS_SAN_IPADDRESS, loopback,
				sizeof(loopback), GNUTLS_FSAN_APPEND);
		}
	}
	if (ret >= 0 && issuer != NULL) {
		kid_len = sizeof(kid);
		ret = gnutls_x509_crt_get_subject_key_id(issuer, kid,
							 &kid_len, NULL);
		if (ret >= 0) {
			ret = gnutls_x509_crt_set_authority_key_id(crt, kid,
								   kid_len);
		}
	}
	if (ret >= 0) {
		ret = gnutls_x509_crt_sign2(crt, issuer ? issuer : crt,
					    issuer_key ? issuer_key : key,
					    GNUTLS_DIG_SHA256, 0);
	}
	if (ret < 0) {
		fprintf(stderr, "certificate '%s': %s\n", cn,
			gnutls_strerror(ret));
		gnutls_x509_crt_deinit(crt);
		return NULL;
	}
	return crt;
}

/* The keys and certificates group_setup() makes. */
enum { K_CA, K_OTHER, K_IMPOSTOR, K_SERVER, K_CLIENT, K_ROGUE, K_FORGED,
       K_COUNT };

/* Write the certificate and, if key_name is not NULL, the key. */
static bool pki_write(const char *crt_name, const char *key_name,
		      gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
		      char **crt_path, char **key_path)
{
	*crt_path = pki_write_crt(crt_name, crt);
	if (key_name != NULL) {
		*key_path = pki_write_key(key_name, key);
		return *crt_path != NULL && *key_path != NULL;
	}
	return *crt_path != NULL;
}

static int group_setup(void **state)
{
	static const char junk[] = "this is not a certificate\n";
	static const char bad_pem[] =
		"-----BEGIN CERTIFICATE-----\n"
		"!!!! not base64 at all ????\n"
		"-----END CERTIFICATE-----\n";
	gnutls_x509_privkey_t key[K_COUNT] = { NULL };
	gnutls_x509_crt_t crt[K_COUNT] = { NULL };
	uint8_t digest[32], ca_digest[32];
	int ret = -1;
	int i;

	(void)state;
	pki = talloc_zero(NULL, struct pki);
	if (pki == NULL) {
		return -1;
	}
	pki->dir = tu_tmpdir(pki);
	if (pki->dir == NULL) {
		goto out;
	}
	for (i = 0; i < K_COUNT; i++) {
		key[i] = pki_key();
		if (key[i] == NULL) {
			goto out;
		}
	}
	/* the impostor has the CA's name, not its key */
	crt[K_CA] = pki_crt(PKI_CA, "tsocket test CA", 1, key[K_CA],
			    NULL, NULL);
	crt[K_OTHER] = pki_crt(PKI_CA, "tsocket unrelated CA", 2,
			       key[K_OTHER], NULL, NULL);
	crt[K_IMPOSTOR] = pki_crt(PKI_CA, "tsocket test CA", 3,
				  key[K_IMPOSTOR], NULL, NULL);
	if (!crt[K_CA] || !crt[K_OTHER] || !crt[K_IMPOSTOR]) {
		goto out;
	}
	crt[K_SERVER] = pki_crt(PKI_SERVER, "localhost", 4, key[K_SERVER],
				crt[K_CA], key[K_CA]);
	crt[K_CLIENT] = pki_crt(PKI_CLIENT, "test client", 5, key[K_CLIENT],
				crt[K_CA], key[K_CA]);
	crt[K_ROGUE] = pki_crt(PKI_CLIENT, "rogue client", 6, key[K_ROGUE],
			       crt[K_OTHER], key[K_OTHER]);
	crt[K_FORGED] = pki_crt(PKI_CLIENT, "forged client", 7,
				key[K_FORGED], crt[K_IMPOSTOR],
				key[K_IMPOSTOR]);
	if (!crt[K_SERVER] || !crt[K_CLIENT] || !crt[K_ROGUE] ||
	    !crt[K_FORGED]) {
		goto out;
	}
	if (!pki_write("ca.pem", NULL, crt[K_CA], NULL, &pki->ca_cert,
		       NULL) ||
	    !pki_write("other-ca.pem", NULL, crt[K_OTHER], NULL,
		       &pki->other_ca_cert, NULL) ||
	    !pki_write("server.pem", "server-key.pem", crt[K_SERVER],
		       key[K_SERVER], &pki->server_cert, &pki->server_key) ||
	    !pki_write("client.pem", "client-key.pem", crt[K_CLIENT],
		       key[K_CLIENT], &pki->client_cert, &pki->client_key) ||
	    !pki_write("rogue.pem", "rogue-key.pem", crt[K_ROGUE],
		       key[K_ROGUE], &pki->rogue_cert, &pki->rogue_key) ||
	    !pki_write("forged.pem", "forged-key.pem", crt[K_FORGED],
		       key[K_FORGED], &pki->forged_cert, &pki->forged_key)) {
		goto out;
	}
	pki->junk = pki_file("junk.pem", junk, strlen(junk));
	pki->bad_pem = pki_file("bad.pem", bad_pem, strlen(bad_pem));
	pki->missing = talloc_asprintf(pki, "%s/no-such-file.pem",
				       pki->dir);
	if (!pki->junk || !pki->bad_pem || !pki->missing) {
		goto out;
	}
	if (pki_sha256_hex(crt[K_SERVER], digest, pki->pin_plain) != 0 ||
	    pki_sha256_hex(crt[K_CA], ca_digest, pki->ca_pin) != 0) {
		goto out;
	}
	/* the server's again, as "sha256:AB:CD:..." */
	strcpy(pki->pin_colons, "sha256:");
	for (i = 0; i < 32; i++) {
		snprintf(pki->pin_colons + 7 + 3 * i, 4, i < 31 ? "%02X:"
			 : "%02X", digest[i]);
	}
	ret = 0;
out:
	for (i = 0; i < K_COUNT; i++) {
		if (crt[i] != NULL) {
			gnutls_x509_crt_deinit(crt[i]);
		}
		if (key[i] != NULL) {
			gnutls_x509_privkey_deinit(key[i]);
		}
	}
	if (ret != 0) {
		fprintf(stderr, "test_tls: cannot make the certificates\n");
		TALLOC_FREE(pki);
	}
	return ret;
}

static int group_teardown(void **state)
{
	(void)state;
	TALLOC_FREE(pki);	/* removes the directory too */
	return 0;
}

/* ------------------------------------------------------------------ */
/* Per-test state and helpers                                         */
/* ------------------------------------------------------------------ */

#define assert_err2(err, a, b) do {					\
	int e_ = (err);							\
	if (e_ != (a) && e_ != (b)) {					\
		fail_msg("errno %d (%s), expected " #a " or " #b,	\
			 e_, strerror(e_));				\
	}								\
} while (0)

#define assert_err(err, a) do {						\
	int e_ = (err);							\
	if (e_ != (a)) {						\
		fail_msg("errno %d (%s), expected " #a, e_,		\
			 strerror(e_));					\
	}								\
} while (0)

/* A message is there, says something, and mentions what if not NULL. */
#define assert_msg(msg, what) assert_msg_at(msg, what, __FILE__, __LINE__)
static void assert_msg_at(const char *msg, const char *what,
			  const char *file, int line)
{
	if (msg == NULL || msg[0] == '\0') {
		fail_msg("%s:%d: no message", file, line);
	}
	if (what != NULL && strcasestr(msg, what) == NULL) {
		fail_msg("%s:%d: message '%s' does not mention '%s'", file,
			 line, msg, what);
	}
}

static ssize_t do_read_some(struct tu_ctx *t, struct tstream_context *s,
			    void *buf, size_t len, int *err)
{
	struct tevent_req *req;
	ssize_t ret;

	*err = 0;
	req = tstream_read_some_send(t->mem, t->ev, s, buf, len);
	wait_req(t, req);
	ret = tstream_read_some_recv(req, err);
	talloc_free(req);
	return ret;
}

/* Write msg on from, read it on to, compare. */
static void exchange(struct tu_ctx *t, struct tstream_context *from,
		     struct tstream_context *to, const char *msg)
{
	size_t len = strlen(msg);
	char buf[256];
	int err;

	assert_true(len < sizeof(buf));
	assert_int_equal(do_writev(t, from, msg, len, &err), (int)len);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(do_readv(t, to, buf, len, &err), (int)len);
	assert_memory_equal(buf, msg, len);
}

static struct tstream_tls_params *client_params(struct tu_ctx *t,
				const struct tstream_tls_client_opts *o)
{
	struct tstream_tls_params *p = NULL;
	char *error = NULL;

	if (tstream_tls_params_client(t->mem, o, &p, &error) != 0) {
		fail_msg("client params: %s", error ? error : "(none)");
	}
	assert_non_null(p);
	return p;
}

static struct tstream_tls_params *server_params(struct tu_ctx *t,
				const struct tstream_tls_server_opts *o)
{
	struct tstream_tls_params *p = NULL;
	char *error = NULL;

	if (tstream_tls_params_server(t->mem, o, &p, &error) != 0) {
		fail_msg("server params: %s", error ? error : "(none)");
	}
	assert_non_null(p);
	return p;
}

/* The usual server: the CA's certificate, no client certificates. */
static struct tstream_tls_params *plain_server(struct tu_ctx *t)
{
	return server_params(t, &(struct tstream_tls_server_opts) {
		.certfile = pki->server_cert,
		.keyfile = pki->server_key,
	});
}

/* A client that trusts the CA and checks name. */
static struct tstream_tls_params *ca_client(struct tu_ctx *t,
					    const char *name)
{
	return client_params(t, &(struct tstream_tls_client_opts) {
		.cafile = pki->ca_cert,
		.servername = name,
	});
}

/* ---- running both handshakes on the loop ---- */

struct hs;

struct hs_side {
	struct hs *hs;
	struct tevent_req *req;
	struct tstream_context *plain;	/* ours until the handshake */
	struct tstream_context *under;	/* then the TLS stream's */
	struct tstream_context *tls;
	bool done, collected;
	int ret, err;
	char *msg;
};

struct hs {
	bool any;
	struct hs_side c, s;
};

static void hs_side_done(struct tevent_req *req)
{
	struct hs_side *side = tevent_req_callback_data_void(req);

	side->done = true;
	side->hs->any = true;
}

static void hs_collect(struct tu_ctx *t, struct hs_side *side)
{
	if (!side->done || side->collected) {
		return;
	}
	side->collected = true;
	side->err = 0;
	side->ret = tstream_tls_handshake_recv(side->req, &side->err, t->mem,
					       &side->tls, &side->msg);
	TALLOC_FREE(side->req);
	if (side->ret == 0) {
		assert_non_null(side->tls);
		side->under = side->plain;
		side->plain = NULL;	/* the TLS stream owns it now */
	} else {
		/* as an application would: drop the connection */
		TALLOC_FREE(side->plain);
	}
}

/*
 * Connect with cp and accept with sp over a fresh socketpair; wait until
 * both sides are done.  A side that fails closes its plain stream, so the
 * other side is not left waiting.
 */
static void hs_run(struct tu_ctx *t, struct tstream_tls_params *cp,
		   struct tstream_tls_params *sp, struct hs *h)
{
	memset(h, 0, sizeof(*h));
	h->c.hs = h;
	h->s.hs = h;
	assert_int_equal(tstream_unix_socketpair(t->mem, &h->c.plain,
						 t->mem, &h->s.plain), 0);
	h->c.req = tstream_tls_connect_send(t->mem, t->ev, h->c.plain, cp);
	h->s.req = tstream_tls_accept_send(t->mem, t->ev, h->s.plain, sp);
	assert_non_null(h->c.req);
	assert_non_null(h->s.req);
	tevent_req_set_callback(h->c.req, hs_side_done, &h->c);
	tevent_req_set_callback(h->s.req, hs_side_done, &h->s);
	for (;;) {
		h->any = false;
		hs_collect(t, &h->c);
		hs_collect(t, &h->s);
		if (h->c.collected && h->s.collected) {
			break;
		}
		if (!tu_loop_until(t->ev, &h->any, TIMEOUT_MS)) {
			fail_msg("handshake not done after %d ms (client "
				 "%s, server %s)", TIMEOUT_MS,
				 h->c.done ? "done" : "waiting",
				 h->s.done ? "done" : "waiting");
		}
	}
}

/* Both sides must succeed. */
static void hs_ok(struct tu_ctx *t, struct tstream_tls_params *cp,
		  struct tstream_tls_params *sp, struct hs *h)
{
	hs_run(t, cp, sp, h);
	if (h->c.ret != 0) {
		fail_msg("client handshake: %s (%s)", h->c.msg,
			 strerror(h->c.err));
	}
	if (h->s.ret != 0) {
		fail_msg("server handshake: %s (%s)", h->s.msg,
			 strerror(h->s.err));
	}
}

/* The client must fail with EACCES and a message mentioning what. */
static void hs_client_refuses(struct tu_ctx *t, struct tstream_tls_params *cp,
			      const char *what)
{
	struct hs h;

	hs_run(t, cp, plain_server(t), &h);
	assert_int_equal(h.c.ret, -1);
	assert_err(h.c.err, EACCES);
	assert_null(h.c.tls);
	assert_msg(h.c.msg, what);
	TALLOC_FREE(h.s.tls);
}

/* ------------------------------------------------------------------ */
/* Big transfers                                                      */
/* ------------------------------------------------------------------ */

static void fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)(x >> 32);
	}
}

static uint64_t fnv1a(const uint8_t *buf, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= buf[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct xfer_group {
	int running;		/* writers and readers not finished */
	bool done;		/* all finished, or one failed */
	int err;
	const char *what;
};

struct xfer {
	struct tu_ctx *t;
	struct xfer_group *g;
	struct tstream_context *tx, *rx;
	uint8_t *src, *dst;
	size_t len, sent, rcvd;
	size_t wlen, rlen;	/* sizes of the pending write and read */
	unsigned wi, ri, reads;
	bool some;		/* read with read_some, not readv */
	struct iovec wiov[3], riov[3];
};

/* Odd sizes, so records and reads never line up. */
static const size_t xfer_wsizes[] = {
	1, 4099, 65537, 300007, 1048573, 17, 131071, 524287
};
static const size_t xfer_rsizes[] = {
	1, 3, 4093, 16411, 65537, 7, 250001, 1000003
};
#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

static void xfer_finish(struct xfer *x)
{
	if (--x->g->running == 0) {
		x->g->done = true;
	}
}

static void xfer_fail(struct xfer *x, int err, const char *what)
{
	if (x->g->err == 0) {
		x->g->err = err != 0 ? err : EIO;
		x->g->what = what;
	}
	x->g->done = true;
}

/* n bytes at p as 1, n/2 and the rest (one buffer when n < 3). */
static size_t split3(struct iovec *iov, uint8_t *p, size_t n)
{
	if (n < 3) {
		iov[0].iov_base = p;
		iov[0].iov_len = n;
		return 1;
	}
	iov[0].iov_base = p;
	iov[0].iov_len = 1;
	iov[1].iov_base = p + 1;
	iov[1].iov_len = n / 2;
	iov[2].iov_base = p + 1 + n / 2;
	iov[2].iov_len = n - 1 - n / 2;
	return 3;
}

static void xfer_written(struct tevent_req *req);
static void xfer_read_done(struct tevent_req *req);

static void xfer_write_next(struct xfer *x)
{
	struct tevent_req *req;
	size_t n = xfer_wsizes[x->wi++ % N_ELEM(xfer_wsizes)];
	size_t count;

	if (n > x->len - x->sent) {
		n = x->len - x->sent;
	}
	x->wlen = n;
	count = split3(x->wiov, x->src + x->sent, n);
	req = tstream_writev_send(x, x->t->ev, x->tx, x->wiov, count);
	if (req == NULL) {
		xfer_fail(x, ENOMEM, "writev_send");
		return;
	}
	tevent_req_set_callback(req, xfer_written, x);
}

static void xfer_written(struct tevent_req *req)
{
	struct xfer *x = tevent_req_callback_data(req, struct xfer);
	int err = 0;
	int ret = tstream_writev_recv(req, &err);

	talloc_free(req);
	if (ret != (int)x->wlen) {
		xfer_fail(x, err, "writev");
		return;
	}
	x->sent += x->wlen;
	if (x->sent == x->len) {
		xfer_finish(x);
		return;
	}
	xfer_write_next(x);
}

static void xfer_read_next(struct xfer *x)
{
	struct tevent_req *req;
	size_t n = xfer_rsizes[x->ri++ % N_ELEM(xfer_rsizes)];
	size_t count;

	if (n > x->len - x->rcvd) {
		n = x->len - x->rcvd;
	}
	x->rlen = n;
	if (x->some) {
		req = tstream_read_some_send(x, x->t->ev, x->rx,
					     x->dst + x->rcvd, n);
	} else {
		count = split3(x->riov, x->dst + x->rcvd, n);
		req = tstream_readv_send(x, x->t->ev, x->rx, x->riov, count);
	}
	if (req == NULL) {
		xfer_fail(x, ENOMEM, "read send");
		return;
	}
	tevent_req_set_callback(req, xfer_read_done, x);
}

static void xfer_read_done(struct tevent_req *req)
{
	struct xfer *x = tevent_req_callback_data(req, struct xfer);
	int err = 0;
	ssize_t ret;

	if (x->some) {
		ret = tstream_read_some_recv(req, &err);
	} else {
		ret = tstream_readv_recv(req, &err);
	}
	talloc_free(req);
	if (ret == -1) {
		xfer_fail(x, err, x->some ? "read_some" : "readv");
		return;
	}
	/* readv fills everything; read_some at least 1, at most len */
	if (ret < 1 || (size_t)ret > x->rlen ||
	    (!x->some && (size_t)ret != x->rlen)) {
		xfer_fail(x, EMSGSIZE, "read length");
		return;
	}
	x->rcvd += (size_t)ret;
	x->reads++;
	if (x->rcvd == x->len) {
		xfer_finish(x);
		return;
	}
	xfer_read_next(x);
}

static struct xfer *xfer_new(struct tu_ctx *t, struct xfer_group *g,
			     struct tstream_context *tx,
			     struct tstream_context *rx, bool some,
			     uint64_t seed)
{
	struct xfer *x = talloc_zero(t->mem, struct xfer);

	assert_non_null(x);
	x->t = t;
	x->g = g;
	x->tx = tx;
	x->rx = rx;
	x->some = some;
	x->len = XFER_LEN;
	x->src = talloc_size(x, x->len);
	x->dst = talloc_zero_size(x, x->len);
	assert_non_null(x->src);
	assert_non_null(x->dst);
	fill_random(x->src, x->len, seed);
	return x;
}

/*
 * 4 MiB each way at once: client to server read on the server with
 * server_some ? read_some : readv, the other way round on the client.
 */
static void transfer_both_ways(struct tu_ctx *t, struct tstream_context *c,
			       struct tstream_context *s, bool server_some,
			       bool client_some)
{
	struct xfer_group g = { .running = 4 };
	struct xfer *up = xfer_new(t, &g, c, s, server_some, 0x1234567ULL);
	struct xfer *down = xfer_new(t, &g, s, c, client_some, 0x7654321ULL);

	xfer_read_next(up);
	xfer_read_next(down);
	xfer_write_next(up);
	xfer_write_next(down);
	if (!tu_loop_until(t->ev, &g.done, BIG_TIMEOUT_MS)) {
		fail_msg("transfer stuck: up %zu/%zu read, down %zu/%zu read",
			 up->rcvd, up->len, down->rcvd, down->len);
	}
	if (g.err != 0) {
		fail_msg("transfer failed in %s: %s (up %zu read, down %zu "
			 "read)", g.what, strerror(g.err), up->rcvd,
			 down->rcvd);
	}
	assert_int_equal(up->sent, XFER_LEN);
	assert_int_equal(up->rcvd, XFER_LEN);
	assert_int_equal(down->sent, XFER_LEN);
	assert_int_equal(down->rcvd, XFER_LEN);
	assert_true(fnv1a(up->dst, XFER_LEN) == fnv1a(up->src, XFER_LEN));
	assert_true(fnv1a(down->dst, XFER_LEN) ==
		    fnv1a(down->src, XFER_LEN));
	assert_memory_equal(up->dst, up->src, XFER_LEN);
	assert_memory_equal(down->dst, down->src, XFER_LEN);
	/*
	 * read_some returns what is there without waiting (at most the
	 * records already read ahead), so 4 MiB take many reads
	 */
	if (server_some) {
		assert_true(up->reads > 4);
	}
	if (client_some) {
		assert_true(down->reads > 4);
	}
	talloc_free(up);
	talloc_free(down);
}

/* ------------------------------------------------------------------ */
/* Handshake and data                                                 */
/* ------------------------------------------------------------------ */

/*
 * Rule: with --cafile trust and servername "localhost" the handshake
 * succeeds and data flows both ways: 4 MiB each way at once, read with
 * odd-sized multi-buffer readv on the client and read_some on the server,
 * checksummed; a clean close afterwards is EPIPE for the reader.
 */
/*
 * A GnuTLS server on a thread of its own, blocking, that asks for TLS 1.3
 * key updates (its own and ours: GNUTLS_KU_PEER) every KU_EVERY bytes
 * while it receives XFER_LEN bytes and then sends XFER_LEN bytes.  (Not
 * more often: GnuTLS takes more than 8 key updates a second from a peer
 * for an attack and ends the session.)
 */
#define KU_EVERY (1024 * 1024)

struct ku_server {
	int fd;
	int failed;		/* 0, or the GnuTLS error */
	uint64_t got_hash, sent_hash;
	unsigned updates;
};

static void *ku_server_run(void *arg)
{
	struct ku_server *k = arg;
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_session_t s = NULL;
	uint8_t *buf = malloc(XFER_LEN);
	size_t done, next_ku = KU_EVERY;
	ssize_t n;
	int ret;

	if (buf == NULL) {
		k->failed = GNUTLS_E_MEMORY_ERROR;
		return NULL;
	}
	if ((ret = gnutls_certificate_allocate_credentials(&cred)) < 0 ||
	    (ret = gnutls_certificate_set_x509_key_file(cred,
			pki->server_cert, pki->server_key,
			GNUTLS_X509_FMT_PEM)) < 0 ||
	    (ret = gnutls_init(&s, GNUTLS_SERVER)) < 0 ||
	    (ret = gnutls_priority_set_direct(s,
			"NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL)) < 0 ||
	    (ret = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE,
					  cred)) < 0) {
		goto out;
	}
	gnutls_transport_set_int(s, k->fd);
	do {
		ret = gnutls_handshake(s);
	} while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0) {
		goto out;
	}
	for (done = 0; done < XFER_LEN; done += (size_t)n) {
		n = gnutls_record_recv(s, buf + done, XFER_LEN - done);
		if (n <= 0) {
			ret = n == 0 ? GNUTLS_E_PREMATURE_TERMINATION : (int)n;
			goto out;
		}
		if (done + (size_t)n >= next_ku) {
			next_ku += KU_EVERY;
			if ((ret = gnutls_session_key_update(s,
						GNUTLS_KU_PEER)) < 0) {
				goto out;
			}
			k->updates++;
		}
	}
	k->got_hash = fnv1a(buf, XFER_LEN);
	fill_random(buf, XFER_LEN, 99);
	k->sent_hash = fnv1a(buf, XFER_LEN);
	for (done = 0; done < XFER_LEN; done += (size_t)n) {
		size_t len = XFER_LEN - done < 65536 ? XFER_LEN - done : 65536;

		if (done > 0 && done % KU_EVERY == 0) {
			/* ours alone, then ours and the peer's, in turn */
			if ((ret = gnutls_session_key_update(s,
					(done / KU_EVERY) % 2 ? 0
							: GNUTLS_KU_PEER)) < 0) {
				goto out;
			}
			k->updates++;
		}
		n = gnutls_record_send(s, buf + done, len);
		if (n <= 0) {
			ret = (int)n;
			goto out;
		}
	}
	ret = gnutls_bye(s, GNUTLS_SHUT_WR);
out:
	k->failed = ret < 0 ? ret : 0;
	if (s != NULL) {
		gnutls_deinit(s);
	}
	if (cred != NULL) {
		gnutls_certificate_free_credentials(cred);
	}
	free(buf);
	return NULL;
}

/*
 * Rule: TLS 1.3 key updates in the middle of a transfer, asked for by
 * the peer both for itself and for us, change nothing: 4 MiB each way
 * arrive intact (reads handle the KeyUpdate records and send ours).
 */
static void test_key_updates_mid_transfer(void **state)
{
	struct tu_ctx *t = *state;
	struct ku_server k = { .fd = -1 };
	struct tstream_context *plain = NULL, *tls = NULL;
	struct tevent_req *req;
	struct iovec iov;
	uint8_t *buf = talloc_size(t->mem, XFER_LEN);
	pthread_t th;
	char *error = NULL;
	int sv[2], err = 0;

	assert_non_null(buf);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL,
			       fcntl(sv[0], F_GETFL) | O_NONBLOCK), 0);
	assert_int_equal(tstream_bsd_existing_socket(t->mem, sv[0], &plain),
			 0);
	k.fd = sv[1];
	assert_int_equal(pthread_create(&th, NULL, ku_server_run, &k), 0);

	req = tstream_tls_connect_send(t->mem, t->ev, plain,
				       ca_client(t, "localhost"));
	wait_req_at(t, req, BIG_TIMEOUT_MS, __FILE__, __LINE__);
	assert_int_equal(tstream_tls_handshake_recv(req, &err, t->mem, &tls,
						    &error), 0);
	talloc_free(req);

	fill_random(buf, XFER_LEN, 7);
	iov = (struct iovec){ .iov_base = buf, .iov_len = XFER_LEN };
	req = tstream_writev_send(t->mem, t->ev, tls, &iov, 1);
	wait_req_at(t, req, BIG_TIMEOUT_MS, __FILE__, __LINE__);
	assert_int_equal(tstream_writev_recv(req, &err), XFER_LEN);
	talloc_free(req);
	memset(buf, 0, XFER_LEN);
	req = tstream_readv_send(t->mem, t->ev, tls, &iov, 1);
	wait_req_at(t, req, BIG_TIMEOUT_MS, __FILE__, __LINE__);
	if (tstream_readv_recv(req, &err) != XFER_LEN) {
		shutdown(sv[1], SHUT_RDWR);	/* the peer stops */
		pthread_join(th, NULL);
		fail_msg("read: %s (%s); peer: %s", strerror(err),
			 tstream_error_message(tls) ? tstream_error_message(tls)
						    : "-",
			 gnutls_strerror(k.failed));
	}
	talloc_free(req);

	assert_int_equal(pthread_join(th, NULL), 0);
	close(sv[1]);
	if (k.failed != 0) {
		fail_msg("the GnuTLS peer: %s", gnutls_strerror(k.failed));
	}
	assert_true(k.updates >= 5);
	assert_true(fnv1a(buf, XFER_LEN) == k.sent_hash);
	fill_random(buf, XFER_LEN, 7);
	assert_true(fnv1a(buf, XFER_LEN) == k.got_hash);
	talloc_free(tls);
	talloc_free(buf);
}

static void test_handshake_localhost_transfer(void **state)
{
	struct tu_ctx *t = *state;
	struct hs h;
	uint8_t b;
	int err;

	hs_ok(t, ca_client(t, "localhost"), plain_server(t), &h);
	exchange(t, h.c.tls, h.s.tls, "hello server");
	exchange(t, h.s.tls, h.c.tls, "hello client");
	transfer_both_ways(t, h.c.tls, h.s.tls, true, false);
	assert_int_equal(do_disconnect(t, h.c.tls, &err), 0);
	assert_int_equal(do_readv(t, h.s.tls, &b, 1, &err), -1);
	assert_err(err, EPIPE);
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/*
 * Rule: servername "127.0.0.1" is checked against the IP SAN (no SNI);
 * 4 MiB each way, read_some on the client and readv on the server.
 */
static void test_handshake_ip_transfer(void **state)
{
	struct tu_ctx *t = *state;
	struct hs h;

	hs_ok(t, ca_client(t, "127.0.0.1"), plain_server(t), &h);
	exchange(t, h.s.tls, h.c.tls, "first from the server");
	exchange(t, h.c.tls, h.s.tls, "then the client");
	transfer_both_ways(t, h.c.tls, h.s.tls, false, true);
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/* Rule: servername NULL checks the chain only; no name is required. */
static void test_handshake_no_servername(void **state)
{
	struct tu_ctx *t = *state;
	struct hs h;

	hs_ok(t, ca_client(t, NULL), plain_server(t), &h);
	exchange(t, h.c.tls, h.s.tls, "no name");
	exchange(t, h.s.tls, h.c.tls, "still fine");
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/* ------------------------------------------------------------------ */
/* Verification                                                       */
/* ------------------------------------------------------------------ */

/* Rule: a server certificate of an untrusted CA is EACCES. */
static void test_verify_unknown_ca(void **state)
{
	struct tu_ctx *t = *state;

	hs_client_refuses(t, client_params(t,
		&(struct tstream_tls_client_opts) {
			.cafile = pki->other_ca_cert,
			.servername = "localhost",
		}), "issuer");
}

/*
 * Rule: a failed handshake sends the peer a fatal alert saying why: the
 * server whose certificate the client refused fails with EPROTO and a
 * message naming the alert (not as if the client had just gone).
 */
static void test_verify_refusal_alerts_peer(void **state)
{
	struct tu_ctx *t = *state;
	struct hs h;

	hs_run(t, client_params(t, &(struct tstream_tls_client_opts) {
		.cafile = pki->other_ca_cert,
		.servername = "localhost",
	}), plain_server(t), &h);
	assert_int_equal(h.c.ret, -1);
	assert_err(h.c.err, EACCES);
	assert_int_equal(h.s.ret, -1);
	assert_null(h.s.tls);
	assert_err(h.s.err, EPROTO);
	assert_msg(h.s.msg, "alert");
}

/*
 * Rule: a pin mismatch is found after the TLS handshake is complete on
 * the server's side too; the client's fatal alert then fails the
 * server's first read with EPROTO, and tstream_error_message() names it.
 */
static void test_verify_pin_mismatch_alerts_peer(void **state)
{
	struct tu_ctx *t = *state;
	struct hs h;
	uint8_t b;
	int err;

	hs_run(t, client_params(t, &(struct tstream_tls_client_opts) {
		.pin = pki->ca_pin,
	}), plain_server(t), &h);
	assert_int_equal(h.c.ret, -1);
	assert_err(h.c.err, EACCES);
	if (h.s.ret == -1) {
		assert_err(h.s.err, EPROTO);
		assert_msg(h.s.msg, "alert");
		return;
	}
	assert_int_equal(do_readv(t, h.s.tls, &b, 1, &err), -1);
	assert_err(err, EPROTO);
	assert_msg(tstream_error_message(h.s.tls), "alert");
	TALLOC_FREE(h.s.tls);
}

/* Rule: a certificate for another name is EACCES. */
static void test_verify_wrong_name(void **state)
{
	struct tu_ctx *t = *state;

	hs_client_refuses(t, ca_client(t, "other.example"), "name");
}

/* Rule: a certificate for another IP address is EACCES. */
static void test_verify_wrong_ip(void **state)
{
	struct tu_ctx *t = *state;

	hs_client_refuses(t, ca_client(t, "127.0.0.2"), "name");
}

/* Rule: a pin that does not match the server certificate is EACCES. */
static void test_verify_pin_mismatch(void **state)
{
	struct tu_ctx *t = *state;

	hs_client_refuses(t, client_params(t,
		&(struct tstream_tls_client_opts) {
			.pin = pki->ca_pin,
			.servername = "localhost",
		}), "pin");
}

/*
 * Rule: a matching pin (SHA-256 of the DER) is enough without a CA, in
 * both accepted spellings: "sha256:AB:CD:..." and plain lowercase hex.
 */
static void test_verify_pin_match(void **state)
{
	struct tu_ctx *t = *state;
	const char *pins[] = { pki->pin_colons, pki->pin_plain };
	size_t i;

	for (i = 0; i < N_ELEM(pins); i++) {
		struct hs h;

		hs_ok(t, client_params(t, &(struct tstream_tls_client_opts) {
			.pin = pins[i],
		}), plain_server(t), &h);
		exchange(t, h.c.tls, h.s.tls, "pinned");
		exchange(t, h.s.tls, h.c.tls, "and back");
		TALLOC_FREE(h.c.tls);
		TALLOC_FREE(h.s.tls);
	}
}

/* Rule: pin plus cafile: the CA check applies too (unrelated CA: EACCES). */
static void test_verify_pin_and_wrong_ca(void **state)
{
	struct tu_ctx *t = *state;

	hs_client_refuses(t, client_params(t,
		&(struct tstream_tls_client_opts) {
			.cafile = pki->other_ca_cert,
			.pin = pki->pin_plain,
			.servername = "localhost",
		}), NULL);
}

/* Rule: insecure skips every check (untrusted CA, wrong name, bad pin). */
static void test_verify_insecure(void **state)
{
	struct tu_ctx *t = *state;
	struct hs h;

	hs_ok(t, client_params(t, &(struct tstream_tls_client_opts) {
		.cafile = pki->other_ca_cert,
		.servername = "other.example",
		.pin = pki->ca_pin,
		.insecure = true,
	}), plain_server(t), &h);
	exchange(t, h.c.tls, h.s.tls, "insecure but encrypted");
	exchange(t, h.s.tls, h.c.tls, "ok");
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/* ------------------------------------------------------------------ */
/* Client certificates                                                */
/* ------------------------------------------------------------------ */

static struct tstream_tls_params *strict_server(struct tu_ctx *t)
{
	return server_params(t, &(struct tstream_tls_server_opts) {
		.certfile = pki->server_cert,
		.keyfile = pki->server_key,
		.cafile = pki->ca_cert,
		.require_client_cert = true,
	});
}

/*
 * The client side of a refused client certificate: the server's fatal
 * alert fails its handshake, or (TLS 1.3: the client is done before the
 * server has checked) its first read: EPROTO, and the message names the
 * alert.  Never data or a hang.
 */
static void assert_client_rejected(struct tu_ctx *t, struct hs *h)
{
	uint8_t b;
	int err;

	if (h->c.ret == -1) {
		assert_err(h->c.err, EPROTO);
		assert_msg(h->c.msg, "alert");
		return;
	}
	assert_int_equal(do_readv(t, h->c.tls, &b, 1, &err), -1);
	assert_err(err, EPROTO);
	assert_msg(tstream_error_message(h->c.tls), "alert");
	TALLOC_FREE(h->c.tls);
}

/* Rule: require_client_cert: a client without a certificate is refused. */
static void test_client_cert_missing(void **state)
{
	struct tu_ctx *t = *state;
	struct hs h;

	hs_run(t, ca_client(t, "localhost"), strict_server(t), &h);
	assert_int_equal(h.s.ret, -1);
	assert_null(h.s.tls);
	assert_err2(h.s.err, EACCES, EPROTO);
	assert_msg(h.s.msg, NULL);
	assert_client_rejected(t, &h);
}

/*
 * Rule: require_client_cert: a client whose certificate is of another CA
 * is refused.  (GnuTLS does not even offer it: the server's request names
 * the CAs it trusts, so the server sees no certificate.)
 */
static void test_client_cert_other_ca(void **state)
{
	struct tu_ctx *t = *state;
	struct hs h;

	hs_run(t, client_params(t, &(struct tstream_tls_client_opts) {
		.cafile = pki->ca_cert,
		.servername = "localhost",
		.certfile = pki->rogue_cert,
		.keyfile = pki->rogue_key,
	}), strict_server(t), &h);
	assert_int_equal(h.s.ret, -1);
	assert_null(h.s.tls);
	assert_err2(h.s.err, EACCES, EPROTO);
	assert_msg(h.s.msg, "certificate");
	assert_client_rejected(t, &h);
}

/*
 * Rule: require_client_cert: a client certificate that fails verification
 * (issued in the CA's name, signed with another key) is EACCES on the
 * server, with a message saying why.
 */
static void test_client_cert_forged(void **state)
{
	struct tu_ctx *t = *state;
	struct hs h;

	hs_run(t, client_params(t, &(struct tstream_tls_client_opts) {
		.cafile = pki->ca_cert,
		.servername = "localhost",
		.certfile = pki->forged_cert,
		.keyfile = pki->forged_key,
	}), strict_server(t), &h);
	assert_int_equal(h.s.ret, -1);
	assert_null(h.s.tls);
	assert_err(h.s.err, EACCES);
	assert_msg(h.s.msg, "verification");
	assert_client_rejected(t, &h);
}

/* Rule: require_client_cert: the CA-signed client certificate is let in. */
static void test_client_cert_ok(void **state)
{
	struct tu_ctx *t = *state;
	struct hs h;

	hs_ok(t, client_params(t, &(struct tstream_tls_client_opts) {
		.cafile = pki->ca_cert,
		.servername = "localhost",
		.certfile = pki->client_cert,
		.keyfile = pki->client_key,
	}), strict_server(t), &h);
	exchange(t, h.c.tls, h.s.tls, "it is me");
	exchange(t, h.s.tls, h.c.tls, "welcome");
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/* ------------------------------------------------------------------ */
/* Bad parameters                                                     */
/* ------------------------------------------------------------------ */

/*
 * Client params that must fail: -1, errno set, a message that mentions
 * what (when not NULL), nothing else left on mem_ctx, *params untouched.
 */
static void client_params_fail(const struct tstream_tls_client_opts *o,
			       const char *what)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct tstream_tls_params *p = NULL;
	char *error = NULL;

	assert_non_null(mem);
	errno = 0;
	if (tstream_tls_params_client(mem, o, &p, &error) != -1) {
		talloc_free(mem);
		fail_msg("client params accepted (expected: %s)", what);
	}
	assert_int_not_equal(errno, 0);
	assert_null(p);
	assert_msg(error, what);
	/* the message is all that is left */
	assert_int_equal(talloc_total_blocks(mem), 2);
	talloc_free(mem);
}

static void server_params_fail(const struct tstream_tls_server_opts *o,
			       const char *what)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct tstream_tls_params *p = NULL;
	char *error = NULL;

	assert_non_null(mem);
	errno = 0;
	if (tstream_tls_params_server(mem, o, &p, &error) != -1) {
		talloc_free(mem);
		fail_msg("server params accepted (expected: %s)", what);
	}
	assert_int_not_equal(errno, 0);
	assert_null(p);
	assert_msg(error, what);
	assert_int_equal(talloc_total_blocks(mem), 2);
	talloc_free(mem);
}

/* Rule: unreadable or broken client files give -1 and a message. */
static void test_params_client_bad_files(void **state)
{
	(void)state;
	client_params_fail(&(struct tstream_tls_client_opts) {
		.cafile = pki->missing }, "no-such-file.pem");
	client_params_fail(&(struct tstream_tls_client_opts) {
		.cafile = pki->junk }, "junk.pem");
	client_params_fail(&(struct tstream_tls_client_opts) {
		.cafile = pki->bad_pem }, "bad.pem");
	client_params_fail(&(struct tstream_tls_client_opts) {
		.cafile = pki->ca_cert,
		.certfile = pki->missing,
		.keyfile = pki->client_key }, "no-such-file.pem");
	client_params_fail(&(struct tstream_tls_client_opts) {
		.cafile = pki->ca_cert,
		.certfile = pki->client_cert,
		.keyfile = pki->junk }, "junk.pem");
	/*
	 * (A certificate file of broken base64 in PEM armour would do
	 * too, but GnuTLS 3.7 itself leaks memory on it, which the leak
	 * checker would blame on us: text that is no PEM at all instead.)
	 */
	client_params_fail(&(struct tstream_tls_client_opts) {
		.cafile = pki->ca_cert,
		.certfile = pki->junk,
		.keyfile = pki->client_key }, "junk.pem");
	/* a certificate needs its key, and the right one */
	client_params_fail(&(struct tstream_tls_client_opts) {
		.cafile = pki->ca_cert,
		.certfile = pki->client_cert }, NULL);
	client_params_fail(&(struct tstream_tls_client_opts) {
		.cafile = pki->ca_cert,
		.keyfile = pki->client_key }, NULL);
	client_params_fail(&(struct tstream_tls_client_opts) {
		.cafile = pki->ca_cert,
		.certfile = pki->client_cert,
		.keyfile = pki->server_key }, "client.pem");
}

/* Rule: a malformed pin gives -1 and a message that names it. */
static void test_params_bad_pin(void **state)
{
	char hex63[64], hex65[66], colon_inside[7 + 65], zz[65];
	const char *bad[] = {
		"", "sha256:", "abc", "not a pin", hex63, hex65,
		colon_inside, zz,
		"sha1:00112233445566778899aabbccddeeff00112233",
	};
	size_t i;

	(void)state;
	memcpy(hex63, pki->pin_plain, 63);
	hex63[63] = '\0';
	memcpy(hex65, pki->pin_plain, 64);
	hex65[64] = 'a';
	hex65[65] = '\0';
	memcpy(zz, pki->pin_plain, sizeof(zz));
	zz[0] = 'z';
	zz[1] = 'z';
	/* "sha256:a:bcd...": a colon in the middle of a byte */
	snprintf(colon_inside, sizeof(colon_inside), "sha256:%c:%s",
		 pki->pin_plain[0], pki->pin_plain + 1);
	for (i = 0; i < N_ELEM(bad); i++) {
		client_params_fail(&(struct tstream_tls_client_opts) {
			.cafile = pki->ca_cert,
			.pin = bad[i] }, "pin");
	}
}

/* Rule: broken or missing server files give -1 and a message. */
static void test_params_server_bad_files(void **state)
{
	(void)state;
	server_params_fail(&(struct tstream_tls_server_opts) {
		.keyfile = pki->server_key }, NULL);
	server_params_fail(&(struct tstream_tls_server_opts) {
		.certfile = pki->server_cert }, NULL);
	server_params_fail(&(struct tstream_tls_server_opts) {
		.certfile = pki->missing,
		.keyfile = pki->server_key }, "no-such-file.pem");
	server_params_fail(&(struct tstream_tls_server_opts) {
		.certfile = pki->server_cert,
		.keyfile = pki->junk }, "junk.pem");
	server_params_fail(&(struct tstream_tls_server_opts) {
		.certfile = pki->junk,
		.keyfile = pki->server_key }, "junk.pem");
	/* a key that is not the certificate's */
	server_params_fail(&(struct tstream_tls_server_opts) {
		.certfile = pki->server_cert,
		.keyfile = pki->client_key }, "server.pem");
	server_params_fail(&(struct tstream_tls_server_opts) {
		.certfile = pki->server_cert,
		.keyfile = pki->server_key,
		.cafile = pki->missing,
		.require_client_cert = true }, "no-such-file.pem");
	server_params_fail(&(struct tstream_tls_server_opts) {
		.certfile = pki->server_cert,
		.keyfile = pki->server_key,
		.cafile = pki->junk,
		.require_client_cert = true }, "junk.pem");
}

/*
 * Rule: accept with client params and connect with server params fail
 * with EINVAL (through the request), and leave plain usable.
 */
static void test_params_wrong_side(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_tls_params *cp = ca_client(t, "localhost");
	struct tstream_tls_params *sp = plain_server(t);
	struct tstream_context *a, *b, *tls = NULL;
	struct tevent_req *req;
	char *msg = NULL;
	int err = 0;

	assert_int_equal(tstream_unix_socketpair(t->mem, &a, t->mem, &b), 0);

	req = tstream_tls_accept_send(t->mem, t->ev, a, cp);
	wait_req(t, req);
	assert_int_equal(tstream_tls_handshake_recv(req, &err, t->mem, &tls,
						    &msg), -1);
	assert_err(err, EINVAL);
	assert_null(tls);
	assert_msg(msg, NULL);
	talloc_free(req);

	req = tstream_tls_connect_send(t->mem, t->ev, b, sp);
	wait_req(t, req);
	err = 0;
	assert_int_equal(tstream_tls_handshake_recv(req, &err, t->mem, &tls,
						    NULL), -1);
	assert_err(err, EINVAL);
	assert_null(tls);
	talloc_free(req);

	/* nothing was sent: the plain streams still talk plainly */
	exchange(t, a, b, "plain");
	exchange(t, b, a, "text");
	talloc_free(a);
	talloc_free(b);
}

/* ------------------------------------------------------------------ */
/* ALPN, priority strings and tstream_tls_info                        */
/* ------------------------------------------------------------------ */

static struct tstream_tls_params *alpn_client(struct tu_ctx *t,
					      const char *alpn,
					      const char *priority)
{
	return client_params(t, &(struct tstream_tls_client_opts) {
		.cafile = pki->ca_cert,
		.servername = "localhost",
		.alpn = alpn,
		.priority = priority,
	});
}

static struct tstream_tls_params *alpn_server(struct tu_ctx *t,
					      const char *alpn,
					      const char *priority)
{
	return server_params(t, &(struct tstream_tls_server_opts) {
		.certfile = pki->server_cert,
		.keyfile = pki->server_key,
		.alpn = alpn,
		.priority = priority,
	});
}

/* The info of a TLS stream; the ALPN starts as a marker, to see NULL. */
struct info {
	char *version, *cipher, *alpn;
};

static void get_info(struct tu_ctx *t, struct tstream_context *s,
		     struct info *i)
{
	static char marker[] = "not set";

	i->version = i->cipher = NULL;
	i->alpn = marker;
	if (tstream_tls_info(s, t->mem, &i->version, &i->cipher,
			     &i->alpn) != 0) {
		fail_msg("tstream_tls_info: %s", strerror(errno));
	}
	assert_non_null(i->version);
	assert_non_null(i->cipher);
	assert_true(i->cipher[0] != '\0');
	assert_ptr_not_equal(i->alpn, marker);
}

/*
 * Rule: both sides agree on one protocol both offer, the server's
 * preference first, and both report it.
 */
static void test_alpn_agreed(void **state)
{
	struct tu_ctx *t = *state;
	struct info ci, si;
	struct hs h;

	hs_ok(t, alpn_client(t, "h2,http/1.1", NULL),
	      alpn_server(t, "http/1.1,h2", NULL), &h);
	get_info(t, h.c.tls, &ci);
	get_info(t, h.s.tls, &si);
	assert_non_null(ci.alpn);
	assert_non_null(si.alpn);
	assert_string_equal(ci.alpn, "http/1.1");
	assert_string_equal(si.alpn, "http/1.1");
	/* and the stream works as any other */
	exchange(t, h.c.tls, h.s.tls, "GET / HTTP/1.1");
	exchange(t, h.s.tls, h.c.tls, "HTTP/1.1 200 OK");
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);

	/* one in common among others the server does not take */
	hs_ok(t, alpn_client(t, "spdy/3,h2", NULL),
	      alpn_server(t, "h2", NULL), &h);
	get_info(t, h.c.tls, &ci);
	get_info(t, h.s.tls, &si);
	assert_non_null(ci.alpn);
	assert_string_equal(ci.alpn, "h2");
	assert_string_equal(si.alpn, "h2");
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/*
 * Rule: a client that offers ALPN but nothing the server accepts fails
 * the handshake on both sides (EPROTO), with messages that say ALPN.
 */
static void test_alpn_no_common(void **state)
{
	struct tu_ctx *t = *state;
	struct hs h;

	hs_run(t, alpn_client(t, "h2", NULL),
	       alpn_server(t, "http/1.1,imap", NULL), &h);
	assert_int_equal(h.s.ret, -1);
	assert_err(h.s.err, EPROTO);
	assert_null(h.s.tls);
	assert_msg(h.s.msg, "ALPN");
	assert_msg(h.s.msg, "http/1.1, imap");
	/* told by the server's no_application_protocol alert */
	assert_int_equal(h.c.ret, -1);
	assert_err(h.c.err, EPROTO);
	assert_null(h.c.tls);
	assert_msg(h.c.msg, "ALPN");
	assert_msg(h.c.msg, "application protocol");
}

/*
 * Rule: a server with ALPN serves a client that offers none, and a
 * client with ALPN goes on with a server that does not do it: the
 * negotiated protocol is then NULL.
 */
static void test_alpn_one_side_only(void **state)
{
	struct tu_ctx *t = *state;
	struct info ci, si;
	struct hs h;

	hs_ok(t, ca_client(t, "localhost"), alpn_server(t, "h2", NULL), &h);
	get_info(t, h.c.tls, &ci);
	get_info(t, h.s.tls, &si);
	assert_null(ci.alpn);
	assert_null(si.alpn);
	exchange(t, h.c.tls, h.s.tls, "no alpn");
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);

	hs_ok(t, alpn_client(t, "h2", NULL), plain_server(t), &h);
	get_info(t, h.c.tls, &ci);
	get_info(t, h.s.tls, &si);
	assert_null(ci.alpn);
	assert_null(si.alpn);
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/*
 * Rule: without options a handshake is TLS 1.3 with a TLS 1.3 cipher
 * suite and no ALPN; what is not asked for may be NULL; a stream that is
 * not TLS is EINVAL, a disconnected one ENOTCONN.
 */
static void test_info_defaults(void **state)
{
	struct tu_ctx *t = *state;
	struct info ci, si;
	char *version = NULL;
	struct hs h;
	int err;

	hs_ok(t, ca_client(t, "localhost"), plain_server(t), &h);
	get_info(t, h.c.tls, &ci);
	get_info(t, h.s.tls, &si);
	assert_string_equal(ci.version, "TLSv1.3");
	assert_string_equal(si.version, "TLSv1.3");
	assert_string_equal(ci.cipher, si.cipher);
	assert_true(strncmp(ci.cipher, "TLS_", 4) == 0);
	assert_null(ci.alpn);
	assert_null(si.alpn);

	assert_int_equal(tstream_tls_info(h.c.tls, t->mem, &version, NULL,
					  NULL), 0);
	assert_string_equal(version, "TLSv1.3");
	assert_int_equal(tstream_tls_info(h.s.tls, t->mem, NULL, NULL,
					  NULL), 0);

	errno = 0;
	assert_int_equal(tstream_tls_info(h.c.under, t->mem, &version, NULL,
					  NULL), -1);
	assert_err(errno, EINVAL);
	errno = 0;
	assert_int_equal(tstream_tls_info(NULL, t->mem, &version, NULL,
					  NULL), -1);
	assert_err(errno, EINVAL);

	assert_int_equal(do_disconnect(t, h.c.tls, &err), 0);
	errno = 0;
	assert_int_equal(tstream_tls_info(h.c.tls, t->mem, &version, NULL,
					  NULL), -1);
	assert_err(errno, ENOTCONN);
	assert_string_equal(version, "TLSv1.3");	/* left alone */
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/*
 * Rule: a priority string that leaves out TLS 1.3, on either side (or
 * appended to the default with a leading ':'), makes it TLS 1.2.
 */
static void test_priority_tls12(void **state)
{
	struct tu_ctx *t = *state;
	const char *strings[] = { "NORMAL:-VERS-TLS1.3", ":-VERS-TLS1.3" };
	struct info ci, si;
	struct hs h;
	size_t i;

	for (i = 0; i < N_ELEM(strings); i++) {
		hs_ok(t, alpn_client(t, NULL, strings[i]), plain_server(t),
		      &h);
		get_info(t, h.c.tls, &ci);
		get_info(t, h.s.tls, &si);
		assert_string_equal(ci.version, "TLSv1.2");
		assert_string_equal(si.version, "TLSv1.2");
		assert_string_equal(ci.cipher, si.cipher);
		exchange(t, h.c.tls, h.s.tls, "over TLS 1.2");
		TALLOC_FREE(h.c.tls);
		TALLOC_FREE(h.s.tls);

		hs_ok(t, ca_client(t, "localhost"),
		      alpn_server(t, "h2", strings[i]), &h);
		get_info(t, h.s.tls, &si);
		assert_string_equal(si.version, "TLSv1.2");
		TALLOC_FREE(h.c.tls);
		TALLOC_FREE(h.s.tls);
	}
	/* ALPN works with TLS 1.2 too */
	hs_ok(t, alpn_client(t, "h2", "NORMAL:-VERS-TLS1.3"),
	      alpn_server(t, "h2", NULL), &h);
	get_info(t, h.c.tls, &ci);
	assert_string_equal(ci.version, "TLSv1.2");
	assert_non_null(ci.alpn);
	assert_string_equal(ci.alpn, "h2");
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/* Rule: sides with no protocol version in common fail (EPROTO). */
static void test_priority_no_common_version(void **state)
{
	struct tu_ctx *t = *state;
	struct hs h;

	hs_run(t, alpn_client(t, NULL, "NORMAL:-VERS-TLS1.3"),
	       alpn_server(t, NULL, ":-VERS-TLS1.0:-VERS-TLS1.1:"
			   "-VERS-TLS1.2"), &h);
	assert_int_equal(h.c.ret, -1);
	assert_int_equal(h.s.ret, -1);
	assert_err(h.s.err, EPROTO);
	assert_msg(h.c.msg, NULL);
	assert_msg(h.s.msg, NULL);
}

/*
 * Rule: a priority string GnuTLS does not take gives -1 and a message
 * naming the part it refused, on both sides; so does one that enables
 * no TLS version.
 */
static void test_params_bad_priority(void **state)
{
	(void)state;
	client_params_fail(&(struct tstream_tls_client_opts) {
		.priority = "NORMAL:+BOGUS" }, "'+BOGUS'");
	client_params_fail(&(struct tstream_tls_client_opts) {
		.priority = "NORMAL:-VERS-TLS1.3:+NOPE:-VERS-TLS1.0" },
		"'+NOPE'");
	client_params_fail(&(struct tstream_tls_client_opts) {
		.priority = "NO-SUCH-KEYWORD" }, "'NO-SUCH-KEYWORD'");
	client_params_fail(&(struct tstream_tls_client_opts) {
		.priority = ":-VERS-TLS1.0:%WHATEVER" }, "'%WHATEVER'");
	client_params_fail(&(struct tstream_tls_client_opts) {
		.priority = "" }, "priority");
	client_params_fail(&(struct tstream_tls_client_opts) {
		.priority = "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-TLS1.2:"
			    "-VERS-TLS1.3" }, "no TLS protocol version");
	client_params_fail(&(struct tstream_tls_client_opts) {
		.priority = "NORMAL:-VERS-ALL" }, "NORMAL:-VERS-ALL");
	server_params_fail(&(struct tstream_tls_server_opts) {
		.certfile = pki->server_cert,
		.keyfile = pki->server_key,
		.priority = "NORMAL:+BOGUS" }, "'+BOGUS'");
}

/* Rule: an ALPN list GnuTLS cannot send gives -1 and a message. */
static void test_params_bad_alpn(void **state)
{
	const char *bad[] = {
		"", ",", "h2,", ",h2", "h2,,http/1.1",
		"a,b,c,d,e,f,g,h,i",
		"a-protocol-name-of-32-bytes-long",
	};
	struct tu_ctx *t = *state;
	size_t i;

	for (i = 0; i < N_ELEM(bad); i++) {
		client_params_fail(&(struct tstream_tls_client_opts) {
			.alpn = bad[i] }, "ALPN");
		server_params_fail(&(struct tstream_tls_server_opts) {
			.certfile = pki->server_cert,
			.keyfile = pki->server_key,
			.alpn = bad[i] }, "ALPN");
	}
	/* the most GnuTLS takes is fine */
	talloc_free(client_params(t, &(struct tstream_tls_client_opts) {
		.alpn = "a,b,c,d,e,f,g,a-protocol-name-of-31-bytes-lon",
	}));
}

/* ------------------------------------------------------------------ */
/* End of stream                                                      */
/* ------------------------------------------------------------------ */

struct pending_read {
	struct tevent_req *req;
	struct iovec iov;
	bool done;
};

static void pending_read_start(struct tu_ctx *t, struct pending_read *pr,
			       struct tstream_context *s, void *buf,
			       size_t len)
{
	pr->iov.iov_base = buf;
	pr->iov.iov_len = len;
	pr->done = false;
	pr->req = tstream_readv_send(t->mem, t->ev, s, &pr->iov, 1);
	assert_non_null(pr->req);
	tevent_req_set_callback(pr->req, tu_set_done, &pr->done);
}

static int pending_read_finish(struct tu_ctx *t, struct pending_read *pr,
			       int *err)
{
	int ret;

	if (!tu_loop_until(t->ev, &pr->done, TIMEOUT_MS)) {
		fail_msg("pending readv not complete after %d ms",
			 TIMEOUT_MS);
	}
	*err = 0;
	ret = tstream_readv_recv(pr->req, err);
	TALLOC_FREE(pr->req);
	return ret;
}

/*
 * Rule: after the peer's tstream_disconnect (close_notify), a readv that
 * was pending gets the data sent before it, the next read fails with
 * EPIPE, and so does every later one; the closed side says ENOTCONN.
 */
static void test_eof_close_notify(void **state)
{
	struct tu_ctx *t = *state;
	struct pending_read pr;
	uint8_t buf[32];
	struct hs h;
	int err;

	hs_ok(t, ca_client(t, "localhost"), plain_server(t), &h);
	memset(buf, 0, sizeof(buf));
	pending_read_start(t, &pr, h.c.tls, buf, 11);
	assert_int_equal(do_writev(t, h.s.tls, "hello world", 11, &err), 11);
	assert_int_equal(do_disconnect(t, h.s.tls, &err), 0);
	assert_int_equal(pending_read_finish(t, &pr, &err), 11);
	assert_memory_equal(buf, "hello world", 11);

	assert_int_equal(do_readv(t, h.c.tls, buf, 1, &err), -1);
	assert_err(err, EPIPE);
	assert_int_equal(do_readv(t, h.c.tls, buf, 1, &err), -1);
	assert_err(err, EPIPE);
	assert_int_equal(do_read_some(t, h.c.tls, buf, sizeof(buf), &err),
			 -1);
	assert_err(err, EPIPE);
	/* the peer has gone: writing is EPIPE or ECONNRESET */
	assert_int_equal(do_writev(t, h.c.tls, "x", 1, &err), -1);
	assert_err2(err, EPIPE, ECONNRESET);

	/* the side that disconnected is closed */
	assert_int_equal(do_readv(t, h.s.tls, buf, 1, &err), -1);
	assert_err(err, ENOTCONN);
	assert_int_equal(do_writev(t, h.s.tls, "x", 1, &err), -1);
	assert_err(err, ENOTCONN);
	errno = 0;
	assert_int_equal(tstream_pending_bytes(h.s.tls), -1);
	assert_err(errno, ENOTCONN);
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/*
 * Rule: a readv that the data before close_notify cannot fill fails
 * with EPIPE (it does not hang or return short).
 */
static void test_eof_close_notify_short(void **state)
{
	struct tu_ctx *t = *state;
	struct pending_read pr;
	uint8_t buf[32];
	struct hs h;
	int err;

	hs_ok(t, ca_client(t, "localhost"), plain_server(t), &h);
	pending_read_start(t, &pr, h.c.tls, buf, 20);
	assert_int_equal(do_writev(t, h.s.tls, "only ten..", 10, &err), 10);
	assert_int_equal(do_disconnect(t, h.s.tls, &err), 0);
	assert_int_equal(pending_read_finish(t, &pr, &err), -1);
	assert_err(err, EPIPE);
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/*
 * Rule: the peer's TLS stream freed without close_notify (the socket just
 * closes, as in a truncation attack): a write fails with EPIPE or
 * ECONNRESET, the data sent before still arrives, then the read fails
 * with ECONNABORTED (ECONNRESET if the socket says so), not EPIPE, and
 * tstream_error_message() says there was no close_notify; nothing hangs.
 */
static void test_eof_raw_close(void **state)
{
	struct tu_ctx *t = *state;
	uint8_t buf[8];
	struct hs h;
	int err;

	hs_ok(t, ca_client(t, "localhost"), plain_server(t), &h);
	assert_int_equal(do_writev(t, h.s.tls, "abc", 3, &err), 3);
	TALLOC_FREE(h.s.tls);	/* closes the socket, no close_notify */
	assert_int_equal(do_writev(t, h.c.tls, "x", 1, &err), -1);
	assert_err2(err, EPIPE, ECONNRESET);
	assert_int_equal(do_readv(t, h.c.tls, buf, 3, &err), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(do_readv(t, h.c.tls, buf, 1, &err), -1);
	assert_err2(err, ECONNABORTED, ECONNRESET);
	if (err == ECONNABORTED) {
		assert_msg(tstream_error_message(h.c.tls), "close_notify");
	}
	/* closing a connection whose peer has gone still succeeds */
	assert_int_equal(do_disconnect(t, h.c.tls, &err), 0);
	TALLOC_FREE(h.c.tls);
}

/*
 * Rule: the end is final: once a read has failed because the peer's
 * socket closed without close_notify, every later readv and read_some
 * fails the same way (ECONNABORTED or ECONNRESET), and a writev with
 * EPIPE or ECONNRESET (the peer has gone).
 */
static void test_eof_raw_close_sticky(void **state)
{
	struct tu_ctx *t = *state;
	uint8_t buf[8];
	struct hs h;
	int err;

	hs_ok(t, ca_client(t, "localhost"), plain_server(t), &h);
	TALLOC_FREE(h.s.tls);	/* closes the socket, no close_notify */
	assert_int_equal(do_readv(t, h.c.tls, buf, 1, &err), -1);
	assert_err2(err, ECONNABORTED, ECONNRESET);
	assert_int_equal(do_readv(t, h.c.tls, buf, 1, &err), -1);
	assert_err2(err, ECONNABORTED, ECONNRESET);
	assert_int_equal(do_read_some(t, h.c.tls, buf, 1, &err), -1);
	assert_err2(err, ECONNABORTED, ECONNRESET);
	assert_int_equal(do_writev(t, h.c.tls, "x", 1, &err), -1);
	assert_err2(err, EPIPE, ECONNRESET);
	TALLOC_FREE(h.c.tls);
}

/*
 * Rule: a fatal alert is final too: after the peer's alert failed a read
 * with EPROTO, the next read fails with EPROTO again and
 * tstream_error_message() still names the alert.
 */
static void test_alert_sticky(void **state)
{
	struct tu_ctx *t = *state;
	struct hs h;
	uint8_t b;
	int err;

	/* the client refuses the pin after the server is done */
	hs_run(t, client_params(t, &(struct tstream_tls_client_opts) {
		.pin = pki->ca_pin,
	}), plain_server(t), &h);
	assert_int_equal(h.c.ret, -1);
	assert_int_equal(h.s.ret, 0);
	assert_int_equal(do_readv(t, h.s.tls, &b, 1, &err), -1);
	assert_err(err, EPROTO);
	assert_msg(tstream_error_message(h.s.tls), "alert");
	assert_int_equal(do_readv(t, h.s.tls, &b, 1, &err), -1);
	assert_err(err, EPROTO);
	assert_msg(tstream_error_message(h.s.tls), "alert");
	TALLOC_FREE(h.s.tls);
}

/*
 * Rule: the plain stream under the peer's TLS stream is freed (the raw
 * socket closes, no close_notify) while a readv is pending: the readv
 * fails with ECONNABORTED (or ECONNRESET), it does not hang.
 */
static void test_eof_raw_close_pending(void **state)
{
	struct tu_ctx *t = *state;
	struct pending_read pr;
	uint8_t buf[8];
	struct hs h;
	int err;

	hs_ok(t, ca_client(t, "localhost"), plain_server(t), &h);
	pending_read_start(t, &pr, h.c.tls, buf, 4);
	exchange(t, h.c.tls, h.s.tls, "ping");	/* the loop ran */
	assert_false(pr.done);
	/* only the socket goes; the idle server TLS stream is not used */
	assert_non_null(h.s.under);
	talloc_free(h.s.under);
	assert_int_equal(pending_read_finish(t, &pr, &err), -1);
	assert_err2(err, ECONNABORTED, ECONNRESET);
	TALLOC_FREE(h.s.tls);
	TALLOC_FREE(h.c.tls);
}

/*
 * Rule: half-close.  The client writes and calls tstream_shutdown (a
 * close_notify, then shutdown of the plain stream) while its read of the
 * reply is pending; the server reads the data then EPIPE, writes its
 * reply, and the client still reads it.  A writev after the shutdown is
 * EPIPE; a second shutdown succeeds.
 */
static void test_half_close(void **state)
{
	struct tu_ctx *t = *state;
	struct pending_read reply;
	uint8_t rbuf[16], sbuf[16];
	struct hs h;
	int err;

	hs_ok(t, ca_client(t, "localhost"), plain_server(t), &h);
	memset(rbuf, 0, sizeof(rbuf));
	pending_read_start(t, &reply, h.c.tls, rbuf, 5);
	assert_int_equal(do_writev(t, h.c.tls, "request", 7, &err), 7);
	assert_int_equal(do_shutdown(t, h.c.tls, &err), 0);
	assert_int_equal(do_shutdown(t, h.c.tls, &err), 0);
	assert_int_equal(do_writev(t, h.c.tls, "more", 4, &err), -1);
	assert_err(err, EPIPE);

	assert_int_equal(do_readv(t, h.s.tls, sbuf, 7, &err), 7);
	assert_memory_equal(sbuf, "request", 7);
	assert_int_equal(do_readv(t, h.s.tls, sbuf, 1, &err), -1);
	assert_err(err, EPIPE);

	assert_false(reply.done);
	assert_int_equal(do_writev(t, h.s.tls, "reply", 5, &err), 5);
	assert_int_equal(pending_read_finish(t, &reply, &err), 5);
	assert_memory_equal(rbuf, "reply", 5);

	/* a second reply, read after the first one completed */
	assert_int_equal(do_writev(t, h.s.tls, "again", 5, &err), 5);
	assert_int_equal(do_readv(t, h.c.tls, rbuf, 5, &err), 5);
	assert_memory_equal(rbuf, "again", 5);

	/* and the server's end is the client's EPIPE */
	assert_int_equal(do_disconnect(t, h.s.tls, &err), 0);
	assert_int_equal(do_readv(t, h.c.tls, rbuf, 1, &err), -1);
	assert_err(err, EPIPE);
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/* ------------------------------------------------------------------ */
/* One request per direction, cancel by free                          */
/* ------------------------------------------------------------------ */

/*
 * Rule: one read at a time: a second readv, a read_some or a disconnect
 * while a readv is pending fail with EBUSY; the first read still works.
 * One write at a time: a second writev or a shutdown while a writev is
 * pending fail with EBUSY.
 */
static void test_ebusy(void **state)
{
	struct tu_ctx *t = *state;
	struct pending_read pr;
	struct tevent_req *req, *w1;
	struct iovec iov;
	uint8_t buf[16], other[16];
	uint8_t *big;
	bool w1_done = false;
	struct hs h;
	int err;

	hs_ok(t, ca_client(t, "localhost"), plain_server(t), &h);
	pending_read_start(t, &pr, h.c.tls, buf, 10);

	iov.iov_base = other;
	iov.iov_len = sizeof(other);
	req = tstream_readv_send(t->mem, t->ev, h.c.tls, &iov, 1);
	wait_req(t, req);
	assert_int_equal(tstream_readv_recv(req, &err), -1);
	assert_err(err, EBUSY);
	talloc_free(req);

	req = tstream_read_some_send(t->mem, t->ev, h.c.tls, other,
				     sizeof(other));
	wait_req(t, req);
	assert_int_equal(tstream_read_some_recv(req, &err), -1);
	assert_err(err, EBUSY);
	talloc_free(req);

	req = tstream_disconnect_send(t->mem, t->ev, h.c.tls);
	wait_req(t, req);
	assert_int_equal(tstream_disconnect_recv(req, &err), -1);
	assert_err(err, EBUSY);
	talloc_free(req);

	assert_false(pr.done);
	assert_int_equal(do_writev(t, h.s.tls, "0123456789", 10, &err), 10);
	assert_int_equal(pending_read_finish(t, &pr, &err), 10);
	assert_memory_equal(buf, "0123456789", 10);

	/* 8 MiB the client does not read: the writev stays pending */
	big = talloc_zero_size(t->mem, 8 * 1024 * 1024);
	assert_non_null(big);
	iov.iov_base = big;
	iov.iov_len = 8 * 1024 * 1024;
	w1 = tstream_writev_send(t->mem, t->ev, h.s.tls, &iov, 1);
	assert_non_null(w1);
	tevent_req_set_callback(w1, tu_set_done, &w1_done);
	exchange(t, h.c.tls, h.s.tls, "ping");	/* the loop ran */
	assert_false(w1_done);

	req = tstream_writev_send(t->mem, t->ev, h.s.tls, &iov, 1);
	wait_req(t, req);
	assert_int_equal(tstream_writev_recv(req, &err), -1);
	assert_err(err, EBUSY);
	talloc_free(req);

	req = tstream_shutdown_send(t->mem, t->ev, h.s.tls);
	wait_req(t, req);
	assert_int_equal(tstream_shutdown_recv(req, &err), -1);
	assert_err(err, EBUSY);
	talloc_free(req);

	/* the read direction is independent of the pending write */
	exchange(t, h.c.tls, h.s.tls, "pong");

	/* freeing the stream with the write pending: no callback, no crash */
	TALLOC_FREE(h.s.tls);
	assert_false(w1_done);
	talloc_free(w1);
	talloc_free(big);
	TALLOC_FREE(h.c.tls);
}

/*
 * Rule: cancel by free: a pending TLS readv that is freed lets go of the
 * read slot; the next readv gets the data, and the freed one's callback
 * never fires.
 */
static void test_cancel_readv(void **state)
{
	struct tu_ctx *t = *state;
	struct pending_read pr;
	uint8_t buf1[16], buf2[16];
	struct hs h;
	int err;

	hs_ok(t, ca_client(t, "localhost"), plain_server(t), &h);
	memset(buf1, 0, sizeof(buf1));
	pending_read_start(t, &pr, h.c.tls, buf1, 10);
	exchange(t, h.c.tls, h.s.tls, "meanwhile");	/* the loop ran */
	assert_false(pr.done);
	assert_true(tevent_req_is_in_progress(pr.req));
	TALLOC_FREE(pr.req);

	assert_int_equal(do_writev(t, h.s.tls, "0123456789", 10, &err), 10);
	assert_int_equal(do_readv(t, h.c.tls, buf2, 10, &err), 10);
	assert_memory_equal(buf2, "0123456789", 10);
	assert_false(pr.done);
	assert_memory_equal(buf1, "\0\0\0\0\0\0\0\0\0\0", 10);

	/* again, then read_some gets the data; both ways still work */
	pending_read_start(t, &pr, h.c.tls, buf1, 3);
	TALLOC_FREE(pr.req);
	assert_int_equal(do_writev(t, h.s.tls, "xyz", 3, &err), 3);
	assert_int_equal(do_read_some(t, h.c.tls, buf2, sizeof(buf2), &err),
			 3);
	assert_memory_equal(buf2, "xyz", 3);
	exchange(t, h.c.tls, h.s.tls, "after");
	assert_false(pr.done);
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/*
 * Rule: freeing the TLS stream with a readv pending does not crash and
 * the readv's callback never fires; the peer sees the connection gone.
 */
static void test_free_stream_pending_readv(void **state)
{
	struct tu_ctx *t = *state;
	struct pending_read pr;
	uint8_t buf[16];
	struct hs h;
	int err;

	hs_ok(t, ca_client(t, "localhost"), plain_server(t), &h);
	pending_read_start(t, &pr, h.c.tls, buf, 10);
	exchange(t, h.c.tls, h.s.tls, "ping");	/* the loop ran */
	assert_false(pr.done);
	TALLOC_FREE(h.c.tls);

	/* the server's write and read run the loop: no callback fires */
	assert_int_equal(do_writev(t, h.s.tls, "late", 4, &err), -1);
	assert_err2(err, EPIPE, ECONNRESET);
	assert_int_equal(do_readv(t, h.s.tls, buf, 1, &err), -1);
	assert_err2(err, ECONNABORTED, ECONNRESET);
	assert_false(pr.done);
	TALLOC_FREE(pr.req);
	TALLOC_FREE(h.s.tls);
}

/*
 * Rule: a handshake request freed while it runs cancels it and leaves
 * the plain stream to the caller (its read and write slots are free);
 * the peer's handshake then fails cleanly when that stream closes.
 */
static void test_cancel_handshake(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *cplain, *splain, *tls = NULL;
	struct tevent_req *creq, *sreq, *rreq;
	uint8_t buf[64];
	bool sdone = false;
	char *msg = NULL;
	int err;

	assert_int_equal(tstream_unix_socketpair(t->mem, &cplain, t->mem,
						 &splain), 0);
	creq = tstream_tls_connect_send(t->mem, t->ev, cplain,
					ca_client(t, "localhost"));
	assert_non_null(creq);
	sreq = tstream_tls_accept_send(t->mem, t->ev, splain,
				       plain_server(t));
	assert_non_null(sreq);
	tevent_req_set_callback(sreq, tu_set_done, &sdone);
	TALLOC_FREE(creq);

	/* cplain is ours again: a read and a write are not EBUSY */
	rreq = tstream_read_some_send(t->mem, t->ev, cplain, buf,
				      sizeof(buf));
	assert_non_null(rreq);
	assert_int_equal(do_writev(t, cplain, "junk", 4, &err), 4);
	assert_true(tevent_req_is_in_progress(rreq));	/* not EBUSY */
	TALLOC_FREE(rreq);
	TALLOC_FREE(cplain);

	assert_true(tu_loop_until(t->ev, &sdone, TIMEOUT_MS));
	assert_int_equal(tstream_tls_handshake_recv(sreq, &err, t->mem, &tls,
						    &msg), -1);
	assert_int_not_equal(err, 0);
	assert_null(tls);
	assert_msg(msg, NULL);
	talloc_free(sreq);
	talloc_free(splain);
}

/* ------------------------------------------------------------------ */
/* Bad peers                                                          */
/* ------------------------------------------------------------------ */

/*
 * Accept over splain while raw bytes are written to cplain (and then, if
 * eof, the end of the stream: garbage may look like the start of a long
 * record, which a server must wait for).
 */
static void accept_garbage(struct tu_ctx *t, const void *junk, size_t len,
			   bool eof, int *err, char **msg)
{
	struct tstream_context *cplain, *splain, *tls = NULL;
	struct tevent_req *req;
	bool done = false;
	int werr;

	assert_int_equal(tstream_unix_socketpair(t->mem, &cplain, t->mem,
						 &splain), 0);
	req = tstream_tls_accept_send(t->mem, t->ev, splain,
				      plain_server(t));
	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, &done);
	assert_int_equal(do_writev(t, cplain, junk, len, &werr), (int)len);
	if (eof) {
		assert_int_equal(do_shutdown(t, cplain, &werr), 0);
	}
	if (!tu_loop_until(t->ev, &done, TIMEOUT_MS)) {
		fail_msg("accept still waiting after %zu bytes of garbage",
			 len);
	}
	*err = 0;
	*msg = NULL;
	assert_int_equal(tstream_tls_handshake_recv(req, err, t->mem, &tls,
						    msg), -1);
	assert_null(tls);
	talloc_free(req);
	talloc_free(splain);
	talloc_free(cplain);
}

/* Rule: a "client" that speaks HTTP makes the accept fail with EPROTO. */
static void test_garbage_http(void **state)
{
	struct tu_ctx *t = *state;
	static const char http[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
	char *msg;
	int err;

	accept_garbage(t, http, strlen(http), false, &err, &msg);
	assert_err(err, EPROTO);
	assert_msg(msg, NULL);
}

/*
 * Rule: random bytes from a "client" make the accept fail cleanly: EPROTO
 * when they cannot be TLS, EPIPE (or ECONNRESET) when they could be the
 * start of a record that the end of the stream cut short.
 */
static void test_garbage_random(void **state)
{
	struct tu_ctx *t = *state;
	uint64_t seeds[] = { 1, 42, 0xdeadbeef, 20240601, 7, 99 };
	uint8_t junk[4096];
	size_t i;
	char *msg;
	int err;

	for (i = 0; i < N_ELEM(seeds); i++) {
		fill_random(junk, sizeof(junk), seeds[i]);
		accept_garbage(t, junk, sizeof(junk), true, &err, &msg);
		if (err != EPROTO && err != EPIPE && err != ECONNRESET) {
			fail_msg("seed %zu: errno %d (%s)", i, err,
				 strerror(err));
		}
		assert_msg(msg, NULL);
	}
}

/* Rule: a random-bytes "server" makes the connect fail with EPROTO. */
static void test_garbage_server(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *cplain, *splain, *tls = NULL;
	struct tevent_req *req;
	uint8_t junk[4096];
	bool done = false;
	char *msg = NULL;
	int err;

	assert_int_equal(tstream_unix_socketpair(t->mem, &cplain, t->mem,
						 &splain), 0);
	req = tstream_tls_connect_send(t->mem, t->ev, cplain,
				       ca_client(t, "localhost"));
	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, &done);
	fill_random(junk, sizeof(junk), 77);
	junk[0] = 0x16;		/* a handshake record of 256 bytes... */
	junk[1] = 0x03;
	junk[2] = 0x03;
	junk[3] = 0x01;
	junk[4] = 0x00;
	junk[5] = 0x02;		/* ...a ServerHello of 252 junk bytes */
	junk[6] = 0x00;
	junk[7] = 0x00;
	junk[8] = 0xfc;
	assert_int_equal(do_writev(t, splain, junk, sizeof(junk), &err),
			 (int)sizeof(junk));
	assert_true(tu_loop_until(t->ev, &done, TIMEOUT_MS));
	assert_int_equal(tstream_tls_handshake_recv(req, &err, t->mem, &tls,
						    &msg), -1);
	assert_err(err, EPROTO);
	assert_null(tls);
	assert_msg(msg, NULL);
	talloc_free(req);
	talloc_free(splain);
	talloc_free(cplain);
}

/*
 * Rule: a peer that goes away during the handshake fails it with EPIPE
 * or ECONNRESET ("the peer went away"), with a message; both as server
 * (the client closes before saying anything) and as client (the server
 * reads the ClientHello and closes).
 */
static void test_handshake_peer_closes(void **state)
{
	struct tu_ctx *t = *state;
	struct tstream_context *cplain, *splain, *tls = NULL;
	struct tevent_req *req;
	uint8_t buf[4096];
	char *msg = NULL;
	int err;

	/* server side: the client closes without a word */
	assert_int_equal(tstream_unix_socketpair(t->mem, &cplain, t->mem,
						 &splain), 0);
	req = tstream_tls_accept_send(t->mem, t->ev, splain,
				      plain_server(t));
	assert_non_null(req);
	TALLOC_FREE(cplain);
	wait_req(t, req);
	assert_int_equal(tstream_tls_handshake_recv(req, &err, t->mem, &tls,
						    &msg), -1);
	assert_null(tls);
	assert_err2(err, EPIPE, ECONNRESET);
	assert_msg(msg, NULL);
	TALLOC_FREE(req);
	TALLOC_FREE(splain);

	/* client side: the server takes the ClientHello and closes */
	assert_int_equal(tstream_unix_socketpair(t->mem, &cplain, t->mem,
						 &splain), 0);
	req = tstream_tls_connect_send(t->mem, t->ev, cplain,
				       ca_client(t, "localhost"));
	assert_non_null(req);
	assert_true(do_read_some(t, splain, buf, sizeof(buf), &err) > 0);
	TALLOC_FREE(splain);
	wait_req(t, req);
	msg = NULL;
	assert_int_equal(tstream_tls_handshake_recv(req, &err, t->mem, &tls,
						    &msg), -1);
	assert_null(tls);
	assert_err2(err, EPIPE, ECONNRESET);
	assert_msg(msg, NULL);
	TALLOC_FREE(req);
	TALLOC_FREE(cplain);
}

/*
 * Rule: a handshake with a peer that sends nothing is bounded by
 * tevent_req_set_endtime: ETIMEDOUT, with a message; plain is the
 * caller's again afterwards.  Both as client and as server.
 */
static void handshake_timeout(struct tu_ctx *t, bool server)
{
	struct tstream_context *cplain, *splain, *tls = NULL;
	struct tstream_context *mine, *peer;
	struct tevent_req *req;
	struct timespec t0, t1;
	uint8_t buf[8192];
	char *msg = NULL;
	long ms;
	ssize_t n;
	int err;

	assert_int_equal(tstream_unix_socketpair(t->mem, &cplain, t->mem,
						 &splain), 0);
	if (server) {
		mine = splain;
		peer = cplain;
		req = tstream_tls_accept_send(t->mem, t->ev, mine,
					      plain_server(t));
	} else {
		mine = cplain;
		peer = splain;
		req = tstream_tls_connect_send(t->mem, t->ev, mine,
					       ca_client(t, "localhost"));
	}
	assert_non_null(req);
	assert_true(tevent_req_set_endtime(req, t->ev,
				tevent_timeval_current_ofs(0, 200000)));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wait_req(t, req);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_int_equal(tstream_tls_handshake_recv(req, &err, t->mem, &tls,
						    &msg), -1);
	assert_err(err, ETIMEDOUT);
	assert_null(tls);
	assert_msg(msg, NULL);
	assert_in_range(ms, 150, TIMEOUT_MS);
	talloc_free(req);

	/* plain is ours again: a read sees the peer's plain bytes */
	if (!server) {
		/* the peer first drains the ClientHello */
		n = do_read_some(t, peer, buf, sizeof(buf), &err);
		assert_true(n > 0);
	}
	assert_int_equal(do_writev(t, peer, "ok", 2, &err), 2);
	assert_int_equal(do_readv(t, mine, buf, 2, &err), 2);
	assert_memory_equal(buf, "ok", 2);
	talloc_free(cplain);
	talloc_free(splain);
}

static void test_handshake_timeout_client(void **state)
{
	handshake_timeout(*state, false);
}

static void test_handshake_timeout_server(void **state)
{
	handshake_timeout(*state, true);
}

/* ------------------------------------------------------------------ */
/* Odds and ends                                                      */
/* ------------------------------------------------------------------ */

/*
 * Rule (vectors): zero-length buffers inside a vector of non-zero total
 * are valid: in the middle or last, for writev and readv.
 */
static void test_zero_length_iov(void **state)
{
	struct tu_ctx *t = *state;
	uint8_t buf[16];
	struct iovec w[4] = {
		{ .iov_base = discard_const("ab"), .iov_len = 2 },
		{ .iov_base = buf, .iov_len = 0 },
		{ .iov_base = discard_const("cde"), .iov_len = 3 },
		{ .iov_base = buf, .iov_len = 0 },
	};
	struct iovec r[3];
	struct tevent_req *req;
	struct hs h;
	int err;

	hs_ok(t, ca_client(t, "localhost"), plain_server(t), &h);

	req = tstream_writev_send(t->mem, t->ev, h.c.tls, w, 4);
	wait_req(t, req);
	assert_int_equal(tstream_writev_recv(req, &err), 5);
	talloc_free(req);

	/* middle and last */
	memset(buf, 0, sizeof(buf));
	r[0] = (struct iovec) { .iov_base = buf, .iov_len = 2 };
	r[1] = (struct iovec) { .iov_base = buf + 2, .iov_len = 0 };
	r[2] = (struct iovec) { .iov_base = buf + 2, .iov_len = 1 };
	req = tstream_readv_send(t->mem, t->ev, h.s.tls, r, 3);
	wait_req(t, req);
	assert_int_equal(tstream_readv_recv(req, &err), 3);
	talloc_free(req);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(do_readv(t, h.s.tls, buf + 3, 2, &err), 2);
	assert_memory_equal(buf, "abcde", 5);
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/*
 * Rule (vectors): a zero-length first buffer in a vector of non-zero
 * total is valid too (readv, then read_some-sized reads still work).
 */
static void test_zero_length_iov_first(void **state)
{
	struct tu_ctx *t = *state;
	uint8_t buf[16];
	struct iovec r[2] = {
		{ .iov_base = buf, .iov_len = 0 },
		{ .iov_base = buf, .iov_len = 5 },
	};
	struct tevent_req *req;
	struct hs h;
	int err;

	hs_ok(t, ca_client(t, "localhost"), plain_server(t), &h);
	assert_int_equal(do_writev(t, h.c.tls, "fghij", 5, &err), 5);
	memset(buf, 0, sizeof(buf));
	req = tstream_readv_send(t->mem, t->ev, h.s.tls, r, 2);
	wait_req(t, req);
	err = 0;
	if (tstream_readv_recv(req, &err) != 5) {
		fail_msg("readv with a leading empty buffer: %s",
			 strerror(err));
	}
	talloc_free(req);
	assert_memory_equal(buf, "fghij", 5);
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/*
 * Rule (vectors): an empty vector or a total length of 0 is EINVAL, and
 * read_some with len 0 too, on a TLS stream like any other.
 */
static void test_vector_einval(void **state)
{
	struct tu_ctx *t = *state;
	uint8_t buf[4];
	struct iovec v = { .iov_base = buf, .iov_len = 0 };
	struct tevent_req *req;
	struct hs h;
	int err;

	hs_ok(t, ca_client(t, "localhost"), plain_server(t), &h);
	req = tstream_readv_send(t->mem, t->ev, h.c.tls, &v, 1);
	wait_req(t, req);
	assert_int_equal(tstream_readv_recv(req, &err), -1);
	assert_err(err, EINVAL);
	talloc_free(req);
	req = tstream_writev_send(t->mem, t->ev, h.c.tls, &v, 0);
	wait_req(t, req);
	assert_int_equal(tstream_writev_recv(req, &err), -1);
	assert_err(err, EINVAL);
	talloc_free(req);
	req = tstream_read_some_send(t->mem, t->ev, h.c.tls, buf, 0);
	wait_req(t, req);
	assert_int_equal(tstream_read_some_recv(req, &err), -1);
	assert_err(err, EINVAL);
	talloc_free(req);
	exchange(t, h.c.tls, h.s.tls, "still fine");
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/*
 * Rule: tstream_pending_bytes counts decrypted bytes not read yet (never
 * more than were sent), and read_some returns what one record holds.
 */
static void test_pending_bytes(void **state)
{
	struct tu_ctx *t = *state;
	uint8_t msg[100], buf[200];
	struct hs h;
	ssize_t pending;
	int err;

	hs_ok(t, ca_client(t, "localhost"), plain_server(t), &h);
	fill_random(msg, sizeof(msg), 5);
	assert_int_equal(do_writev(t, h.s.tls, msg, sizeof(msg), &err),
			 (int)sizeof(msg));
	assert_int_equal(do_read_some(t, h.c.tls, buf, 1, &err), 1);
	pending = tstream_pending_bytes(h.c.tls);
	assert_in_range(pending, 0, 99);
	assert_int_equal(do_read_some(t, h.c.tls, buf + 1, sizeof(buf) - 1,
				      &err), 99);
	assert_memory_equal(buf, msg, sizeof(msg));
	assert_int_equal(tstream_pending_bytes(h.c.tls), 0);
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/*
 * Rule: a quiet stream does not spin the loop: idle TLS streams, a
 * pending readv with nothing to read, and a half-closed peer with no
 * read installed leave the loop (nearly) without events.
 */
static void test_idle_no_spin(void **state)
{
	struct tu_ctx *t = *state;
	struct pending_read pr;
	uint8_t buf[4];
	struct hs h;
	unsigned n;
	int err;

	hs_ok(t, ca_client(t, "localhost"), plain_server(t), &h);
	n = tu_loop_count_events(t->ev, 100);
	assert_in_range(n, 0, 5);

	pending_read_start(t, &pr, h.c.tls, buf, 4);
	n = tu_loop_count_events(t->ev, 100);
	assert_in_range(n, 0, 5);
	assert_false(pr.done);

	/* the client's end arrives; the server reads nothing */
	assert_int_equal(do_shutdown(t, h.c.tls, &err), 0);
	n = tu_loop_count_events(t->ev, 100);
	assert_in_range(n, 0, 5);

	assert_int_equal(do_writev(t, h.s.tls, "done", 4, &err), 4);
	assert_int_equal(pending_read_finish(t, &pr, &err), 4);
	assert_memory_equal(buf, "done", 4);
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
}

/*
 * Rule: the TLS stream owns its plain stream once the handshake is done,
 * and a failed handshake leaves it to the caller: freeing what we hold
 * closes every descriptor.
 */
static void test_no_fd_leak(void **state)
{
	struct tu_ctx *t = *state;
	int before = tu_count_fds();
	struct hs h;

	assert_true(before > 0);
	hs_ok(t, ca_client(t, "localhost"), plain_server(t), &h);
	exchange(t, h.c.tls, h.s.tls, "x");
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
	assert_int_equal(tu_count_fds(), before);

	hs_run(t, ca_client(t, "other.example"), plain_server(t), &h);
	assert_int_equal(h.c.ret, -1);
	TALLOC_FREE(h.c.tls);
	TALLOC_FREE(h.s.tls);
	TALLOC_FREE(h.s.plain);
	assert_int_equal(tu_count_fds(), before);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup, tu_teardown)
	const struct CMUnitTest tests[] = {
		T(test_handshake_localhost_transfer),
		T(test_key_updates_mid_transfer),
		T(test_handshake_ip_transfer),
		T(test_handshake_no_servername),
		T(test_verify_unknown_ca),
		T(test_verify_refusal_alerts_peer),
		T(test_verify_wrong_name),
		T(test_verify_wrong_ip),
		T(test_verify_pin_mismatch),
		T(test_verify_pin_mismatch_alerts_peer),
		T(test_verify_pin_match),
		T(test_verify_pin_and_wrong_ca),
		T(test_verify_insecure),
		T(test_client_cert_missing),
		T(test_client_cert_other_ca),
		T(test_client_cert_forged),
		T(test_client_cert_ok),
		T(test_params_client_bad_files),
		T(test_params_bad_pin),
		T(test_params_server_bad_files),
		T(test_params_wrong_side),
		T(test_alpn_agreed),
		T(test_alpn_no_common),
		T(test_alpn_one_side_only),
		T(test_info_defaults),
		T(test_priority_tls12),
		T(test_priority_no_common_version),
		T(test_params_bad_priority),
		T(test_params_bad_alpn),
		T(test_eof_close_notify),
		T(test_eof_close_notify_short),
		T(test_eof_raw_close),
		T(test_eof_raw_close_sticky),
		T(test_eof_raw_close_pending),
		T(test_alert_sticky),
		T(test_half_close),
		T(test_ebusy),
		T(test_cancel_readv),
		T(test_free_stream_pending_readv),
		T(test_cancel_handshake),
		T(test_garbage_http),
		T(test_garbage_random),
		T(test_garbage_server),
		T(test_handshake_peer_closes),
		T(test_handshake_timeout_client),
		T(test_handshake_timeout_server),
		T(test_zero_length_iov),
		T(test_zero_length_iov_first),
		T(test_vector_einval),
		T(test_pending_bytes),
		T(test_idle_no_spin),
		T(test_no_fd_leak),
	};
#undef T

	/* TLS_TEST_FILTER=test_half_close runs only the tests it matches */
	if (getenv("TLS_TEST_FILTER") != NULL) {
		cmocka_set_test_filter(getenv("TLS_TEST_FILTER"));
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
