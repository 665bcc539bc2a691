/*
 * pkgconfig_check.c - built against the installed library by
 * "make installcheck" (and so by distcheck): proves that
 * `pkg-config --cflags --libs tsocket` is all another project needs.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <tsocket.h>

static void done(struct tevent_req *req)
{
	*(int *)tevent_req_callback_data_void(req) = 1;
}

int main(void)
{
	TALLOC_CTX *mem = talloc_new(NULL);
	struct tevent_context *ev = tevent_context_init(mem);
	struct tstream_context *a, *b;
	char out[] = "ping", in[5] = "";
	struct iovec wv = { out, 4 }, rv = { in, 4 };
	struct tevent_req *r, *w;
	int finished = 0, err = 0, i;

	if (ev == NULL || tstream_unix_socketpair(mem, &a, mem, &b) == -1) {
		fprintf(stderr, "pkgconfig_check: setup failed\n");
		return 1;
	}
	r = tstream_readv_send(mem, ev, b, &rv, 1);
	tevent_req_set_callback(r, done, &finished);
	w = tstream_writev_send(mem, ev, a, &wv, 1);
	for (i = 0; i < 100 && !finished; i++) {
		tevent_loop_once(ev);
	}
	if (!finished || tstream_readv_recv(r, &err) != 4 ||
	    tstream_writev_recv(w, &err) != 4 || strcmp(in, "ping") != 0) {
		fprintf(stderr, "pkgconfig_check: transfer failed\n");
		return 1;
	}
	talloc_free(mem);
	printf("pkgconfig_check: ok\n");
	return 0;
}
