/* fake_ike.c — IKE ops fake (see fake_ike.h) */
#include "fake_ike.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct fake_ike *fake_ike_new(void)
{
	struct fake_ike *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->efd < 0)
		abort();
	return f;
}

void fake_ike_free(struct fake_ike *f)
{
	if (!f)
		return;
	close(f->efd);
	free(f);
}

static void logf_(struct fake_ike *f, const char *op, uint32_t id, const char *name)
{
	if (f->n_log < 64)
		snprintf(f->log[f->n_log++], sizeof(f->log[0]), "%s %u %s", op, id, name);
}

struct edge_ike_event fake_ike_preload[16];
size_t fake_ike_n_preload;

static int fk_start(void **ret_ctx, const struct edge_ike_settings *s)
{
	struct fake_ike *f = fake_ike_new();

	if (!s || !s->run_dir || !s->key_file) {
		fake_ike_free(f);
		return -EINVAL;
	}
	f->started = true;
	for (size_t i = 0; i < fake_ike_n_preload; i++)
		fake_ike_push(f, &fake_ike_preload[i]);
	*ret_ctx = f;
	return 0;
}

static void fk_stop(void *ctx)
{
	fake_ike_free(ctx);
}

static long find(struct fake_ike *f, uint32_t id)
{
	for (size_t i = 0; i < f->n_paths; i++)
		if (f->paths[i].id == id)
			return (long)i;
	return -1;
}

static int fail_now(struct fake_ike *f)
{
	f->calls++;
	return f->fail_at && f->calls == f->fail_at;
}

static int fk_path_add(void *ctx, const struct edge_ike_path *p)
{
	struct fake_ike *f = ctx;

	logf_(f, "path_add", p->id, p->name);
	if (fail_now(f))
		return -EIO;
	if (find(f, p->id) >= 0)
		return -EEXIST;
	if (f->n_paths == 32)
		return -ENOSPC;
	f->paths[f->n_paths++] = *p;
	return 0;
}

static int fk_path_update(void *ctx, const struct edge_ike_path *p)
{
	struct fake_ike *f = ctx;
	long i;

	logf_(f, "path_update", p->id, p->name);
	if (fail_now(f))
		return -EIO;
	i = find(f, p->id);
	if (i < 0)
		return -ENOENT;
	f->paths[i] = *p;
	return 0;
}

static int fk_path_remove(void *ctx, uint32_t id)
{
	struct fake_ike *f = ctx;
	long i;

	logf_(f, "path_remove", id, "");
	if (fail_now(f))
		return -EIO;
	i = find(f, id);
	if (i < 0)
		return -ENOENT;
	f->paths[i] = f->paths[--f->n_paths];
	return 0;
}

static int fk_path_initiate(void *ctx, uint32_t id)
{
	struct fake_ike *f = ctx;

	logf_(f, "path_initiate", id, "");
	return find(f, id) >= 0 ? 0 : -ENOENT;
}

/* the fake has no SAs: a known path is never established */
static int fk_path_nat(void *ctx, uint32_t id, struct edge_ike_path_nat *ret)
{
	struct fake_ike *f = ctx;

	(void)ret;
	logf_(f, "path_nat", id, "");
	return find(f, id) >= 0 ? -ENOTCONN : -ENOENT;
}

static int fk_path_check(void *ctx, uint32_t id)
{
	struct fake_ike *f = ctx;

	logf_(f, "path_check", id, "");
	return find(f, id) >= 0 ? -ENOTCONN : -ENOENT;
}

static int fk_event_fd(void *ctx)
{
	return ((struct fake_ike *)ctx)->efd;
}

static int fk_drain(void *ctx, edge_ike_event_fn fn, void *arg)
{
	struct fake_ike *f = ctx;
	uint64_t v;
	int n = 0;

	if (read(f->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	for (size_t i = 0; i < f->n_queue; i++, n++)
		fn(arg, &f->queue[i]);
	f->n_queue = 0;
	return n;
}

void fake_ike_push(struct fake_ike *f, const struct edge_ike_event *ev)
{
	uint64_t one = 1;

	if (f->n_queue < 16)
		f->queue[f->n_queue++] = *ev;
	if (write(f->efd, &one, sizeof(one)) < 0)
		abort();
}

const struct edge_ike_path *fake_ike_path(const struct fake_ike *f, uint32_t id)
{
	for (size_t i = 0; i < f->n_paths; i++)
		if (f->paths[i].id == id)
			return &f->paths[i];
	return NULL;
}

size_t fake_ike_log_count(const struct fake_ike *f, const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_log; i++)
		if (strncmp(f->log[i], prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

const struct edge_ike_ops fake_ike_ops = {
	.name = "fake",
	.start = fk_start,
	.stop = fk_stop,
	.path_add = fk_path_add,
	.path_update = fk_path_update,
	.path_remove = fk_path_remove,
	.path_initiate = fk_path_initiate,
	.event_fd = fk_event_fd,
	.drain = fk_drain,
	.path_nat = fk_path_nat,
	.path_check = fk_path_check,
};
