/* status.c — the edge's state snapshot (see edge/status.h) */
#include <edge/status.h>

#include <stdlib.h>
#include <string.h>

const char *edge_status_action_name(enum edge_status_action a)
{
	switch (a) {
	case EDGE_STATUS_ACTION_OVERLAY:
		return "overlay";
	case EDGE_STATUS_ACTION_DIRECT:
		return "direct";
	case EDGE_STATUS_ACTION_DROP:
		return "drop";
	}
	return "unknown";
}

static void *add(void **arr, size_t *n, size_t *cap, size_t size)
{
	char *p;

	if (!*arr && *n)
		return NULL;
	if (*n >= EDGE_STATUS_ITEMS_MAX)
		return NULL;
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		void *a = realloc(*arr, c * size);

		if (!a)
			return NULL;
		*arr = a;
		*cap = c;
	}
	p = (char *)*arr + *n * size;
	memset(p, 0, size);
	(*n)++;
	return p;
}

struct edge_status_path *edge_status_add_path(struct edge_status *st)
{
	void *arr;
	struct edge_status_path *p;

	if (!st)
		return NULL;
	arr = st->paths;
	p = add(&arr, &st->n_paths, &st->cap_paths, sizeof(*st->paths));
	st->paths = arr;
	return p;
}

struct edge_status_class *edge_status_add_class(struct edge_status *st)
{
	void *arr;
	struct edge_status_class *c;

	if (!st)
		return NULL;
	arr = st->classes;
	c = add(&arr, &st->n_classes, &st->cap_classes, sizeof(*st->classes));
	st->classes = arr;
	return c;
}

struct edge_status_class_traffic *edge_status_add_class_traffic(struct edge_status *st)
{
	void *arr;
	struct edge_status_class_traffic *c;

	if (!st)
		return NULL;
	arr = st->class_traffic;
	c = add(&arr, &st->n_class_traffic, &st->cap_class_traffic, sizeof(*st->class_traffic));
	st->class_traffic = arr;
	return c;
}

void edge_status_strcpy(char *dst, size_t size, const char *src)
{
	size_t n;

	if (!dst || !size)
		return;
	if (!src) {
		dst[0] = '\0';
		return;
	}
	n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void edge_status_clear(struct edge_status *st)
{
	if (!st)
		return;
	free(st->paths);
	free(st->classes);
	free(st->class_traffic);
	memset(st, 0, sizeof(*st));
}
