/*
 * resolve_pool.h - a few threads that run getaddrinfo(3), fed by a
 * bounded queue
 *
 * The one part of the resolver that involves threads: jobs go in on the
 * loop thread, a worker runs each, and finished jobs come back to the
 * loop thread, which is told through a file descriptor.  Sharing, caching
 * and the tevent side are resolve.c's.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TSOCK_RESOLVE_POOL_H
#define TSOCK_RESOLVE_POOL_H

#include <netdb.h>
#include <stdbool.h>

/* Limits, documented in tsock(1). */
#define RESOLVE_POOL_THREADS 4		/* lookups that run at once */
#define RESOLVE_POOL_QUEUE_MAX 64	/* more that may wait for a thread */

enum resolve_job_stage {
	RESOLVE_JOB_NEW,	/* not handed to the pool */
	RESOLVE_JOB_QUEUED,	/* waiting for a worker */
	RESOLVE_JOB_RUNNING,	/* a worker is in getaddrinfo */
	RESOLVE_JOB_DONE,	/* back on the loop thread's side */
};

/*
 * One getaddrinfo call.  The submitter fills in the question and owns the
 * job (plain malloc: workers never call talloc, which is not thread-safe);
 * a worker only reads the question and writes the answer.
 */
struct resolve_job {
	/* the question */
	char *host;
	char port[8];
	struct addrinfo hints;

	/* the answer, readable once the job came back from the pool */
	struct addrinfo *result;
	int rc;			/* getaddrinfo's return */
	int sys_errno;		/* errno of an EAI_SYSTEM failure */

	/* the pool's: only under its lock */
	enum resolve_job_stage stage;
	struct resolve_job *next;
};

/*
 * A descriptor that becomes readable when jobs finished; read them with
 * resolve_pool_take_done().  Created on the first call; -1 with errno set
 * if it cannot be.
 */
int resolve_pool_wake_fd(void);

/*
 * Queue a job for a worker, starting one if none is idle and fewer than
 * RESOLVE_POOL_THREADS run.  -1 with *why set if the job cannot be
 * taken: RESOLVE_POOL_QUEUE_MAX jobs wait already (errno EAGAIN), or no
 * worker exists and none could be started.
 */
int resolve_pool_submit(struct resolve_job *job, const char **why);

/*
 * Take back a job nobody wants any more.  True if it had not started:
 * it is out of the queue and the caller may free it.  False if a worker
 * has it: it will come back through resolve_pool_take_done() as usual.
 */
bool resolve_pool_withdraw(struct resolve_job *job);

/*
 * The finished jobs, linked through ->next (NULL if none), after
 * draining the wake descriptor.  Loop thread only.
 */
struct resolve_job *resolve_pool_take_done(void);

/*
 * At exit: idle workers end and are joined, so nothing is left running
 * or allocated; a worker still in getaddrinfo, which cannot be
 * interrupted, is left to end by itself (the process exits around it).
 * No job may be submitted afterwards.  Loop thread only.
 */
void resolve_pool_stop(void);

#endif
