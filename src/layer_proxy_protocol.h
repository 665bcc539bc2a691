/*
 * layer_proxy_protocol.h - the PROXY protocol (HAProxy's v1 and v2) as
 * layers: endpoint_prepare adds them where an endpoint's settings ask
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_LAYER_PROXY_PROTOCOL_H
#define TSOCK_LAYER_PROXY_PROTOCOL_H

struct layer;

/*
 * On a connection tsock opens (set.send_proxy 1 or 2): a header with
 * the accepted client's addresses it is opened for, or with none
 * (UNKNOWN, LOCAL) when there is no client or its addresses are unknown.
 */
extern const struct layer layer_send_proxy;

/*
 * On each accepted client (set.accept_proxy): a v1 or v2 header must
 * come first, within the handshake timeout; its addresses become the
 * client's.  A missing, malformed, over-long or truncated one ends that
 * client with a message.
 */
extern const struct layer layer_accept_proxy;

#endif
