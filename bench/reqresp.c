/*
 * reqresp.c - request/response load generator and echo server for
 * bench/reqresp.sh and bench/syscalls.sh (compiled by those scripts with
 * `cc -O2` into their temp dir; not built by make).
 *
 *   reqresp echo
 *       TCP echo server on 127.0.0.1, port 0: one thread, epoll,
 *       non-blocking sockets, so that it is not the bottleneck.  Prints
 *       "listening on tcp:127.0.0.1:PORT" on stderr and serves until it
 *       is killed.
 *
 *   reqresp load [-u] [-H] PORT CONNS SECS SIZE [COUNT]
 *       CONNS connections to 127.0.0.1:PORT, all in this one thread
 *       (epoll).  Each sends a SIZE-byte request, waits for the whole
 *       SIZE-byte answer, checks that it is the request echoed, and sends
 *       the next one: one transaction in flight per connection.  Every
 *       connection first makes one warm-up transaction (so that socat has
 *       forked and connected onwards, and a UDP relay has its session),
 *       then the clock starts.  Runs for SECS seconds, or until COUNT
 *       transactions in all when COUNT is given (SECS then only bounds
 *       the run: not reaching COUNT in SECS is an error).
 *       Latency: CLOCK_MONOTONIC from writing a request to having read
 *       its whole answer, for every transaction.
 *       Prints one line on stdout:
 *         TPS P50_US P99_US MAX_US TRANSACTIONS CLIENT_CPU_PCT LOST
 *       CLIENT_CPU_PCT is this process's user+system CPU over the run
 *       (getrusage) in percent of one CPU: near 100, the client may be
 *       the limit.  LOST: UDP requests resent (always 0 for TCP).
 *
 *       -u  UDP: each "connection" is a connected UDP socket; a request
 *           with no answer within 200 ms is resent (counted in LOST), and
 *           stale answers (to a resent request) are ignored.
 *       -H  hold, for syscalls.sh: after connecting and warming up,
 *           print "ready" on stderr and wait (at most 60 s) for SIGUSR1
 *           before starting the clock; after the run, print the result
 *           and wait again (at most 60 s) for SIGUSR1 before closing the
 *           connections.  So a tracer attached in between sees only the
 *           transactions, not the connection set-up or tear-down.
 *
 * Exit status: 0 on success, 1 on a failure (connection lost, wrong echo,
 * COUNT not reached), 2 on bad arguments.
 * Loopback only; every wait is bounded.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define MAX_SIZE 65536
#define UDP_RESEND_NS 200000000LL	/* 200 ms */
#define HOLD_SECS 60

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl == -1 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- echo server ------------------------------------------------------ */

static int echo_server(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	struct epoll_event ev, evs[256];
	static char buf[MAX_SIZE];
	int lfd, ep, one = 1;

	signal(SIGPIPE, SIG_IGN);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (lfd == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len)) {
		perror("reqresp echo");
		return 1;
	}
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	if (ep == -1 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev)) {
		perror("reqresp echo: epoll");
		return 1;
	}
	fprintf(stderr, "listening on tcp:127.0.0.1:%d\n", ntohs(sin.sin_port));
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1), i;

		if (n == -1 && errno != EINTR) {
			perror("reqresp echo: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			ssize_t got, off = 0, w;

			if (fd == lfd) {
				int c;

				/* bounded: the backlog empties */
				while ((c = accept4(lfd, NULL, NULL,
						    SOCK_NONBLOCK)) != -1) {
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY,
						   &one, sizeof(one));
					ev.events = EPOLLIN;
					ev.data.fd = c;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev)) {
						close(c);
					}
				}
				continue;
			}
			got = read(fd, buf, sizeof(buf));
			if (got == -1 && (errno == EAGAIN || errno == EINTR)) {
				continue;
			}
			if (got <= 0) {
				close(fd);	/* end of stream or error */
				continue;
			}
			/*
			 * Request/response traffic: the answer fits in the
			 * socket buffer.  Should it not, fall back to a
			 * blocking write rather than buffer here.
			 */
			while (off < got) {
				w = write(fd, buf + off, (size_t)(got - off));
				if (w > 0) {
					off += w;
				} else if (w == -1 && errno == EAGAIN) {
					fcntl(fd, F_SETFL,
					      fcntl(fd, F_GETFL) & ~O_NONBLOCK);
				} else if (w == -1 && errno == EINTR) {
					continue;
				} else {
					break;
				}
			}
			if (off < got) {
				close(fd);
			}
		}
	}
}

/* ---- load generator ----------------------------------------------------- */

