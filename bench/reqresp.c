/*
 * reqresp.c - small request/response traffic for bench/reqresp.sh
 *
 *   reqresp echo
 *       a TCP echo server on 127.0.0.1 port 0 (one epoll thread, so it is
 *       not the bottleneck); prints "listening on tcp:127.0.0.1:PORT" on
 *       stderr and serves until killed
 *   reqresp load PORT CONNS SECS SIZE [COUNT]
 *       CONNS connections to 127.0.0.1:PORT, each sending a SIZE-byte
 *       request and waiting for its SIZE-byte answer, again and again,
 *       for SECS seconds (or COUNT transactions in all, if given); prints
 *       "TPS P50_US P99_US TRANSACTIONS"
 *
 * Written for the benchmark only; loopback only, everything bounded.
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define MAX_SAMPLES (4 * 1024 * 1024)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int echo_server(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	struct epoll_event ev, evs[64];
	int lfd, ep, one = 1;
	char buf[65536];

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd == -1 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(lfd, 1024) ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len)) {
		perror("echo");
		return 1;
	}
	fprintf(stderr, "listening on tcp:127.0.0.1:%d\n", ntohs(sin.sin_port));
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1), i;

		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == lfd) {
				int c = accept(lfd, NULL, NULL);

				if (c == -1) {
					continue;
				}
				setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one,
					   sizeof(one));
				ev.events = EPOLLIN;
				ev.data.fd = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				continue;
			}
			ssize_t got = read(fd, buf, sizeof(buf));

			if (got <= 0 || write(fd, buf, (size_t)got) != got) {
				close(fd);
			}
		}
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct conn {
	int fd;
	size_t got;
	double sent_at;
};

static int load(int port, int nconns, double secs, size_t size, long count)
{
	static struct conn conns[MAX_CONNS];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct epoll_event ev, evs[64];
	double *lat = malloc(MAX_SAMPLES * sizeof(double));
	char *req = calloc(1, size), buf[65536];
	long done = 0;
	double t0, end;
	int ep, i, one = 1;

	if (lat == NULL || req == NULL || nconns < 1 || nconns > MAX_CONNS ||
	    size == 0 || size > sizeof(buf)) {
		fprintf(stderr, "load: bad arguments\n");
		return 1;
	}
	memset(req, 'q', size);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((unsigned short)port);
	ep = epoll_create1(0);
	for (i = 0; i < nconns; i++) {
		conns[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		if (conns[i].fd == -1 ||
		    connect(conns[i].fd, (struct sockaddr *)&sin,
			    sizeof(sin))) {
			perror("connect");
			return 1;
		}
		setsockopt(conns[i].fd, IPPROTO_TCP, TCP_NODELAY, &one,
			   sizeof(one));
		ev.events = EPOLLIN;
		ev.data.u32 = (unsigned)i;
		epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
	}
	t0 = now();
	end = t0 + secs;
	for (i = 0; i < nconns; i++) {
		conns[i].sent_at = now();
		if (write(conns[i].fd, req, size) != (ssize_t)size) {
			perror("write");
			return 1;
		}
	}
	while ((count > 0 ? done < count : now() < end) &&
	       now() < t0 + secs + 60) {
		int n = epoll_wait(ep, evs, 64, 1000);

		for (i = 0; i < n; i++) {
			struct conn *c = &conns[evs[i].data.u32];
			ssize_t got = read(c->fd, buf, size - c->got);

			if (got <= 0) {
				fprintf(stderr, "load: connection lost\n");
				return 1;
			}
			c->got += (size_t)got;
			if (c->got < size) {
				continue;
			}
			c->got = 0;
			if (done < MAX_SAMPLES) {
				lat[done] = now() - c->sent_at;
			}
			done++;
			c->sent_at = now();
			if (write(c->fd, req, size) != (ssize_t)size) {
				perror("write");
				return 1;
			}
		}
	}
	end = now();
	{
		long k = done < MAX_SAMPLES ? done : MAX_SAMPLES;

		qsort(lat, (size_t)k, sizeof(double), cmp_double);
		printf("%.0f %.1f %.1f %ld\n", (double)done / (end - t0),
		       k ? lat[k / 2] * 1e6 : 0, k ? lat[k * 99 / 100] * 1e6 : 0,
		       done);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "echo") == 0) {
		return echo_server();
	}
	if ((argc == 6 || argc == 7) && strcmp(argv[1], "load") == 0) {
		return load(atoi(argv[2]), atoi(argv[3]), atof(argv[4]),
			    (size_t)atol(argv[5]), argc == 7 ? atol(argv[6]) : 0);
	}
	fprintf(stderr, "usage: reqresp echo | reqresp load PORT CONNS SECS "
		"SIZE [COUNT]\n");
	return 2;
}
