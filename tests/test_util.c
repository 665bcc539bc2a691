/*
 * test_util.c - small helpers shared by the libtsocket unit tests
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tsocket.h"
#include "test_util.h"

#ifndef discard_const
#define discard_const(ptr) ((void *)(uintptr_t)(const void *)(ptr))
#endif

static void tu_timeout(struct tevent_context *ev, struct tevent_timer *te,
		       struct timeval now, void *private_data)
{
	bool *expired = private_data;

	*expired = true;
}

bool tu_loop_until(struct tevent_context *ev, const bool *done,
		   int timeout_ms)
{
	bool expired = false;
	struct tevent_timer *te;

	te = tevent_add_timer(ev, ev,
			      tevent_timeval_current_ofs(timeout_ms / 1000,
					(timeout_ms % 1000) * 1000),
			      tu_timeout, &expired);
	if (te == NULL) {
		return false;
	}
	while (!*done && !expired) {
		if (tevent_loop_once(ev) != 0) {
			break;
		}
	}
	if (!expired) {
		talloc_free(te);	/* tevent frees a timer once it fired */
	}
	return *done;
}

unsigned tu_loop_count_events(struct tevent_context *ev, int timeout_ms)
{
	bool expired = false;
	unsigned events = 0;
	struct tevent_timer *te;

	te = tevent_add_timer(ev, ev,
			      tevent_timeval_current_ofs(timeout_ms / 1000,
					(timeout_ms % 1000) * 1000),
			      tu_timeout, &expired);
	if (te == NULL) {
		return (unsigned)-1;
	}
	/* the bound keeps a spinning loop from running forever */
	while (!expired && events < 1000000) {
		if (tevent_loop_once(ev) != 0) {
			break;
		}
		if (!expired) {
			events++;
		}
	}
	if (!expired) {
		talloc_free(te);	/* tevent frees a timer once it fired */
	}
	return events;
}

void tu_set_done(struct tevent_req *req)
{
	bool *done = tevent_req_callback_data_void(req);

	*done = true;
}

static int tu_remove_entry(const char *path, const struct stat *st,
			   int flag, struct FTW *ftw)
{
	return remove(path);
}

static int tu_tmpdir_destructor(char *dir)
{
	nftw(dir, tu_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

char *tu_tmpdir(TALLOC_CTX *mem_ctx)
{
	const char *base = getenv("TMPDIR");
	char *dir;

	if (base == NULL || base[0] == '\0') {
		base = "/tmp";
	}
	dir = talloc_asprintf(mem_ctx, "%s/tsocket-test.XXXXXX", base);
	if (dir == NULL) {
		return NULL;
	}
	if (mkdtemp(dir) == NULL) {
		talloc_free(dir);
		return NULL;
	}
	talloc_set_destructor(dir, tu_tmpdir_destructor);
	return dir;
}

int tu_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (d == NULL) {
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.') {
			n++;
		}
	}
	closedir(d);
	return n - 1;	/* the directory stream's own fd */
}

int tu_setup(void **state)
{
	struct tu_ctx *t = talloc_zero(NULL, struct tu_ctx);

	if (t == NULL) {
		return -1;
	}
	t->ev = tevent_context_init(t);
	t->mem = talloc_new(t);
	if (t->ev == NULL || t->mem == NULL) {
		talloc_free(t);
		return -1;
	}
	*state = t;
	return 0;
}

int tu_teardown(void **state)
{
	struct tu_ctx *t = *state;

	/* streams, requests and fds first, while the event context exists */
	TALLOC_FREE(t->mem);
	talloc_free(t);
	return 0;
}

void wait_req_at(struct tu_ctx *t, struct tevent_req *req, int ms,
		 const char *file, int line)
{
	bool done = false;

	assert_non_null(req);
	tevent_req_set_callback(req, tu_set_done, &done);
	if (!tu_loop_until(t->ev, &done, ms)) {
		print_error("%s:%d: request not complete after %d ms\n",
			    file, line, ms);
		fail();
	}
}

int do_readv(struct tu_ctx *t, struct tstream_context *s,
	     void *buf, size_t len, int *err)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct tevent_req *req;
	int ret;

	*err = 0;
	req = tstream_readv_send(t->mem, t->ev, s, &iov, 1);
	wait_req(t, req);
	ret = tstream_readv_recv(req, err);
	talloc_free(req);
	return ret;
}

int do_writev(struct tu_ctx *t, struct tstream_context *s,
	      const void *buf, size_t len, int *err)
{
	struct iovec iov = { .iov_base = discard_const(buf), .iov_len = len };
	struct tevent_req *req;
	int ret;

	*err = 0;
	req = tstream_writev_send(t->mem, t->ev, s, &iov, 1);
	wait_req(t, req);
	ret = tstream_writev_recv(req, err);
	talloc_free(req);
	return ret;
}

int do_disconnect(struct tu_ctx *t, struct tstream_context *s, int *err)
{
	struct tevent_req *req;
	int ret;

	*err = 0;
	req = tstream_disconnect_send(t->mem, t->ev, s);
	wait_req(t, req);
	ret = tstream_disconnect_recv(req, err);
	talloc_free(req);
	return ret;
}

int do_shutdown(struct tu_ctx *t, struct tstream_context *s, int *err)
{
	struct tevent_req *req;
	int ret;

	*err = 0;
	req = tstream_shutdown_send(t->mem, t->ev, s);
	wait_req(t, req);
	ret = tstream_shutdown_recv(req, err);
	talloc_free(req);
	return ret;
}
