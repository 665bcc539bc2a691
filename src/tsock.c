/*
 * tsock.c - command line parsing and dispatch
 *
 * The options are one table (option_table); the commands another
 * (commands.c); the endpoint kinds a third (kinds.c).  --help, errors
 * and shell completion (the hidden --complete) read them, so that none
 * of them lists anything by hand.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <popt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "budget.h"
#include "commands.h"
#include "endpoint_options.h"
#include "layer.h"
#include "log.h"
#include "parse.h"
#include "proxy_url.h"
#include "resolve_pool.h"
#include "target_rules.h"

enum {
	OPT_TIMEOUT = 1, OPT_IDLE, OPT_LINGER, OPT_MAX_CONNS,
	OPT_MAX_SESSIONS, OPT_POOL, OPT_MAX_RATE, OPT_FRAME, OPT_MAX_PDU,
	OPT_MAX_BUFFER, OPT_HELP, OPT_USAGE, OPT_COMPLETE,
	OPT_V4, OPT_V6, OPT_CAFILE, OPT_CERT, OPT_KEY, OPT_SERVERNAME,
	OPT_PIN, OPT_PROXY, OPT_ALLOW_TARGET, OPT_DENY_TARGET, OPT_AUTH,
	OPT_AUTH_FILE, OPT_SEND_PROXY,
	OPT_COUNT
};

/* Where popt puts the flags. */
static int flag_keep_open, flag_verbose, flag_hexdump, flag_version;
static int flag_insecure, flag_require_client_cert, flag_accept_proxy;

static const struct poptOption option_table[] = {
	{ "ipv4", '4', POPT_ARG_NONE, NULL, OPT_V4,
	  "use IPv4 only", NULL },
	{ "ipv6", '6', POPT_ARG_NONE, NULL, OPT_V6,
	  "use IPv6 only", NULL },
	{ "keep-open", 'k', POPT_ARG_NONE, &flag_keep_open, 0,
	  "listen: serve one client after another", NULL },
	{ "timeout", 'w', POPT_ARG_STRING, NULL, OPT_TIMEOUT,
	  "give up connecting after SECS (and a client's TLS handshake; "
	  "endpoints: timeout=)", "SECS" },
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
	{ "insecure", 0, POPT_ARG_NONE, &flag_insecure, 0,
	  "tls: do not verify the server's certificate", NULL },
	{ "require-client-cert", 0, POPT_ARG_NONE, &flag_require_client_cert,
	  0, "tls listener: clients must show a valid certificate",
	  NULL },
	{ "proxy", 0, POPT_ARG_STRING, NULL, OPT_PROXY,
	  "reach tcp: and tls: endpoints through this proxy "
	  "(socks5://, socks5h://, socks4://, socks4a://, http://); "
	  "repeat to chain (endpoints: via=)", "URL" },
	{ "send-proxy", 0, POPT_ARG_STRING, NULL, OPT_SEND_PROXY,
	  "start each connection to tcp:, tls: or unix: endpoints with "
	  "a PROXY protocol header (v1 or v2) carrying the client's "
	  "addresses (endpoints: send-proxy=)", "v1|v2" },
	{ "accept-proxy", 0, POPT_ARG_NONE, &flag_accept_proxy, 0,
	  "each client of a listening tcp:, tls: or unix: endpoint must "
	  "start with a PROXY header (v1 or v2); its addresses are the "
	  "client's (endpoints: accept-proxy)", NULL },
	{ "allow-target", 0, POPT_ARG_STRING, NULL, OPT_ALLOW_TARGET,
	  "proxy: clients may go only where one of these allows "
	  "(repeatable; HOST[:PORT[-PORT]], HOST an address, CIDR, "
	  "name, *.domain or *)", "SPEC" },
	{ "deny-target", 0, POPT_ARG_STRING, NULL, OPT_DENY_TARGET,
	  "proxy: never where this matches (repeatable; wins over "
	  "--allow-target)", "SPEC" },
	{ "auth", 0, POPT_ARG_STRING, NULL, OPT_AUTH,
	  "proxy: clients must give these credentials (repeatable); "
	  "without, only loopback clients are served", "USER:PASS" },
	{ "auth-file", 0, POPT_ARG_STRING, NULL, OPT_AUTH_FILE,
	  "proxy: USER:PASS lines (# comments) as --auth", "FILE" },
	{ "verbose", 'v', POPT_ARG_NONE, &flag_verbose, 0,
	  "report connections and byte counts on stderr", NULL },
	{ "hexdump", 'x', POPT_ARG_NONE, &flag_hexdump, 0,
	  "dump the data (each PDU when framing) on stderr", NULL },
	{ "version", 'V', POPT_ARG_NONE, &flag_version, 0,
	  "print the version (and optional parts built) and exit", NULL },
	{ "help", '?', POPT_ARG_NONE, NULL, OPT_HELP,
	  "show this help message", NULL },
	{ "usage", 0, POPT_ARG_NONE, NULL, OPT_USAGE,
	  "show a short usage message", NULL },
	/* for the bash completion script: see complete() */
	{ "complete", 0, POPT_ARG_STRING | POPT_ARGFLAG_DOC_HIDDEN, NULL,
	  OPT_COMPLETE, "list WHAT for shell completion", "WHAT" },
	POPT_TABLEEND
};

