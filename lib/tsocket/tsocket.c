/*
 * tsocket.c - the generic address layer and helpers shared by backends
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <time.h>
#include <stdint.h>
#include <sys/uio.h>
#include "tsocket_internal.h"

struct tsocket_address *_tsocket_address_create(TALLOC_CTX *mem_ctx,
					const struct tsocket_address_ops *ops,
					void *pstate, size_t psize,
					const char *type,
					const char *location)
{
	void **ppstate = (void **)pstate;
	struct tsocket_address *addr;

	addr = talloc_zero(mem_ctx, struct tsocket_address);
	if (addr == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	addr->ops = ops;
	addr->location = location;
	/* talloc reports then name the caller that created it */
	talloc_set_name_const(addr, location);
	addr->private_data = talloc_zero_size(addr, psize);
	if (addr->private_data == NULL) {
		talloc_free(addr);
		errno = ENOMEM;
		return NULL;
	}
	talloc_set_name_const(addr->private_data, type);
	*ppstate = addr->private_data;
	return addr;
}

char *tsocket_address_string(const struct tsocket_address *addr,
			     TALLOC_CTX *mem_ctx)
{
	if (addr == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return addr->ops->string(addr, mem_ctx);
}

struct tsocket_address *_tsocket_address_copy(
	const struct tsocket_address *addr, TALLOC_CTX *mem_ctx,
	const char *location)
{
	if (addr == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return addr->ops->copy(addr, mem_ctx, location);
}

int tsocket_iovec_check(const struct iovec *vector, size_t count,
			size_t *total)
{
	size_t sum = 0;
	size_t i;

	if (vector == NULL || count == 0) {
		return EINVAL;
	}
	if (count > IOV_MAX) {
		return EMSGSIZE;
	}
	for (i = 0; i < count; i++) {
		if (vector[i].iov_len > (size_t)INT_MAX - sum) {
			/* the recv functions return the total as an int */
			return EMSGSIZE;
		}
		sum += vector[i].iov_len;
	}
	if (sum == 0) {
		return EINVAL;
	}
	*total = sum;
	return 0;
}

void tsocket_iovec_advance(struct iovec **vector, size_t *count, size_t n)
{
	struct iovec *v = *vector;
	size_t c = *count;

	while (c > 0 && n >= v->iov_len) {
		n -= v->iov_len;
		v++;
		c--;
	}
	if (c > 0 && n > 0) {
		v->iov_base = (uint8_t *)v->iov_base + n;
		v->iov_len -= n;
	}
	*vector = v;
	*count = c;
}

bool tsocket_req_is_error(struct tevent_req *req, int *perrno)
{
	enum tevent_req_state state;
	uint64_t err;

	if (!tevent_req_is_error(req, &state, &err)) {
		return false;
	}
	switch (state) {
	case TEVENT_REQ_USER_ERROR:
		*perrno = (int)err;
		break;
	case TEVENT_REQ_NO_MEMORY:
		*perrno = ENOMEM;
		break;
	case TEVENT_REQ_TIMED_OUT:
		*perrno = ETIMEDOUT;
		break;
	default:
		*perrno = EIO;
		break;
	}
	return true;
}

struct tevent_req *tsocket_req_post_result(struct tevent_req *req,
					   struct tevent_context *ev,
					   int err)
{
	if (err != 0) {
		tevent_req_error(req, err);
	} else {
		tevent_req_done(req);
	}
	return tevent_req_post(req, ev);
}

int tsocket_req_simple_recv(struct tevent_req *req, int *perrno)
{
	int ret = tsocket_req_is_error(req, perrno) ? -1 : 0;

	tevent_req_received(req);
	return ret;
}

ssize_t tsocket_writev_nosigpipe(int fd, const struct iovec *vector,
				 size_t count)
{
	struct timespec zero = { 0, 0 };
	sigset_t pipe_set, old_set, pending;
	ssize_t n;
	int saved;

	/*
	 * Block SIGPIPE around the write; if the write raised one that was
	 * not already pending, take it back before unblocking.
	 */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
	n = writev(fd, vector, (int)count);
	saved = errno;
	if (n == -1 && errno == EPIPE && !sigismember(&pending, SIGPIPE)) {
		while (sigtimedwait(&pipe_set, NULL, &zero) == -1 &&
		       errno == EINTR) {
		}
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	errno = saved;
	return n;
}
