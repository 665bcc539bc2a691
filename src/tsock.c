/*
 * tsock.c - command line parsing and dispatch
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <popt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "budget.h"
#include "commands.h"
#include "log.h"
#include "resolve_pool.h"

static const char commands_help[] =
"\nCommands:\n"
"  connect ENDPOINT       relay stdin/stdout to ENDPOINT\n"
"                         (also: connect tcp 127.0.0.1:445)\n"
"  listen ENDPOINT        accept a client on ENDPOINT and relay it to\n"
"                         stdin/stdout (-k: then the next one)\n"
"  relay FRONT BACK       listen on FRONT; relay each client (or UDP peer)\n"
"                         to a new connection to BACK\n"
"  udp-echo [ENDPOINT]    echo datagrams back to their senders\n"
"                         (default " TSOCK_UDP_ECHO_DEFAULT ")\n"
"\nEndpoints:\n"
"  tcp:HOST:PORT  udp:HOST:PORT  (tcp4/tcp6/udp4/udp6 force a family)\n"
"  unix:PATH  unix-dgram:PATH  stdio  -  tls:HOST:PORT (TCP, then TLS)\n"
"  IPv6 addresses in brackets: tcp:[::1]:80.  When listening HOST may be\n"
"  left out (tcp::8080, tcp:8080) and port 0 picks a free port; the real\n"
"  address is printed on stderr as 'listening on ENDPOINT'.\n"
"\nFraming presets for --frame: u8 u16be u16le u32be u32le u64be u64le\n"
"  nbss dcerpc, or offset=N,size=N,be|le,adjust=N,include-header,max=N\n"
"\nExit status: 0 success, 1 network or I/O failure, 2 usage error,\n"
"  128+N after signal N (SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR2,\n"
"  SIGALRM and the others of tsock(1) SIGNALS end tsock cleanly).\n"
"  SIGUSR1 is ignored (reserved for statistics).\n";

/* Parse a number of seconds (fractions allowed) into milliseconds. */
static bool parse_seconds(const char *s, int *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	/* at most what milliseconds in an int hold: about 24.8 days */
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) ||
	    v < 0 || v > 2147483.0) {
		return false;
	}
	*ms = (int)(v * 1000.0 + 0.5);
	if (*ms == 0 && v > 0) {
		*ms = 1;
	}
	return true;
}

static bool parse_count(const char *s, unsigned *n)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' ||
	    v == 0 || v > 1000000000UL) {
		return false;
	}
	*n = (unsigned)v;
	return true;
}

/* A size in bytes with an optional k/m/g suffix (as --max-pdu takes). */
static bool parse_size(const char *s, size_t *size)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (*s < '0' || *s > '9') {
		return false;	/* no sign, no spaces */
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0) {
		return false;
	}
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end != '\0' || v > ((unsigned long long)SIZE_MAX >> shift)) {
		return false;
	}
	*size = (size_t)(v << shift);
	return true;
}

/* Parse an endpoint argument; NULL after printing a usage error. */
static struct endpoint *parse_endpoint(TALLOC_CTX *mem_ctx, const char *text,
				       bool listening,
				       const struct tsock_options *opts)
{
	struct endpoint *ep;
	char *error = NULL;

	ep = endpoint_parse(mem_ctx, text, listening, opts->family, &error);
	if (ep == NULL) {
		fprintf(stderr, "tsock: %s\n", error);
	}
	return ep;
}

enum {
	OPT_TIMEOUT = 1, OPT_IDLE, OPT_LINGER, OPT_MAX_CONNS,
	OPT_MAX_SESSIONS, OPT_POOL, OPT_MAX_RATE, OPT_FRAME, OPT_MAX_PDU,
	OPT_MAX_BUFFER, OPT_HELP, OPT_USAGE,
	OPT_V4, OPT_V6, OPT_CAFILE, OPT_CERT, OPT_KEY, OPT_SERVERNAME,
	OPT_PIN,
};

