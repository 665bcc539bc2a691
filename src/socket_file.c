/*
 * socket_file.c - the file of a unix socket tsock listens on
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "socket_file.h"

/*
 * A unix socket file we created, removed when this goes away.
 *
 * Everything done to the file goes through its directory, opened once
 * before the first look: if a directory on the way is renamed or swapped
 * for a symlink meanwhile, the checks and the unlink still happen in the
 * directory that was looked at, so only the very file that was checked
 * (a socket, not a symlink) can go.  O_PATH needs no read permission on
 * the directory, and serves fstatat and unlinkat.
 */
struct socket_file {
	int dirfd;
	char *name;		/* the file's name in dirfd */
	char *path;		/* as the user gave it, for bind and messages */
	bool bound;		/* dev and ino are those of our socket */
	dev_t dev;
	ino_t ino;
};

static int socket_file_destructor(struct socket_file *sf)
{
	struct stat st;

	/* only if it is still ours: someone may have replaced it */
	if (sf->bound &&
	    fstatat(sf->dirfd, sf->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISSOCK(st.st_mode) && st.st_dev == sf->dev &&
	    st.st_ino == sf->ino) {
		unlinkat(sf->dirfd, sf->name, 0);
	}
	close(sf->dirfd);
	return 0;
}

/*
 * The address to connect to the file at: through /proc/self/fd, so that
 * it is the file in the directory we hold, if /proc has our directory
 * there and the name fits; else its path.
 */
static void socket_file_sockaddr(const struct socket_file *sf,
				 struct sockaddr_un *un)
{
	struct stat dir, via_proc;
	char proc[64];
	int n;

	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", sf->dirfd);
	n = snprintf(un->sun_path, sizeof(un->sun_path), "%s/%s", proc,
		     sf->name);
	if (n > 0 && (size_t)n < sizeof(un->sun_path) &&
	    fstat(sf->dirfd, &dir) == 0 && stat(proc, &via_proc) == 0 &&
	    dir.st_dev == via_proc.st_dev && dir.st_ino == via_proc.st_ino) {
		return;
	}
	memset(un->sun_path, 0, sizeof(un->sun_path));
	strncpy(un->sun_path, sf->path, sizeof(un->sun_path) - 1);
}

/*
 * Whether someone serves the socket file: a connect that does not wait.
 * A live listener whose backlog is full answers EAGAIN at once where a
 * blocking connect would wait for it to accept (maybe forever).  NULL if
 * nobody does (ECONNREFUSED: a stale file), else why not to replace it.
 */
static const char *socket_file_probe(const struct socket_file *sf, int type)
{
	struct sockaddr_un un;
	int fd, rc, err;

	socket_file_sockaddr(sf, &un);
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		return strerror(errno);
	}
	rc = connect(fd, (struct sockaddr *)&un, sizeof(un));
	err = errno;
	close(fd);
	if (rc == 0 || err == EAGAIN || err == EINPROGRESS ||
	    err == EPROTOTYPE) {
		/* accepted, queued, backlog full, or a live other type */
		return "address in use: another process listens there";
	}
	if (err == ECONNREFUSED || err == ENOENT) {
		return NULL;	/* stale, or gone already */
	}
	return strerror(err);
}

/*
 * socket_file_prepare, with the reason as a string (static or on
 * mem_ctx) or NULL: on success *psf holds the directory for
 * socket_file_bound.
 */
static const char *socket_file_check(TALLOC_CTX *mem_ctx, const char *path,
				     int type, struct socket_file **psf)
{
	struct socket_file *sf;
	const char *slash = strrchr(path, '/');
	const char *err;
	char *dir;
	struct stat st, again;

	sf = talloc_zero(mem_ctx, struct socket_file);
	if (sf == NULL) {
		return "out of memory";
	}
	sf->dirfd = -1;
	sf->path = talloc_strdup(sf, path);
	sf->name = talloc_strdup(sf, slash != NULL ? slash + 1 : path);
	dir = slash == NULL ? talloc_strdup(sf, ".")
	      : slash == path ? talloc_strdup(sf, "/")
	      : talloc_strndup(sf, path, slash - path);
	if (sf->path == NULL || sf->name == NULL || dir == NULL) {
		talloc_free(sf);
		return "out of memory";
	}
	if (sf->name[0] == '\0') {
		talloc_free(sf);
		return "names a directory, not a socket file";
	}
	sf->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sf->dirfd == -1) {
		err = strerror(errno);
		talloc_free(sf);
		return err;
	}
	talloc_set_destructor(sf, socket_file_destructor);

	if (fstatat(sf->dirfd, sf->name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT) {
			*psf = sf;
			return NULL;
		}
		err = strerror(errno);
		talloc_free(sf);
		return err;
	}
	if (S_ISLNK(st.st_mode)) {
		/* even to a socket: whose it is, is anybody's guess */
		talloc_free(sf);
		return "file exists and is a symbolic link, not a socket "
		       "(refusing to follow or replace it)";
	}
	if (!S_ISSOCK(st.st_mode)) {
		talloc_free(sf);
		return "file exists and is not a socket (refusing to "
		       "replace it)";
	}
	err = socket_file_probe(sf, type);
	if (err != NULL) {
		talloc_free(sf);
		return err;
	}
	/* the file probed must still be the one to go */
	if (fstatat(sf->dirfd, sf->name, &again, AT_SYMLINK_NOFOLLOW) == 0 &&
	    again.st_dev == st.st_dev && again.st_ino == st.st_ino &&
	    unlinkat(sf->dirfd, sf->name, 0) == -1 && errno != ENOENT) {
		err = strerror(errno);
		talloc_free(sf);
		return err;
	}
	*psf = sf;
	return NULL;
}

/*
 * Our socket is bound: note its file, to be removed when sf goes.  Found
 * through the directory held since the checks, like everything else.
 */
void socket_file_bound(struct socket_file *sf)
{
	struct stat st;

	if (fstatat(sf->dirfd, sf->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISSOCK(st.st_mode)) {
		sf->dev = st.st_dev;
		sf->ino = st.st_ino;
		sf->bound = true;
	}
}

struct socket_file *socket_file_prepare(TALLOC_CTX *mem_ctx, const char *path,
					int type, char **error)
{
	struct socket_file *sf = NULL;
	const char *err = socket_file_check(mem_ctx, path, type, &sf);

	if (err != NULL) {
		*error = talloc_strdup(mem_ctx, err);
		return NULL;
	}
	return sf;
}
