/*
 * selfloop.h - keeping a relay from being its own back end
 *
 * A relay whose BACK is its own FRONT connects to itself, accepts that
 * connection as a new client, connects again for it, and so on until no
 * file descriptor is left.  Two guards stop that:
 *
 *  - before connecting, an address that reaches our own FRONT is
 *    skipped (and refused at start when BACK is written as an address);
 *  - after accepting, a client that is the local end of one of our own
 *    connections to BACK (a loop through a NAT rule or a redirect that
 *    the first guard could not see) is refused, and that connection
 *    closed with it.  Each connection is noted when its connect starts,
 *    so the loop is broken at its first turn.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_SELFLOOP_H
#define TSOCK_SELFLOOP_H

#include <stdbool.h>
#include <sys/socket.h>
#include <talloc.h>

struct selfloop;

struct selfloop *selfloop_create(TALLOC_CTX *mem_ctx);

/*
 * FRONT is bound at ss (from getsockname); stream: a stream socket, not
 * a datagram one (a TCP and a UDP port of the same number are not one).
 * dual: an IPv6 "every address" socket that takes IPv4 too.  For a unix socket the file at
 * the bound path is noted, so that other names of it (symlinks, other
 * spellings of the path) are recognised.
 */
void selfloop_set_front(struct selfloop *s, const struct sockaddr_storage *ss,
			socklen_t len, bool stream, bool dual);

/* True if connecting to sa (a stream or not) would reach our own FRONT. */
bool selfloop_is_front(const struct selfloop *s, bool stream,
		       const struct sockaddr *sa, socklen_t len);

/*
 * True if ep, when it is written as an address or a path (not a name:
 * names are looked up only when a client comes), is our own FRONT.
 */
struct endpoint;
bool selfloop_is_front_endpoint(const struct selfloop *s,
				const struct endpoint *ep);

/* True if path names our own FRONT's socket file. */
bool selfloop_is_front_path(const struct selfloop *s, const char *path);

/*
 * Note a connection to BACK, from local (its own address) to remote
 * (the one it asked for), as soon as its connect starts (before the
 * other end can accept it).  The note lives on owner and goes with it;
 * data is what selfloop_find_conn returns.  NULL when out of memory.
 */
struct selfloop_conn *selfloop_note_conn(struct selfloop *s, TALLOC_CTX *owner,
					 const struct sockaddr_storage *local,
					 socklen_t local_len,
					 const struct sockaddr *remote,
					 socklen_t remote_len, void *data);

/*
 * The data of the noted connection that the client accepted on fd, from
 * peer, is the other end of, or NULL.  A local port alone does not say
 * it: the kernel gives one port to several connections to different
 * places, so a client's port may well be one of ours.  It is ours come
 * back when the client's address is our connection's own and what the
 * client connected to is what ours asked for: the address it reached,
 * or the one it asked for before a NAT rule redirected it (the kernel's
 * SO_ORIGINAL_DST).
 */
void *selfloop_find_conn(const struct selfloop *s, int fd,
			 const struct sockaddr_storage *peer, socklen_t len);

#endif
