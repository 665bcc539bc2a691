/*
 * commands.c - the table of tsock's commands
 *
 * Each command is in a file of its own (cmd_*.c).
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "log.h"

const struct command commands[] = {
	{ "connect", "connect ENDPOINT", "one ENDPOINT",
	  "relay stdin/stdout to ENDPOINT\n"
	  "(also: connect tcp 127.0.0.1:445)",
	  1, 1, false, true, NULL, cmd_connect },
	{ "listen", "listen ENDPOINT [DATA]",
	  "ENDPOINT and at most one DATA",
	  "accept a client on ENDPOINT and relay it to\n"
	  "stdin/stdout, or to DATA (e.g. exec:PROGRAM)\n"
	  "opened for it (-k: then the next one)",
	  1, 2, true, true, NULL, cmd_listen },
	{ "relay", "relay FRONT BACK", "FRONT and BACK",
	  "listen on FRONT; relay each client (or UDP peer)\n"
	  "to a new connection to BACK",
	  2, 2, true, false, NULL, cmd_relay },
	{ "proxy", "proxy [FRONT]", "at most one FRONT",
	  "a SOCKS5, SOCKS4/4a and HTTP CONNECT proxy on\n"
	  "FRONT (default " TSOCK_PROXY_DEFAULT "); see\n"
	  "--auth, --allow-target, --deny-target",
	  0, 1, true, false, TSOCK_PROXY_DEFAULT, cmd_proxy },
	{ "udp-echo", "udp-echo [ENDPOINT]", "at most one ENDPOINT",
	  "echo datagrams back to their senders\n"
	  "(default " TSOCK_UDP_ECHO_DEFAULT ")",
	  0, 1, true, false, TSOCK_UDP_ECHO_DEFAULT, cmd_udp_echo },
	{ NULL, NULL, NULL, NULL, 0, 0, false, false, NULL, NULL },
};

const struct command *command_find(const char *name)
{
	const struct command *c;

	for (c = commands; c->name != NULL; c++) {
		if (strcmp(c->name, name) == 0) {
			return c;
		}
	}
	return NULL;
}

const char *command_list(void)
{
	static char list[128];
	const struct command *c;
	size_t n = 0;

	if (list[0] != '\0') {
		return list;
	}
	for (c = commands; c->name != NULL && n < sizeof(list); c++) {
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
				      c == commands ? ""
				      : c[1].name == NULL ? " or " : ", ",
				      c->name);
	}
	return list;
}

bool commands_prepare(struct endpoint **eps, int n, int *status)
{
	char *error = NULL;
	int i;

	for (i = 0; i < n; i++) {
		*status = endpoint_prepare(eps[i], &error);
		if (*status != 0) {
			log_error("%s", error);
			return false;
		}
	}
	return true;
}
