/*
 * Event queue from charon's threads to the daemon's main loop.
 */
#include "ike_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct edge_ike_evq
{
	pthread_mutex_t lock;
	int fd;
	struct edge_ike_event *ev; /* ring of cap entries */
	size_t cap, head, count;
	uint64_t dropped;
};

int edge_ike_evq_new(struct edge_ike_evq **ret_q)
{
	struct edge_ike_evq *q;

	q = calloc(1, sizeof(*q));
	if (!q)
	{
		return -ENOMEM;
	}
	q->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->fd < 0)
	{
		int r = -errno;

		free(q);
		return r;
	}
	pthread_mutex_init(&q->lock, NULL);
	*ret_q = q;
	return 0;
}

void edge_ike_evq_free(struct edge_ike_evq *q)
{
	if (!q)
	{
		return;
	}
	close(q->fd);
	pthread_mutex_destroy(&q->lock);
	free(q->ev);
	free(q);
}

/* make room for one more; false if full or out of memory */
static bool grow(struct edge_ike_evq *q)
{
	struct edge_ike_event *ev;
	size_t cap, i;

	if (q->count < q->cap)
	{
		return true;
	}
	if (q->cap >= EDGE_IKE_EVQ_MAX)
	{
		return false;
	}
	cap = q->cap ? q->cap * 2 : 16;
	ev = malloc(cap * sizeof(*ev));
	if (!ev)
	{
		return false;
	}
	for (i = 0; i < q->count; i++)
	{
		ev[i] = q->ev[(q->head + i) % q->cap];
	}
	free(q->ev);
	q->ev = ev;
	q->cap = cap;
	q->head = 0;
	return true;
}

void edge_ike_evq_push(struct edge_ike_evq *q, const struct edge_ike_event *ev)
{
	struct edge_ike_event copy = *ev;
	uint64_t one = 1;
	struct timespec ts;

	if (!copy.time_ns)
	{
		clock_gettime(CLOCK_MONOTONIC, &ts);
		copy.time_ns = (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
	}
	pthread_mutex_lock(&q->lock);
	if (!grow(q))
	{
		q->dropped++;
		pthread_mutex_unlock(&q->lock);
		return;
	}
	q->ev[(q->head + q->count) % q->cap] = copy;
	if (q->count++ == 0)
	{ /* empty -> not empty: make the fd readable */
		if (write(q->fd, &one, sizeof(one)) < 0)
		{
			/* the counter cannot overflow with one write per batch */
		}
	}
	pthread_mutex_unlock(&q->lock);
}

int edge_ike_evq_fd(const struct edge_ike_evq *q)
{
	return q->fd;
}

int edge_ike_evq_drain(struct edge_ike_evq *q, edge_ike_event_fn fn, void *arg)
{
	struct edge_ike_event *batch = NULL;
	uint64_t value;
	size_t n, i;

	pthread_mutex_lock(&q->lock);
	n = q->count;
	if (n)
	{
		batch = malloc(n * sizeof(*batch));
		if (!batch)
		{
			pthread_mutex_unlock(&q->lock);
			return -ENOMEM;
		}
		for (i = 0; i < n; i++)
		{
			batch[i] = q->ev[(q->head + i) % q->cap];
		}
		q->head = 0;
		q->count = 0;
	}
	/* empty now: reset the eventfd while still holding the lock, so a push
	 * that follows sets it again */
	if (read(q->fd, &value, sizeof(value)) < 0)
	{
		/* EAGAIN: was not readable */
	}
	pthread_mutex_unlock(&q->lock);

	for (i = 0; i < n; i++)
	{
		fn(arg, &batch[i]);
	}
	free(batch);
	return (int)n;
}

uint64_t edge_ike_evq_dropped(struct edge_ike_evq *q)
{
	uint64_t d;

	pthread_mutex_lock(&q->lock);
	d = q->dropped;
	pthread_mutex_unlock(&q->lock);
	return d;
}
