/*
 * layer_proxy.h - reaching a tcp: or tls: endpoint through a chain of
 * proxies (--proxy, via=)
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_LAYER_PROXY_H
#define TSOCK_LAYER_PROXY_H

#include <stdint.h>
#include "proxy_url.h"

struct layer;

/* One hop of a chain: the proxy asked, and what it is asked for. */
struct proxy_hop {
	const struct proxy_url *url;
	const char *target_host;	/* the next proxy, or the endpoint */
	uint16_t target_port;
	int family;			/* for names resolved here */
};

/* The client side of one hop; its state is a struct proxy_hop. */
extern const struct layer layer_proxy;

#endif
