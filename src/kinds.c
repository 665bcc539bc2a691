/*
 * kinds.c - the table of endpoint kinds
 *
 * Adding a kind: write its struct endpoint_kind in a file of its own
 * (kind_NAME.c) and add it here.  --help, the error for an unknown kind,
 * the two-word form ("connect tcp HOST:PORT") and shell completion (via
 * tsock --complete) all read this table.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <string.h>
#include <sys/socket.h>
#include "endpoint.h"

extern const struct endpoint_kind kind_tcp, kind_udp, kind_tls;
extern const struct endpoint_kind kind_unix, kind_unix_dgram;
extern const struct endpoint_kind kind_unix_seqpacket;
extern const struct endpoint_kind kind_stdio;
extern const struct endpoint_kind kind_exec, kind_sh;
extern const struct endpoint_kind kind_fd, kind_systemd;

const struct endpoint_kind *const endpoint_kinds[] = {
	&kind_tcp,
	&kind_udp,
	&kind_tls,
	&kind_unix,
	&kind_unix_dgram,
	&kind_unix_seqpacket,
	&kind_stdio,
	&kind_exec,
	&kind_sh,
	&kind_fd,
	&kind_systemd,
	NULL,
};

const struct endpoint_kind *endpoint_kind_find(const char *name, size_t len,
					       int *family)
{
	const struct endpoint_kind *const *k;
	const struct endpoint_alias *a;

	*family = AF_UNSPEC;
	for (k = endpoint_kinds; *k != NULL; k++) {
		if (strlen((*k)->name) == len &&
		    memcmp((*k)->name, name, len) == 0) {
			return *k;
		}
		for (a = (*k)->aliases; a != NULL && a->name != NULL; a++) {
			if (strlen(a->name) == len &&
			    memcmp(a->name, name, len) == 0) {
				*family = a->family;
				return *k;
			}
		}
	}
	return NULL;
}

bool endpoint_is_type_word(const char *word)
{
	int family;
	const struct endpoint_kind *k = endpoint_kind_find(word, strlen(word),
							   &family);

	return k != NULL && !k->no_address && !k->address_optional;
}

const char *endpoint_kind_list(void)
{
	static char list[512];
	const struct endpoint_kind *const *k;
	const struct endpoint_alias *a;
	size_t n = 0;

	if (list[0] != '\0') {
		return list;
	}
	for (k = endpoint_kinds; *k != NULL; k++) {
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
				      n > 0 ? ", " : "", (*k)->name);
		for (a = (*k)->aliases; a != NULL && a->name != NULL &&
		     n < sizeof(list); a++) {
			n += (size_t)snprintf(list + n, sizeof(list) - n,
					      ", %s", a->name);
		}
		if (n >= sizeof(list)) {
			break;	/* cannot happen with today's table */
		}
	}
	return list;
}

void endpoint_print_help(FILE *out)
{
	const struct endpoint_kind *const *k;

	for (k = endpoint_kinds; *k != NULL; k++) {
		fprintf(out, "  %-22s %s\n", (*k)->syntax, (*k)->help);
	}
}
