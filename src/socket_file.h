/*
 * socket_file.h - the file of a unix socket tsock listens on
 *
 * A listener refuses to replace a file that is not a socket (or is a
 * symbolic link), replaces a stale socket nobody listens on, and removes
 * its own socket file when it goes, but only if the file there is still
 * the one it bound.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_SOCKET_FILE_H
#define TSOCK_SOCKET_FILE_H

#include <talloc.h>

struct socket_file;

/*
 * Make room for a unix socket of type (SOCK_STREAM...) at path: fine if
 * nothing is there, a stale socket is removed, anything else is an
 * error.  The socket_file on mem_ctx (freeing it removes the socket file
 * once socket_file_bound has noted it), or NULL with *error on mem_ctx.
 */
struct socket_file *socket_file_prepare(TALLOC_CTX *mem_ctx, const char *path,
					int type, char **error);

/* Our socket is bound at the path: note its file, to be removed later. */
void socket_file_bound(struct socket_file *sf);

#endif
