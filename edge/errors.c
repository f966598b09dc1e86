/* errors.c — list of field-named error messages (see edge/errors.h) */
#include <edge/errors.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void edge_errors_addf(struct edge_errors *errs, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int r;

	if (!errs)
		return;
	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0) {
		errs->oom = true;
		return;
	}
	if (errs->n == errs->cap) {
		size_t cap = errs->cap ? errs->cap * 2 : 8;
		char **m = realloc(errs->msg, cap * sizeof(*m));

		if (!m) {
			free(s);
			errs->oom = true;
			return;
		}
		errs->msg = m;
		errs->cap = cap;
	}
	errs->msg[errs->n++] = s;
}

size_t edge_errors_count(const struct edge_errors *errs)
{
	return errs->n + (errs->oom ? 1 : 0);
}

char *edge_errors_join(const struct edge_errors *errs, const char *sep)
{
	size_t len = 1, seplen = strlen(sep);
	char *out, *p;

	for (size_t i = 0; i < errs->n; i++)
		len += strlen(errs->msg[i]) + seplen;
	if (errs->oom)
		len += strlen("(out of memory: errors lost)") + seplen;
	out = malloc(len);
	if (!out)
		return NULL;
	p = out;
	*p = '\0';
	for (size_t i = 0; i < errs->n; i++) {
		if (i)
			p = stpcpy(p, sep);
		p = stpcpy(p, errs->msg[i]);
	}
	if (errs->oom) {
		if (errs->n)
			p = stpcpy(p, sep);
		stpcpy(p, "(out of memory: errors lost)");
	}
	return out;
}

void edge_errors_clear(struct edge_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msg[i]);
	free(errs->msg);
	*errs = (struct edge_errors)EDGE_ERRORS_INIT;
}
