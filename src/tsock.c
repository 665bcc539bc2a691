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
#include "commands.h"
#include "log.h"

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
"  unix:PATH  unix-dgram:PATH  stdio  -\n"
"  IPv6 addresses in brackets: tcp:[::1]:80.  When listening HOST may be\n"
"  left out (tcp::8080, tcp:8080) and port 0 picks a free port; the real\n"
"  address is printed on stderr as 'listening on ENDPOINT'.\n"
"\nFraming presets for --frame: u8 u16be u16le u32be u32le u64be u64le\n"
"  nbss dcerpc, or offset=N,size=N,be|le,adjust=N,include-header,max=N\n"
"\nExit status: 0 success, 1 network or I/O failure, 2 usage error,\n"
"  128+N after signal N (SIGINT, SIGTERM).\n";

/* Parse a number of seconds (fractions allowed) into milliseconds. */
static bool parse_seconds(const char *s, int *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) ||
	    v < 0 || v > 86400.0 * 365) {
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

static int usage_error(poptContext pc, const char *fmt, const char *arg)
{
	fprintf(stderr, "tsock: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'tsock --help' for more information.\n");
	poptFreeContext(pc);
	return TSOCK_EXIT_USAGE;
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
	OPT_MAX_SESSIONS, OPT_FRAME, OPT_MAX_PDU, OPT_HELP, OPT_USAGE,
	OPT_V4, OPT_V6,
};

int main(int argc, const char **argv)
{
	struct tsock_options opts = {
		.family = AF_UNSPEC,
		.max_conns = TSOCK_MAX_CONNS,
		.max_sessions = TSOCK_MAX_SESSIONS,
		.session_idle_ms = TSOCK_SESSION_IDLE_MS,
		.relay = { .linger_ms = TSOCK_LINGER_MS },
	};
	int keep_open = 0, verbose = 0, hexdump = 0, show_version = 0;
	const char *frame_text = NULL, *max_pdu_text = NULL;
	char *arg = NULL;
	int idle_given = 0;
	struct poptOption options[] = {
		{ "ipv4", '4', POPT_ARG_NONE, NULL, OPT_V4,
		  "use IPv4 only", NULL },
		{ "ipv6", '6', POPT_ARG_NONE, NULL, OPT_V6,
		  "use IPv6 only", NULL },
		{ "keep-open", 'k', POPT_ARG_NONE, &keep_open, 0,
		  "listen: serve one client after another", NULL },
		{ "timeout", 'w', POPT_ARG_STRING, &arg, OPT_TIMEOUT,
		  "give up connecting after SECS", "SECS" },
		{ "idle-timeout", 'i', POPT_ARG_STRING, &arg, OPT_IDLE,
		  "end a relay after SECS without traffic (UDP sessions: "
		  "default 60)", "SECS" },
		{ "linger", 'q', POPT_ARG_STRING, &arg, OPT_LINGER,
		  "after end of stream towards a datagram endpoint, wait "
		  "SECS for replies (default 1)", "SECS" },
		{ "max-conns", 0, POPT_ARG_STRING, &arg, OPT_MAX_CONNS,
		  "relay: at most N clients at once (default 10000)", "N" },
		{ "max-sessions", 0, POPT_ARG_STRING, &arg, OPT_MAX_SESSIONS,
		  "relay: at most N UDP peers at once (default 1000)", "N" },
		{ "frame", 0, POPT_ARG_STRING, &frame_text, OPT_FRAME,
		  "frame the stream side in length-prefixed PDUs", "SPEC" },
		{ "max-pdu", 0, POPT_ARG_STRING, &max_pdu_text, OPT_MAX_PDU,
		  "with --frame: largest PDU accepted (default 16m)",
		  "BYTES" },
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
	const char *command, *a1, *a2, *a3;
	struct endpoint *front = NULL, *back = NULL;
	TALLOC_CTX *mem_ctx;
	poptContext pc;
	char *joined;
	int rc, status;

	/* the library never raises SIGPIPE; this covers everything else */
	signal(SIGPIPE, SIG_IGN);

	pc = poptGetContext("tsock", argc, argv, options, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] COMMAND ENDPOINT...");
	while ((rc = poptGetNextOpt(pc)) > 0) {
		bool ok = true;

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
			idle_given = 1;
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
		case OPT_HELP:
			poptPrintHelp(pc, stdout, 0);
			fputs(commands_help, stdout);
			poptFreeContext(pc);
			return TSOCK_EXIT_OK;
		case OPT_USAGE:
			poptPrintUsage(pc, stdout, 0);
			poptFreeContext(pc);
			return TSOCK_EXIT_OK;
		}
		if (!ok) {
			return usage_error(pc, "invalid value '%s' for option",
					   arg);
		}
	}
	if (rc < -1) {
		fprintf(stderr, "tsock: %s: %s\n",
			poptBadOption(pc, POPT_BADOPTION_NOALIAS),
			poptStrerror(rc));
		fprintf(stderr, "Try 'tsock --help' for more information.\n");
		poptFreeContext(pc);
		return TSOCK_EXIT_USAGE;
	}
	if (show_version) {
		printf("tsock %s\n", PACKAGE_VERSION);
		poptFreeContext(pc);
		return TSOCK_EXIT_OK;
	}
	(void)idle_given;
	log_is_verbose = verbose != 0;
	opts.relay.hexdump = hexdump != 0;
	opts.keep_open = keep_open != 0;
	if (frame_text != NULL) {
		const char *why = NULL;

		if (tframe_spec_parse(frame_text, &opts.frame, &why) == -1) {
			fprintf(stderr, "tsock: --frame '%s': %s\n",
				frame_text, why);
			poptFreeContext(pc);
			return TSOCK_EXIT_USAGE;
		}
		opts.have_frame = true;
	}
	if (max_pdu_text != NULL) {
		struct tframe_spec probe;
		char *spec;
		const char *why = NULL;

		if (!opts.have_frame) {
			return usage_error(pc, "%s", "--max-pdu needs --frame");
		}
		/* reuse the spec parser's size syntax (64k, 16m) */
		spec = talloc_asprintf(NULL, "size=1,max=%s", max_pdu_text);
		if (spec == NULL ||
		    tframe_spec_parse(spec, &probe, &why) == -1) {
			talloc_free(spec);
			return usage_error(pc, "invalid value '%s' for --max-pdu",
					   max_pdu_text);
		}
		talloc_free(spec);
		opts.frame.max_pdu = probe.max_pdu;
		if (tframe_spec_check(&opts.frame, &why) == -1) {
			fprintf(stderr, "tsock: --max-pdu: %s\n", why);
			poptFreeContext(pc);
			return TSOCK_EXIT_USAGE;
		}
	}

	command = poptGetArg(pc);
	a1 = poptGetArg(pc);
	a2 = poptGetArg(pc);
	a3 = poptGetArg(pc);
	if (command == NULL) {
		return usage_error(pc, "%s", "missing command (connect, listen, "
				   "relay or udp-echo)");
	}
	mem_ctx = talloc_new(NULL);
	joined = NULL;
	if (a1 != NULL && a2 != NULL && endpoint_is_type_word(a1) &&
	    (strcmp(command, "connect") == 0 ||
	     strcmp(command, "listen") == 0)) {
		/* "connect tcp 127.0.0.1:445" */
		joined = talloc_asprintf(mem_ctx, "%s:%s", a1, a2);
		a1 = joined;
		a2 = a3;
		a3 = NULL;
	}

	status = TSOCK_EXIT_USAGE;
	if (strcmp(command, "connect") == 0 ||
	    strcmp(command, "listen") == 0) {
		bool listening = command[0] == 'l';

		if (a1 == NULL || a2 != NULL) {
			fprintf(stderr, "tsock: %s takes one ENDPOINT\n",
				command);
		} else if ((front = parse_endpoint(mem_ctx, a1, listening,
						   &opts)) != NULL) {
			if (opts.have_frame && front->kind != EP_UDP &&
			    front->kind != EP_UNIX_DGRAM) {
				/* stdio <-> stream: whole PDUs */
			}
			status = listening ? cmd_listen(&opts, front)
					   : cmd_connect(&opts, front);
		}
	} else if (strcmp(command, "relay") == 0) {
		if (a1 == NULL || a2 == NULL || a3 != NULL) {
			fprintf(stderr, "tsock: relay takes FRONT and BACK\n");
		} else if ((front = parse_endpoint(mem_ctx, a1, true,
						   &opts)) != NULL &&
			   (back = parse_endpoint(mem_ctx, a2, false,
						  &opts)) != NULL) {
			if (opts.have_frame && !endpoint_is_stream(front) &&
			    !endpoint_is_stream(back)) {
				fprintf(stderr, "tsock: --frame needs a stream "
					"endpoint on one side\n");
			} else {
				status = cmd_relay(&opts, front, back);
			}
		}
	} else if (strcmp(command, "udp-echo") == 0) {
		if (a2 != NULL) {
			fprintf(stderr, "tsock: udp-echo takes at most one "
				"ENDPOINT\n");
		} else if ((front = parse_endpoint(mem_ctx,
				a1 != NULL ? a1 : TSOCK_UDP_ECHO_DEFAULT,
				true, &opts)) != NULL) {
			if (front->kind != EP_UDP &&
			    front->kind != EP_UNIX_DGRAM) {
				fprintf(stderr, "tsock: endpoint '%s': udp-echo "
					"needs a udp or unix-dgram endpoint\n",
					front->text);
			} else {
				status = cmd_udp_echo(&opts, front);
			}
		}
	} else {
		fprintf(stderr, "tsock: unknown command '%s' (use connect, "
			"listen, relay or udp-echo)\n", command);
	}
	if (status == TSOCK_EXIT_USAGE) {
		fprintf(stderr, "Try 'tsock --help' for more information.\n");
	}
	talloc_free(mem_ctx);
	poptFreeContext(pc);
	return status;
}