/* The long name of the option whose popt value is val. */
static const char *option_name(const struct poptOption *options, int val)
{
	for (; options->longName != NULL || options->shortName != 0;
	     options++) {
		if (options->val == val && options->longName != NULL) {
			return options->longName;
		}
	}
	return "?";
}

/* Apply --max-pdu (sizes as in the spec syntax: 64k, 16m); a message. */
static const char *apply_max_pdu(struct tsock_options *opts,
				 const char *text)
{
	struct tframe_spec probe;
	const char *why = NULL;
	char spec[64];

	if ((size_t)snprintf(spec, sizeof(spec), "size=1,max=%s", text) >=
		    sizeof(spec) ||
	    tframe_spec_parse(spec, &probe, &why) == -1) {
		return "--max-pdu needs a positive size (e.g. 65536, 64k, 16m)";
	}
	opts->frame.max_pdu = probe.max_pdu;
	if (tframe_spec_check(&opts->frame, &why) == -1) {
		return why;
	}
	return NULL;
}

/* Run command with its arguments; the exit status. */
static int run_command(TALLOC_CTX *mem_ctx, struct tsock_options *opts,
		       const char *command, const char *a1, const char *a2,
		       const char *a3)
{
	struct endpoint *front, *back;
	bool listening;

	if (a1 != NULL && a2 != NULL && endpoint_is_type_word(a1) &&
	    (strcmp(command, "connect") == 0 ||
	     strcmp(command, "listen") == 0)) {
		/* "connect tcp 127.0.0.1:445" */
		a1 = talloc_asprintf(mem_ctx, "%s:%s", a1, a2);
		a2 = a3;
		a3 = NULL;
	}
	if (strcmp(command, "connect") == 0 ||
	    strcmp(command, "listen") == 0) {
		listening = command[0] == 'l';
		if (a1 == NULL || a2 != NULL) {
			fprintf(stderr, "tsock: %s takes one ENDPOINT\n",
				command);
			return TSOCK_EXIT_USAGE;
		}
		front = parse_endpoint(mem_ctx, a1, listening, opts);
		if (front == NULL) {
			return TSOCK_EXIT_USAGE;
		}
		if (front->kind == EP_STDIO) {
			/* stdio is already the other end */
			fprintf(stderr, "tsock: endpoint '%s': %s needs a "
				"network endpoint\n", a1, command);
			return TSOCK_EXIT_USAGE;
		}
		return listening ? cmd_listen(opts, front)
				 : cmd_connect(opts, front);
	}
	if (strcmp(command, "relay") == 0) {
		if (a1 == NULL || a2 == NULL || a3 != NULL) {
			fprintf(stderr, "tsock: relay takes FRONT and BACK\n");
			return TSOCK_EXIT_USAGE;
		}
		front = parse_endpoint(mem_ctx, a1, true, opts);
		back = front != NULL ? parse_endpoint(mem_ctx, a2, false, opts)
				     : NULL;
		if (back == NULL) {
			return TSOCK_EXIT_USAGE;
		}
		if (back->kind == EP_STDIO && front->kind != EP_STDIO) {
			/* one stdin and stdout cannot serve many clients */
			fprintf(stderr, "tsock: relay: BACK cannot be stdio "
				"(use 'tsock listen %s')\n", a1);
			return TSOCK_EXIT_USAGE;
		}
		if (opts->have_frame && !endpoint_is_stream(front) &&
		    !endpoint_is_stream(back)) {
			fprintf(stderr, "tsock: --frame needs a stream "
				"endpoint on one side\n");
			return TSOCK_EXIT_USAGE;
		}
		return cmd_relay(opts, front, back);
	}
	if (strcmp(command, "udp-echo") == 0) {
		if (a2 != NULL) {
			fprintf(stderr, "tsock: udp-echo takes at most one "
				"ENDPOINT\n");
			return TSOCK_EXIT_USAGE;
		}
		front = parse_endpoint(mem_ctx,
				       a1 != NULL ? a1 : TSOCK_UDP_ECHO_DEFAULT,
				       true, opts);
		if (front == NULL) {
			return TSOCK_EXIT_USAGE;
		}
		if (front->kind != EP_UDP && front->kind != EP_UNIX_DGRAM) {
			fprintf(stderr, "tsock: endpoint '%s': udp-echo needs "
				"a udp or unix-dgram endpoint\n", front->text);
			return TSOCK_EXIT_USAGE;
		}
		return cmd_udp_echo(opts, front);
	}
	fprintf(stderr, "tsock: unknown command '%s' (use connect, listen, "
		"relay or udp-echo)\n", command);
	return TSOCK_EXIT_USAGE;
}