struct conn {
	int fd;
	size_t got;		/* bytes of the answer read so far */
	uint64_t seq;		/* number of the request in flight */
	int64_t sent_ns;	/* when it was (first) sent */
	int64_t resend_ns;	/* UDP: when it was last sent */
	int busy;		/* a request is in flight */
	unsigned char *req;	/* the request in flight */
	unsigned char *ans;	/* the answer read so far */
};

static struct conn conns[MAX_CONNS];
static int nconns, udp;
static size_t size;
static uint64_t next_seq = 1;
static long lost, stale;

/* latencies in ns, grown as needed */
static uint32_t *lat;
static size_t nlat, maxlat;

static void record(int64_t ns)
{
	if (nlat == maxlat) {
		size_t m = maxlat ? 2 * maxlat : 1 << 20;
		uint32_t *p = realloc(lat, m * sizeof(*p));

		if (p == NULL) {
			return;	/* keep what we have */
		}
		lat = p;
		maxlat = m;
	}
	lat[nlat++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* (re)send conn c's request: 0, or -1 on failure */
static int send_req(struct conn *c)
{
	ssize_t w = send(c->fd, c->req, size, MSG_NOSIGNAL);

	if (w == (ssize_t)size) {
		return 0;
	}
	if (udp && w == -1 && (errno == EAGAIN || errno == ENOBUFS ||
			       errno == ECONNREFUSED)) {
		return 0;	/* as good as lost: resent on timeout */
	}
	/* 64-byte requests always fit an empty TCP send buffer */
	fprintf(stderr, "reqresp load: send: %s\n",
		w == -1 ? strerror(errno) : "short write");
	return -1;
}

/* start the next transaction on c, its clock at t */
static int new_req(struct conn *c, int64_t t)
{
	c->seq = next_seq++;
	memcpy(c->req, &c->seq, sizeof(c->seq));	/* each one different */
	c->got = 0;
	c->sent_ns = c->resend_ns = t;
	c->busy = 1;
	return send_req(c);
}

/*
 * Read what is there of c's answer: 1 if it is complete (and right), 0 if
 * not yet, -1 on failure.
 */
static int read_ans(struct conn *c)
{
	ssize_t got;

	if (udp) {
		for (;;) {
			got = recv(c->fd, c->ans, size, 0);
			if (got == -1) {
				if (errno == EAGAIN || errno == EINTR ||
				    errno == ECONNREFUSED) {
					return 0;
				}
				perror("reqresp load: recv");
				return -1;
			}
			if ((size_t)got == size &&
			    memcmp(c->ans, c->req, size) == 0) {
				return 1;
			}
			stale++;	/* an answer to a resent request */
		}
	}
	got = recv(c->fd, c->ans + c->got, size - c->got, 0);
	if (got == -1 && (errno == EAGAIN || errno == EINTR)) {
		return 0;
	}
	if (got <= 0) {
		fprintf(stderr, "reqresp load: connection %s\n",
			got == 0 ? "closed by the peer" : strerror(errno));
		return -1;
	}
	c->got += (size_t)got;
	if (c->got < size) {
		return 0;
	}
	if (memcmp(c->ans, c->req, size) != 0) {
		fprintf(stderr, "reqresp load: wrong echo\n");
		return -1;
	}
	return 1;
}

/* UDP: resend the requests unanswered for too long */
static int resend_due(int64_t t)
{
	int i;

	for (i = 0; udp && i < nconns; i++) {
		if (conns[i].busy &&
		    t - conns[i].resend_ns >= UDP_RESEND_NS) {
			lost++;
			conns[i].resend_ns = t;
			if (send_req(&conns[i])) {
				return -1;
			}
		}
	}
	return 0;
}

/* wait (at most HOLD_SECS) for SIGUSR1, which the caller keeps blocked */
static void hold(const char *what)
{
	sigset_t set;
	struct timespec ts = { .tv_sec = HOLD_SECS };

	fprintf(stderr, "%s\n", what);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigtimedwait(&set, NULL, &ts) == -1) {
		fprintf(stderr, "reqresp load: no SIGUSR1 in %d s, going on\n",
			HOLD_SECS);
	}
}

static double cpu_secs(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int load(int port, double secs, long count, int hold_mode)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct epoll_event ev, evs[MAX_CONNS];
	int64_t t0, t, end, limit;
	double cpu0, cpu1;
	long done = 0;
	int ep, i, one = 1, warm;
	sigset_t usr1;

	/* blocked from the start, so that an early SIGUSR1 is kept pending */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)port);
	ep = epoll_create1(0);
	if (ep == -1) {
		perror("reqresp load: epoll_create1");
		return 1;
	}
	for (i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];

		c->req = malloc(size);
		c->ans = malloc(size);
		c->fd = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
		if (c->req == NULL || c->ans == NULL || c->fd == -1 ||
		    connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) ||
		    set_nonblock(c->fd)) {
			perror("reqresp load: connect");
			return 1;
		}
		memset(c->req, 'q', size);
		if (!udp) {
			setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
		}
		ev.events = EPOLLIN;
		ev.data.u32 = (unsigned)i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev)) {
			perror("reqresp load: epoll_ctl");
			return 1;
		}
	}

	/*
	 * Two passes of the same loop: the warm-up (one transaction per
	 * connection, not counted, within 10 s), then the measured run.
	 */
	for (warm = 1; warm >= 0; warm--) {
		long target = warm ? nconns : count;
		long finished = 0;

		if (!warm && hold_mode) {
			hold("ready");
		}
		t0 = now_ns();
		end = t0 + (int64_t)(secs * 1e9);
		limit = warm ? t0 + 10000000000LL : end;
		cpu0 = cpu_secs();
		lost = stale = 0;
		for (i = 0; i < nconns; i++) {
			if (new_req(&conns[i], t0)) {
				return 1;
			}
		}
		done = 0;
		t = t0;
		/* bounded by limit: epoll_wait waits 100 ms at most */
		while (warm ? finished < target
			    : (count > 0 ? done < count : t < end)) {
			int n;

			if (t >= limit) {
				fprintf(stderr, "reqresp load: %s not done in "
					"time (%ld transactions)\n",
					warm ? "warm-up" : "COUNT", done);
				return 1;
			}
			n = epoll_wait(ep, evs, MAX_CONNS, 100);
			if (n == -1 && errno != EINTR) {
				perror("reqresp load: epoll_wait");
				return 1;
			}
			t = now_ns();
			for (i = 0; i < n; i++) {
				struct conn *c = &conns[evs[i].data.u32];
				int r = read_ans(c);

				if (r < 0) {
					return 1;
				}
				if (r == 0) {
					continue;
				}
				c->busy = 0;
				if (warm) {
					/* one each: no next request yet */
					finished++;
					continue;
				}
				record(t - c->sent_ns);
				done++;
				if (new_req(c, t)) {
					return 1;
				}
			}
			if (resend_due(t)) {
				return 1;
			}
		}
	}
	cpu1 = cpu_secs();

	/* the answers still in flight are not counted: nothing waits for
	 * them */
	qsort(lat, nlat, sizeof(*lat), cmp_u32);
	{
		double el = (double)(t - t0) / 1e9;

		printf("%.0f %.1f %.1f %.1f %ld %.0f %ld\n",
		       el > 0 ? (double)done / el : 0,
		       nlat ? lat[nlat / 2] / 1e3 : 0,
		       nlat ? lat[nlat * 99 / 100] / 1e3 : 0,
		       nlat ? lat[nlat - 1] / 1e3 : 0, done,
		       el > 0 ? 100 * (cpu1 - cpu0) / el : 0, lost);
		fflush(stdout);
	}
	if (stale) {
		fprintf(stderr, "reqresp load: %ld stale answers ignored\n",
			stale);
	}
	if (hold_mode) {
		hold("done");
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: reqresp echo\n"
		"       reqresp load [-u] [-H] PORT CONNS SECS SIZE [COUNT]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int opt, hold_mode = 0, port;
	double secs;
	long count = 0;

	if (argc == 2 && strcmp(argv[1], "echo") == 0) {
		return echo_server();
	}
	if (argc < 2 || strcmp(argv[1], "load") != 0) {
		usage();
	}
	optind = 2;
	while ((opt = getopt(argc, argv, "uH")) != -1) {
		switch (opt) {
		case 'u':
			udp = 1;
			break;
		case 'H':
			hold_mode = 1;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 4 && argc - optind != 5) {
		usage();
	}
	port = atoi(argv[optind]);
	nconns = atoi(argv[optind + 1]);
	secs = atof(argv[optind + 2]);
	size = (size_t)atol(argv[optind + 3]);
	if (argc - optind == 5) {
		count = atol(argv[optind + 4]);
	}
	if (port < 1 || port > 65535 || nconns < 1 || nconns > MAX_CONNS ||
	    secs <= 0 || secs > 3600 || size < sizeof(uint64_t) ||
	    size > MAX_SIZE || count < 0) {
		fprintf(stderr, "reqresp load: bad arguments (1 <= CONNS <= %d, "
			"8 <= SIZE <= %d, 0 < SECS <= 3600)\n", MAX_CONNS,
			MAX_SIZE);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	return load(port, secs, count, hold_mode);
}