static const char help_tail[] =
"\nEndpoint options, after commas (tls:HOST:443,cafile=ca.pem): each\n"
"  overrides the global option of its name, if any, for that endpoint:\n"
"  timeout= cafile= cert= key= servername= pin= insecure\n"
"  require-client-cert alpn=h2:http/1.1 priority= min-version=1.2 (tls),\n"
"  mode= (a unix listener's socket file), via=URL (a proxy hop; repeat\n"
"  to chain, via=direct for none), send-proxy=v1|v2 accept-proxy (the\n"
"  PROXY protocol).  A comma that belongs to the address is written \\,\n"
"\nFraming presets for --frame: u8 u16be u16le u32be u32le u64be u64le\n"
"  nbss dcerpc, or offset=N,size=N,be|le,adjust=N,include-header,max=N\n"
"\nExit status: 0 success, 1 network or I/O failure, 2 usage error,\n"
"  128+N after signal N (SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR2,\n"
"  SIGALRM and the others of tsock(1) SIGNALS end tsock cleanly).\n"
"  SIGUSR1 is ignored (reserved for statistics).\n";

static void print_help(poptContext pc)
{
	const struct command *c;
	const char *line, *nl;

	poptPrintHelp(pc, stdout, 0);
	fputs("\nCommands:\n", stdout);
	for (c = commands; c->name != NULL; c++) {
		/* the help's lines, the first beside the synopsis */
		for (line = c->help; *line != '\0'; line = nl + (*nl != '\0')) {
			nl = strchr(line, '\n');
			if (nl == NULL) {
				nl = line + strlen(line);
			}
			printf("  %-22s %.*s\n", line == c->help ? c->synopsis
				: "", (int)(nl - line), line);
		}
	}
	fputs("\nEndpoints (KIND:ADDRESS[,OPTION=VALUE]...):\n", stdout);
	endpoint_print_help(stdout);
	fputs("  IPv6 addresses in brackets: tcp:[::1]:80.  When listening "
	      "HOST may be\n  left out (tcp::8080, tcp:8080) and port 0 picks "
	      "a free port; the real\n  address is printed on stderr as "
	      "'listening on ENDPOINT'.\n", stdout);
	fputs(help_tail, stdout);
}

static void print_version(void)
{
	const char *tls = layer_tls_version();

	printf("tsock %s\n", PACKAGE_VERSION);
	printf("TLS: %s\n", tls != NULL ? tls : "not built (no GnuTLS)");
}

/*
 * --complete WHAT: what the bash completion script offers, one per line:
 * commands, kinds (with ':' after those that take an address),
 * endpoint-options and options (with '=' after those that take a value).
 */
