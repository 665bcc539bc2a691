/*
 * tsock.c - the tsock command line (placeholder until the CLI lands)
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include "tsocket.h"

int main(int argc, const char **argv)
{
	int show_version = 0;
	struct poptOption options[] = {
		{ "version", 'V', POPT_ARG_NONE, &show_version, 0,
		  "print the version and exit", NULL },
		POPT_AUTOHELP
		POPT_TABLEEND
	};
	poptContext pc;
	int rc;

	pc = poptGetContext("tsock", argc, argv, options, 0);
	poptSetOtherOptionHelp(pc, "COMMAND [ARGS...]");
	while ((rc = poptGetNextOpt(pc)) > 0) {
	}
	if (rc < -1) {
		fprintf(stderr, "tsock: %s: %s\n",
			poptBadOption(pc, POPT_BADOPTION_NOALIAS),
			poptStrerror(rc));
		poptFreeContext(pc);
		return 2;
	}
	if (show_version) {
		printf("tsock %s\n", PACKAGE_VERSION);
		poptFreeContext(pc);
		return 0;
	}
	printf("tsock %s (libtsocket): commands are not implemented yet; "
	       "see tsock --help\n", PACKAGE_VERSION);
	poptFreeContext(pc);
	return 0;
}
