/*
 * resolve_pool.c - a few threads that run getaddrinfo(3), fed by a
 * bounded queue
 *
 * getaddrinfo blocks for as long as DNS (or whatever NSS module answers)
 * takes, and cannot be interrupted safely.  So lookups run on at most
 * RESOLVE_POOL_THREADS workers, started as needed and then kept; at most
 * RESOLVE_POOL_QUEUE_MAX more wait for one, and a job still waiting can
 * be withdrawn without ever running.  That bounds threads, memory and
 * work however many clients ask, and however soon they give up.
 *
 * Everything shared is under one mutex; a worker announces finished jobs
 * with a byte on a pipe the event loop watches.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include "resolve_pool.h"

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_work = PTHREAD_COND_INITIALIZER;

/* A worker; busy while it is in getaddrinfo. */
struct resolve_worker {
	pthread_t thread;
	bool busy;
};

/* under pool_lock */
static struct resolve_job *queue_head, *queue_tail;
static unsigned queued;
static struct resolve_job *done_head, *done_tail;
static struct resolve_worker worker_slots[RESOLVE_POOL_THREADS];
static unsigned workers, idle_workers;
static bool stopping;

/* made once by the loop thread, before any worker exists */
static int wake_pipe[2] = { -1, -1 };

int resolve_pool_wake_fd(void)
{
	if (wake_pipe[0] == -1 &&
	    pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		wake_pipe[0] = wake_pipe[1] = -1;
		return -1;
	}
	return wake_pipe[0];
}

/* Under pool_lock. */
static void resolve_pool_finished(struct resolve_job *job)
{
	char byte = 0;

	job->stage = RESOLVE_JOB_DONE;
	job->next = NULL;
	if (done_head != NULL) {
		/* the loop has been told and takes the whole list */
		done_tail->next = job;
		done_tail = job;
		return;
	}
	done_head = done_tail = job;
	/*
	 * Non-blocking: if the pipe were full the loop is woken anyway.
	 * Nothing to do on failure but let it be.
	 */
	if (write(wake_pipe[1], &byte, 1) == -1) {
		return;
	}
}

static void *resolve_pool_worker(void *arg)
{
	struct resolve_worker *self = arg;
	struct resolve_job *job;

	pthread_mutex_lock(&pool_lock);
	for (;;) {
		while (queue_head == NULL && !stopping) {
			idle_workers++;
			pthread_cond_wait(&pool_work, &pool_lock);
			idle_workers--;
		}
		if (stopping) {
			break;
		}
		job = queue_head;
		queue_head = job->next;
		if (queue_head == NULL) {
			queue_tail = NULL;
		}
		queued--;
		job->next = NULL;
		job->stage = RESOLVE_JOB_RUNNING;
		self->busy = true;
		pthread_mutex_unlock(&pool_lock);

		job->rc = getaddrinfo(job->host, job->port, &job->hints,
				      &job->result);
		job->sys_errno = errno;

		pthread_mutex_lock(&pool_lock);
		self->busy = false;
		resolve_pool_finished(job);
	}
	pthread_mutex_unlock(&pool_lock);
	return NULL;
}

/*
 * Under pool_lock.  A worker runs until resolve_pool_stop, so the count
 * only grows to the limit.  Signals stay with the loop thread: a worker
 * blocks them all.
 */
static int resolve_pool_start_worker(void)
{
	struct resolve_worker *w = &worker_slots[workers];
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&w->thread, NULL, resolve_pool_worker, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err == 0) {
		w->busy = false;
		workers++;
	}
	return err;
}

/* Under pool_lock: unlink a queued job. */
static void resolve_pool_unqueue(struct resolve_job *job)
{
	struct resolve_job **pp, *prev = NULL;

	for (pp = &queue_head; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == job) {
			*pp = job->next;
			if (queue_tail == job) {
				queue_tail = prev;
			}
			queued--;
			job->next = NULL;
			job->stage = RESOLVE_JOB_NEW;
			return;
		}
		prev = *pp;
	}
}

int resolve_pool_submit(struct resolve_job *job, const char **why)
{
	int err;

	if (resolve_pool_wake_fd() == -1) {
		*why = "cannot make a pipe for name lookups";
		return -1;
	}
	pthread_mutex_lock(&pool_lock);
	if (stopping) {
		pthread_mutex_unlock(&pool_lock);
		*why = "name lookups stopped";
		errno = ESHUTDOWN;
		return -1;
	}
	if (queued >= RESOLVE_POOL_QUEUE_MAX) {
		pthread_mutex_unlock(&pool_lock);
		*why = "too many name lookups waiting";
		errno = EAGAIN;
		return -1;
	}
	job->stage = RESOLVE_JOB_QUEUED;
	job->next = NULL;
	if (queue_tail != NULL) {
		queue_tail->next = job;
	} else {
		queue_head = job;
	}
	queue_tail = job;
	queued++;
	/* idle workers already signalled still count: they take a job each */
	if (queued > idle_workers && workers < RESOLVE_POOL_THREADS) {
		err = resolve_pool_start_worker();
		if (err != 0 && workers == 0) {
			/* nobody would ever run it */
			resolve_pool_unqueue(job);
			pthread_mutex_unlock(&pool_lock);
			*why = "cannot start a thread for name lookups";
			errno = err;
			return -1;
		}
		/* else a running worker gets to it later */
	}
	pthread_cond_signal(&pool_work);
	pthread_mutex_unlock(&pool_lock);
	return 0;
}

bool resolve_pool_withdraw(struct resolve_job *job)
{
	bool withdrawn = false;

	pthread_mutex_lock(&pool_lock);
	if (job->stage == RESOLVE_JOB_QUEUED) {
		resolve_pool_unqueue(job);
		withdrawn = true;
	}
	pthread_mutex_unlock(&pool_lock);
	return withdrawn;
}

struct resolve_job *resolve_pool_take_done(void)
{
	struct resolve_job *jobs;
	char buf[64];

	/*
	 * Drain first: a job finished after this finds the list empty and
	 * writes again, so none is missed.
	 */
	while (read(wake_pipe[0], buf, sizeof(buf)) > 0) {
	}
	pthread_mutex_lock(&pool_lock);
	jobs = done_head;
	done_head = done_tail = NULL;
	pthread_mutex_unlock(&pool_lock);
	return jobs;
}

void resolve_pool_stop(void)
{
	pthread_t idle[RESOLVE_POOL_THREADS];
	unsigned i, n = 0;

	pthread_mutex_lock(&pool_lock);
	stopping = true;
	for (i = 0; i < workers; i++) {
		if (worker_slots[i].busy) {
			/* in getaddrinfo: it ends by itself when that returns */
			pthread_detach(worker_slots[i].thread);
		} else {
			idle[n++] = worker_slots[i].thread;
		}
	}
	workers = 0;
	pthread_cond_broadcast(&pool_work);
	pthread_mutex_unlock(&pool_lock);
	for (i = 0; i < n; i++) {
		pthread_join(idle[i], NULL);
	}
}