static int complete(const char *what)
{
	const struct command *c;
	const struct endpoint_kind *const *k;
	const struct endpoint_alias *a;
	const struct poptOption *o;

	if (strcmp(what, "commands") == 0) {
		for (c = commands; c->name != NULL; c++) {
			printf("%s\n", c->name);
		}
	} else if (strcmp(what, "kinds") == 0) {
		for (k = endpoint_kinds; *k != NULL; k++) {
			const char *colon = (*k)->no_address ? "" : ":";

			if ((*k)->address_optional) {
				printf("%s\n", (*k)->name);
			}
			printf("%s%s\n", (*k)->name, colon);
			for (a = (*k)->aliases; a != NULL && a->name != NULL;
			     a++) {
				printf("%s%s\n", a->name, colon);
			}
		}
	} else if (strcmp(what, "endpoint-options") == 0) {
		endpoint_options_print_names(stdout);
	} else if (strcmp(what, "options") == 0) {
		for (o = option_table; o->longName != NULL || o->shortName;
		     o++) {
			if (o->argInfo & POPT_ARGFLAG_DOC_HIDDEN) {
				continue;
			}
			/* "=": the next word is the option's value */
			const char *eq = (o->argInfo & POPT_ARG_MASK) ==
					 POPT_ARG_NONE ? "" : "=";

			printf("--%s%s\n", o->longName, eq);
			if (o->shortName != 0) {
				printf("-%c%s\n", o->shortName, eq);
			}
		}
	} else {
		fprintf(stderr, "tsock: --complete: expected commands, kinds, "
			"endpoint-options or options\n");
		return TSOCK_EXIT_USAGE;
	}
	return TSOCK_EXIT_OK;
}

