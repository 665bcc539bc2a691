/*
 * kind_stdio.c - stdio (or -): tsock's own standard input and output
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include "channel.h"
#include "endpoint.h"

struct channel *channel_open_stdio(TALLOC_CTX *mem_ctx, char **error)
{
	struct channel *chan = talloc_zero(mem_ctx, struct channel);

	if (chan == NULL) {
		*error = talloc_strdup(mem_ctx, "out of memory");
		return NULL;
	}
	chan->fd = -1;
	chan->is_stdio = true;
	chan->name = talloc_strdup(chan, "stdio");
	/* fds 0 and 1 belong to the channel from here on */
	if (chan->name == NULL ||
	    tstream_stdio_create(chan, 0, 1, &chan->stream) == -1) {
		*error = talloc_asprintf(mem_ctx, "stdio: %s",
					 strerror(errno));
		talloc_free(chan);
		return NULL;
	}
	return chan;
}

static struct channel *stdio_open(TALLOC_CTX *mem_ctx,
				  const struct endpoint *ep,
				  struct open_args *args, char **error)
{
	return channel_open_stdio(mem_ctx, error);
}

static const struct endpoint_alias stdio_aliases[] = {
	{ "-", 0 }, { NULL, 0 },
};

const struct endpoint_kind kind_stdio = {
	.name = "stdio",
	.aliases = stdio_aliases,
	.carries = CARRIES_BYTES,
	/* relay stdio BACK is connect BACK */
	.roles = KIND_CONNECTS | KIND_LISTENS,
	.no_address = true,
	.is_stdio = true,
	.single_use = true,
	.syntax = "stdio",
	.help = "tsock's standard input and output (also: -)",
	.open = stdio_open,
};