int main(int argc, const char **argv)
{
	struct tsock_options opts = {
		.family = AF_UNSPEC,
		.max_conns = TSOCK_MAX_CONNS,
		.max_sessions = TSOCK_MAX_SESSIONS,
		.pool = TSOCK_POOL,
		.max_rate = -1,
		.session_idle_ms = TSOCK_SESSION_IDLE_MS,
		.relay = { .linger_ms = TSOCK_LINGER_MS },
		.handshake_timeout_ms = TSOCK_HANDSHAKE_MS,
		.max_buffer = BUDGET_DEFAULT,
	};
	int keep_open = 0, verbose = 0, hexdump = 0, show_version = 0;
	int insecure = 0, require_client_cert = 0;
	/* values of string options, kept until the end (see "out") */
	char *strings[OPT_PIN + 1] = { NULL };
	struct poptOption options[] = {
		{ "ipv4", '4', POPT_ARG_NONE, NULL, OPT_V4,
		  "use IPv4 only", NULL },
		{ "ipv6", '6', POPT_ARG_NONE, NULL, OPT_V6,
		  "use IPv6 only", NULL },
		{ "keep-open", 'k', POPT_ARG_NONE, &keep_open, 0,
		  "listen: serve one client after another", NULL },
		{ "timeout", 'w', POPT_ARG_STRING, NULL, OPT_TIMEOUT,
		  "give up connecting after SECS", "SECS" },
		{ "idle-timeout", 'i', POPT_ARG_STRING, NULL, OPT_IDLE,
		  "end a relay after SECS without traffic (UDP sessions: "
		  "default 60)", "SECS" },
		{ "linger", 'q', POPT_ARG_STRING, NULL, OPT_LINGER,
		  "after end of stream towards a datagram endpoint, wait "
		  "SECS for replies (default 1)", "SECS" },
		{ "max-conns", 0, POPT_ARG_STRING, NULL, OPT_MAX_CONNS,
		  "relay: at most N clients at once (default 10000)", "N" },
		{ "max-sessions", 0, POPT_ARG_STRING, NULL, OPT_MAX_SESSIONS,
		  "relay: at most N UDP peers at once (default 1000)", "N" },
		{ "max-rate", 0, POPT_ARG_STRING, NULL, OPT_MAX_RATE,
		  "datagrams a second answered or relayed per peer, 0 for "
		  "no limit (udp-echo: default 10000; relay: none)", "N" },
		{ "pool", 0, POPT_ARG_STRING, NULL, OPT_POOL,
		  "relay --frame from datagrams to a stream: at most N "
		  "back end connections (default 8)", "N" },
		{ "frame", 0, POPT_ARG_STRING, NULL, OPT_FRAME,
		  "frame the stream side in length-prefixed PDUs", "SPEC" },
		{ "max-pdu", 0, POPT_ARG_STRING, NULL, OPT_MAX_PDU,
		  "with --frame: largest PDU accepted (default 16m)",
		  "BYTES" },
		{ "max-buffer", 0, POPT_ARG_STRING, NULL, OPT_MAX_BUFFER,
		  "memory all relays may hold for framing and datagrams "
		  "before new reads wait (default 64m, at least 256k)",
		  "BYTES" },
		{ "cafile", 0, POPT_ARG_STRING, NULL, OPT_CAFILE,
		  "tls: trust these CAs (PEM) instead of the system's",
		  "FILE" },
		{ "cert", 0, POPT_ARG_STRING, NULL, OPT_CERT,
		  "tls: our certificate (PEM): listeners need one", "FILE" },
		{ "key", 0, POPT_ARG_STRING, NULL, OPT_KEY,
		  "tls: the key of --cert (PEM)", "FILE" },
		{ "servername", 0, POPT_ARG_STRING, NULL, OPT_SERVERNAME,
		  "tls: name to send (SNI) and check (default: the host)",
		  "NAME" },
		{ "pin", 0, POPT_ARG_STRING, NULL, OPT_PIN,
		  "tls: accept only this server certificate", "sha256:HEX" },
		{ "insecure", 0, POPT_ARG_NONE, &insecure, 0,
		  "tls: do not verify the server's certificate", NULL },
		{ "require-client-cert", 0, POPT_ARG_NONE, &require_client_cert,
		  0, "tls listener: clients must show a valid certificate",
		  NULL },
		{ "verbose", 'v', POPT_ARG_NONE, &verbose, 0,
		  "report connections and byte counts on stderr", NULL },
		{ "hexdump", 'x', POPT_ARG_NONE, &hexdump, 0,
		  "dump the data (each PDU when framing) on stderr", NULL },
		{ "version", 'V', POPT_ARG_NONE, &show_version, 0,
		  "print the version and exit", NULL },
		{ "help", '?', POPT_ARG_NONE, NULL, OPT_HELP,
		  "show this help message", NULL },
		{ "usage", 0, POPT_ARG_NONE, NULL, OPT_USAGE,
		  "show a short usage message", NULL },
		POPT_TABLEEND
	};
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	char *frame_text = NULL, *max_pdu_text = NULL, *arg = NULL;
	const char *command, *a1, *a2, *a3, *why = NULL;
	poptContext pc;
	int rc, status = TSOCK_EXIT_USAGE;

	/* the library never raises SIGPIPE; this covers everything else */
	signal(SIGPIPE, SIG_IGN);

	pc = poptGetContext("tsock", argc, argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] COMMAND ENDPOINT...");
	while ((rc = poptGetNextOpt(pc)) > 0) {
		bool ok = true;

		/* popt hands over a malloc'd copy of each option's value */
		free(arg);
		arg = poptGetOptArg(pc);
		switch (rc) {
		case OPT_V4:
			opts.family = AF_INET;
			break;
		case OPT_V6:
			opts.family = AF_INET6;
			break;
		case OPT_TIMEOUT:
			ok = parse_seconds(arg, &opts.connect_timeout_ms);
			break;
		case OPT_IDLE:
			ok = parse_seconds(arg, &opts.relay.idle_timeout_ms);
			opts.session_idle_ms = opts.relay.idle_timeout_ms;
			break;
		case OPT_LINGER:
			ok = parse_seconds(arg, &opts.relay.linger_ms);
			break;
		case OPT_MAX_CONNS:
			ok = parse_count(arg, &opts.max_conns);
			break;
		case OPT_MAX_SESSIONS:
			ok = parse_count(arg, &opts.max_sessions);
			break;
		case OPT_POOL:
			ok = parse_count(arg, &opts.pool);
			break;
		case OPT_MAX_RATE: {
			unsigned n = 0;

			/* 0 is allowed here: no limit */
			ok = strcmp(arg, "0") == 0 || parse_count(arg, &n);
			opts.max_rate = (int)n;
			break;
		}
		case OPT_FRAME:
			free(frame_text);
			frame_text = arg;
			arg = NULL;
			break;
		case OPT_MAX_PDU:
			free(max_pdu_text);
			max_pdu_text = arg;
			arg = NULL;
			break;
		case OPT_MAX_BUFFER:
			if (!parse_size(arg, &opts.max_buffer) ||
			    opts.max_buffer < BUDGET_MIN) {
				fprintf(stderr, "tsock: --max-buffer '%s': "
					"needs a size of at least 256k "
					"(e.g. 262144, 256k, 64m)\n", arg);
				goto usage;
			}
			break;
		case OPT_CAFILE:
		case OPT_CERT:
		case OPT_KEY:
		case OPT_SERVERNAME:
		case OPT_PIN:
			free(strings[rc]);
			strings[rc] = arg;
			arg = NULL;
			break;
		case OPT_HELP:
			poptPrintHelp(pc, stdout, 0);
			fputs(commands_help, stdout);
			status = TSOCK_EXIT_OK;
			goto out;
		case OPT_USAGE:
			poptPrintUsage(pc, stdout, 0);
			status = TSOCK_EXIT_OK;
			goto out;
		}
		if (!ok) {
			fprintf(stderr, "tsock: --%s: invalid value '%s'\n",
				option_name(options, rc), arg);
			goto usage;
		}
	}
	if (rc < -1) {
		fprintf(stderr, "tsock: %s: %s\n",
			poptBadOption(pc, POPT_BADOPTION_NOALIAS),
			poptStrerror(rc));
		goto usage;
	}
	if (show_version) {
		printf("tsock %s\n", PACKAGE_VERSION);
		status = TSOCK_EXIT_OK;
		goto out;
	}
	log_is_verbose = verbose != 0;
	opts.relay.hexdump = hexdump != 0;
	opts.keep_open = keep_open != 0;
	opts.insecure = insecure != 0;
	opts.require_client_cert = require_client_cert != 0;
	opts.cafile = strings[OPT_CAFILE];
	opts.certfile = strings[OPT_CERT];
	opts.keyfile = strings[OPT_KEY];
	opts.servername = strings[OPT_SERVERNAME];
	opts.pin = strings[OPT_PIN];
	if (opts.connect_timeout_ms > 0) {
		opts.handshake_timeout_ms = opts.connect_timeout_ms;
	}
	if (frame_text != NULL) {
		if (tframe_spec_parse(frame_text, &opts.frame, &why) == -1) {
			fprintf(stderr, "tsock: --frame '%s': %s\n",
				frame_text, why);
			goto usage;
		}
		opts.have_frame = true;
	}
	if (max_pdu_text != NULL && !opts.have_frame) {
		fprintf(stderr, "tsock: --max-pdu needs --frame\n");
		goto usage;
	}
	if (max_pdu_text != NULL &&
	    (why = apply_max_pdu(&opts, max_pdu_text)) != NULL) {
		fprintf(stderr, "tsock: --max-pdu '%s': %s\n", max_pdu_text,
			why);
		goto usage;
	}

	command = poptGetArg(pc);
	a1 = poptGetArg(pc);
	a2 = poptGetArg(pc);
	a3 = poptGetArg(pc);
	if (command == NULL) {
		fprintf(stderr, "tsock: missing command (connect, listen, "
			"relay or udp-echo)\n");
		goto usage;
	}
	if (poptPeekArg(pc) != NULL) {
		fprintf(stderr, "tsock: too many arguments\n");
		goto usage;
	}
	status = run_command(mem_ctx, &opts, command, a1, a2, a3);
	if (status != TSOCK_EXIT_USAGE) {
		goto out;
	}
usage:
	status = TSOCK_EXIT_USAGE;
	fprintf(stderr, "Try 'tsock --help' for more information.\n");
out:
	for (rc = 0; rc <= OPT_PIN; rc++) {
		free(strings[rc]);
	}
	free(arg);
	free(frame_text);
	free(max_pdu_text);
	talloc_free(mem_ctx);
	poptFreeContext(pc);
	resolve_pool_stop();
	return status;
}