/* The long name of the option whose popt value is val. */
static const char *option_name(int val)
{
	const struct poptOption *o;

	for (o = option_table; o->longName != NULL || o->shortName; o++) {
		if (o->val == val && o->longName != NULL) {
			return o->longName;
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

/* The options' values, kept until the end (popt hands over copies). */
struct option_values {
	char *text[OPT_COUNT];
	int connect_timeout_ms;
	const char **proxies;	/* --proxy's, in order (talloc) */
	size_t n_proxies;
	TALLOC_CTX *mem;	/* what the proxy options keep */
	int send_proxy;		/* --send-proxy: 1 or 2, or 0 */
	const char **users;	/* --auth's and --auth-file's */
	size_t n_users;
};

/* Add one USER:PASS for tsock proxy; false after saying why not. */
static bool add_user(struct option_values *vals, const char *text,
		     const char *where)
{
	const char **list;
	const char *colon = strchr(text, ':');

	if (colon == NULL || colon == text || colon[1] == '\0' ||
	    strlen(text) > 511) {
		/* never the text: it may be a password */
		fprintf(stderr, "tsock: %s: expected USER:PASS (neither "
			"empty, 511 bytes at most)\n", where);
		return false;
	}
	list = talloc_realloc(vals->mem, vals->users, const char *,
			      vals->n_users + 2);
	if (list == NULL) {
		return false;
	}
	list[vals->n_users] = talloc_strdup(list, text);
	list[++vals->n_users] = NULL;
	vals->users = list;
	return list[vals->n_users - 1] != NULL;
}

/* --auth-file: a USER:PASS per line, blank lines and # comments. */
static bool read_auth_file(struct option_values *vals, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024], where[64];
	unsigned lineno = 0;
	bool ok = true;

	if (f == NULL) {
		fprintf(stderr, "tsock: --auth-file '%s': %s\n", path,
			strerror(errno));
		return false;
	}
	while (ok && fgets(line, sizeof(line), f) != NULL) {
		size_t len = strcspn(line, "\r\n");

		lineno++;
		line[len] = '\0';
		if (len == 0 || line[0] == '#') {
			continue;
		}
		snprintf(where, sizeof(where), "--auth-file line %u", lineno);
		ok = add_user(vals, line, where);
	}
	memset(line, 0, sizeof(line));
	fclose(f);
	if (ok && vals->n_users == 0) {
		fprintf(stderr, "tsock: --auth-file '%s': no USER:PASS "
			"lines\n", path);
		return false;
	}
	return ok;
}

/* The options of tsock proxy; -1 if not one of them, else success. */
static int take_proxy_option(struct tsock_options *opts,
			     struct option_values *vals, int opt,
			     const char *arg)
{
	const char *why;

	switch (opt) {
	case OPT_ALLOW_TARGET:
	case OPT_DENY_TARGET:
		why = target_rules_add(opts->target_rules,
				       opt == OPT_ALLOW_TARGET, arg);
		if (why != NULL) {
			fprintf(stderr, "tsock: --%s '%s': %s\n",
				option_name(opt), arg, why);
			return 0;
		}
		return 1;
	case OPT_AUTH:
		return add_user(vals, arg, "--auth");
	case OPT_AUTH_FILE:
		return read_auth_file(vals, arg);
	}
	return -1;
}

/* --proxy URL: checked now, kept in order (a chain). */
static bool take_proxy(struct option_values *vals, const char *url)
{
	struct proxy_url *parsed;
	char *error = NULL;
	const char **list;

	parsed = proxy_url_parse(NULL, url, &error);
	if (parsed == NULL) {
		fprintf(stderr, "tsock: --proxy: %s\n", error);
		talloc_free(error);
		return false;
	}
	talloc_free(parsed);
	list = talloc_realloc(NULL, vals->proxies, const char *,
			      vals->n_proxies + 2);
	if (list == NULL) {
		return false;
	}
	list[vals->n_proxies] = talloc_strdup(list, url);
	list[++vals->n_proxies] = NULL;
	vals->proxies = list;
	return list[vals->n_proxies - 1] != NULL;
}

/* Store one option's value; false if it is not valid. */
static bool take_option(struct tsock_options *opts,
			struct option_values *vals, int opt, char *arg)
{
	unsigned n = 0;

	switch (opt) {
	case OPT_V4:
		opts->family = AF_INET;
		return true;
	case OPT_V6:
		opts->family = AF_INET6;
		return true;
	case OPT_TIMEOUT:
		return parse_seconds(arg, &vals->connect_timeout_ms);
	case OPT_IDLE:
		if (!parse_seconds(arg, &opts->relay.idle_timeout_ms)) {
			return false;
		}
		opts->session_idle_ms = opts->relay.idle_timeout_ms;
		return true;
	case OPT_LINGER:
		return parse_seconds(arg, &opts->relay.linger_ms);
	case OPT_MAX_CONNS:
		return parse_count(arg, &opts->max_conns);
	case OPT_MAX_SESSIONS:
		return parse_count(arg, &opts->max_sessions);
	case OPT_POOL:
		return parse_count(arg, &opts->pool);
	case OPT_MAX_RATE:
		/* 0 is allowed here: no limit */
		if (strcmp(arg, "0") != 0 && !parse_count(arg, &n)) {
			return false;
		}
		opts->max_rate = (int)n;
		return true;
	case OPT_MAX_BUFFER:
		return parse_size(arg, &opts->max_buffer) &&
		       opts->max_buffer >= BUDGET_MIN;
	case OPT_SEND_PROXY:
		return parse_proxy_version(arg, &vals->send_proxy);
	}
	return true;
}

/*
 * The settings every endpoint starts from, from the global options:
 * the one place the timeouts are decided.  A listener's TLS handshake
 * gets -w when given, else TSOCK_HANDSHAKE_MS.
 */
static void endpoint_defaults(struct tsock_options *opts,
			      const struct option_values *vals)
{
	struct endpoint_settings *set = &opts->endpoint;

	set->connect_timeout_ms = vals->connect_timeout_ms;
	set->handshake_timeout_ms = vals->connect_timeout_ms > 0
				    ? vals->connect_timeout_ms
				    : TSOCK_HANDSHAKE_MS;
	set->mode = -1;
	set->cafile = vals->text[OPT_CAFILE];
	set->certfile = vals->text[OPT_CERT];
	set->keyfile = vals->text[OPT_KEY];
	set->servername = vals->text[OPT_SERVERNAME];
	set->pin = vals->text[OPT_PIN];
	set->insecure = flag_insecure != 0;
	set->require_client_cert = flag_require_client_cert != 0;
	set->proxies = vals->proxies;
	set->send_proxy = vals->send_proxy;
	set->accept_proxy = flag_accept_proxy != 0;
}

/* --frame and --max-pdu; false after printing why not. */
static bool apply_frame(struct tsock_options *opts,
			const struct option_values *vals)
{
	const char *frame = vals->text[OPT_FRAME];
	const char *max_pdu = vals->text[OPT_MAX_PDU];
	const char *why = NULL;

	if (frame != NULL) {
		if (tframe_spec_parse(frame, &opts->frame, &why) == -1) {
			fprintf(stderr, "tsock: --frame '%s': %s\n", frame,
				why);
			return false;
		}
		opts->have_frame = true;
	}
	if (max_pdu != NULL && !opts->have_frame) {
		fprintf(stderr, "tsock: --max-pdu needs --frame\n");
		return false;
	}
	if (max_pdu != NULL && (why = apply_max_pdu(opts, max_pdu)) != NULL) {
		fprintf(stderr, "tsock: --max-pdu '%s': %s\n", max_pdu, why);
		return false;
	}
	return true;
}

/* False if --proxy was given but no endpoint can use it. */
static bool proxy_has_use(const struct tsock_options *opts,
			  struct endpoint **eps, int n)
{
	int i;

	if (opts->endpoint.proxies == NULL) {
		return true;
	}
	for (i = 0; i < n; i++) {
		if (!eps[i]->listening &&
		    (eps[i]->kind->options & KIND_OPT_PROXY)) {
			return true;
		}
	}
	return false;
}

/* Run the command args[0] with its arguments; the exit status. */
static int run_command(TALLOC_CTX *mem_ctx, const struct tsock_options *opts,
		       const char **args, int nargs)
{
	const struct command *cmd = command_find(args[0]);
	struct endpoint *eps[3];
	const char *words[3];
	char *error = NULL;
	int n = nargs - 1, i;

	if (cmd == NULL) {
		fprintf(stderr, "tsock: unknown command '%s' (use %s)\n",
			args[0], command_list());
		return TSOCK_EXIT_USAGE;
	}
	for (i = 0; i < n; i++) {
		words[i] = args[i + 1];
	}
	if (cmd->two_words && n >= 2 && endpoint_is_type_word(words[0])) {
		/* "connect tcp 127.0.0.1:445" */
		words[0] = talloc_asprintf(mem_ctx, "%s:%s", words[0],
					   words[1]);
		for (i = 1; i + 1 < n; i++) {
			words[i] = words[i + 1];
		}
		n--;
	}
	if (n == 0 && cmd->default_endpoint != NULL) {
		words[n++] = cmd->default_endpoint;
	}
	if (n < cmd->min_args || n > cmd->max_args) {
		fprintf(stderr, "tsock: %s takes %s\n", cmd->name, cmd->takes);
		return TSOCK_EXIT_USAGE;
	}
	for (i = 0; i < n; i++) {
		eps[i] = endpoint_parse(mem_ctx, words[i],
					i == 0 && cmd->first_listens,
					opts->family, &opts->endpoint, &error);
		if (eps[i] == NULL) {
			fprintf(stderr, "tsock: %s\n", error);
			return TSOCK_EXIT_USAGE;
		}
	}
	if (strcmp(cmd->name, "proxy") != 0 &&
	    (opts->proxy_users != NULL ||
	     !target_rules_empty(opts->target_rules))) {
		fprintf(stderr, "tsock: --auth, --auth-file, --allow-target "
			"and --deny-target are for tsock proxy\n");
		return TSOCK_EXIT_USAGE;
	}
	if (strcmp(cmd->name, "proxy") != 0 && !proxy_has_use(opts, eps, n)) {
		fprintf(stderr, "tsock: --proxy: no endpoint here goes through "
			"it (it applies to tcp: and tls: endpoints tsock "
			"connects to)\n");
		return TSOCK_EXIT_USAGE;
	}
	return cmd->run(opts, eps, n);
}

/* Parse more than this many words after the options: too many. */
#define MAX_WORDS 4

/*
 * Read the options into opts and vals.  TSOCK_GO_ON to go on to the
 * command, else the exit status: done (--help, --version, --complete)
 * or a usage error, already reported.
 */
#define TSOCK_GO_ON (-1)

static int read_options(poptContext pc, struct tsock_options *opts,
			struct option_values *vals)
{
	char *arg;
	int rc, status;

	while ((rc = poptGetNextOpt(pc)) > 0) {
		arg = poptGetOptArg(pc);	/* malloc'd, or NULL */
		switch (rc) {
		case OPT_HELP:
			print_help(pc);
			free(arg);
			return TSOCK_EXIT_OK;
		case OPT_USAGE:
			poptPrintUsage(pc, stdout, 0);
			free(arg);
			return TSOCK_EXIT_OK;
		case OPT_COMPLETE:
			status = complete(arg);
			free(arg);
			return status;
		}
		status = take_proxy_option(opts, vals, rc, arg);
		if (status != -1) {
			free(arg);
			if (status == 0) {
				return TSOCK_EXIT_USAGE;
			}
			continue;
		}
		if (rc == OPT_PROXY) {
			bool ok = take_proxy(vals, arg);

			free(arg);
			if (!ok) {
				return TSOCK_EXIT_USAGE;
			}
			continue;
		}
		if (!take_option(opts, vals, rc, arg)) {
			if (rc == OPT_MAX_BUFFER) {
				fprintf(stderr, "tsock: --max-buffer '%s': "
					"needs a size of at least 256k "
					"(e.g. 262144, 256k, 64m)\n", arg);
			} else {
				fprintf(stderr, "tsock: --%s: invalid value "
					"'%s'\n", option_name(rc), arg);
			}
			free(arg);
			return TSOCK_EXIT_USAGE;
		}
		/* the last of each is the one that counts */
		free(vals->text[rc]);
		vals->text[rc] = arg;
	}
	if (rc < -1) {
		fprintf(stderr, "tsock: %s: %s\n",
			poptBadOption(pc, POPT_BADOPTION_NOALIAS),
			poptStrerror(rc));
		return TSOCK_EXIT_USAGE;
	}
	if (flag_version) {
		print_version();
		return TSOCK_EXIT_OK;
	}
	opts->proxy_users = vals->users;
	log_is_verbose = flag_verbose != 0;
	opts->relay.hexdump = flag_hexdump != 0;
	opts->keep_open = flag_keep_open != 0;
	endpoint_defaults(opts, vals);
	return apply_frame(opts, vals) ? TSOCK_GO_ON : TSOCK_EXIT_USAGE;
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
		.max_buffer = BUDGET_DEFAULT,
	};
	struct option_values vals = { .connect_timeout_ms = 0 };
	TALLOC_CTX *mem_ctx = talloc_new(NULL);
	const char *args[MAX_WORDS + 1];
	poptContext pc;
	int i, nargs = 0, status;

	/* the library never raises SIGPIPE; this covers everything else */
	signal(SIGPIPE, SIG_IGN);

	vals.mem = mem_ctx;
	opts.target_rules = target_rules_create(mem_ctx);
	if (opts.target_rules == NULL) {
		return TSOCK_EXIT_FAILURE;
	}
	pc = poptGetContext("tsock", argc, argv, option_table, 0);
	poptSetOtherOptionHelp(pc, "[OPTION...] COMMAND ENDPOINT...");
	status = read_options(pc, &opts, &vals);
	if (status == TSOCK_GO_ON) {
		while (nargs <= MAX_WORDS &&
		       (args[nargs] = poptGetArg(pc)) != NULL) {
			nargs++;
		}
		if (nargs == 0) {
			fprintf(stderr, "tsock: missing command (%s)\n",
				command_list());
			status = TSOCK_EXIT_USAGE;
		} else if (nargs > MAX_WORDS) {
			fprintf(stderr, "tsock: too many arguments\n");
			status = TSOCK_EXIT_USAGE;
		} else {
			status = run_command(mem_ctx, &opts, args, nargs);
		}
	}
	if (status == TSOCK_EXIT_USAGE) {
		fprintf(stderr, "Try 'tsock --help' for more information.\n");
	}
	for (i = 0; i < OPT_COUNT; i++) {
		free(vals.text[i]);
	}
	talloc_free(vals.proxies);
	talloc_free(mem_ctx);
	poptFreeContext(pc);
	resolve_pool_stop();
	return status;
}
