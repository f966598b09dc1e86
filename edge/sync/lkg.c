/* lkg.c — atomic last-known-good bundle file (see edge/lkg.h) */
#include <edge/bundle.h>
#include <edge/lkg.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* temp files of a writer that died before its rename (one writer: us) */
static void remove_stale_temps(const char *state_dir)
{
	char prefix[64];
	struct dirent *de;
	DIR *d;

	snprintf(prefix, sizeof(prefix), ".%s.", EDGE_LKG_FILE);
	d = opendir(state_dir);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

int edge_lkg_save(const char *state_dir, const uint8_t *buf, size_t len)
{
	char *tmp = NULL, *final = NULL;
	int fd = -1, dfd = -1, r;

	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	remove_stale_temps(state_dir);
	if (asprintf(&tmp, "%s/.%s.XXXXXX", state_dir, EDGE_LKG_FILE) < 0) {
		tmp = NULL;
		r = -ENOMEM;
		goto out;
	}
	if (asprintf(&final, "%s/%s", state_dir, EDGE_LKG_FILE) < 0) {
		final = NULL;
		r = -ENOMEM;
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (fchmod(fd, 0600) < 0) {
		r = -errno;
		goto out_unlink;
	}
	r = write_all(fd, buf, len);
	if (r < 0)
		goto out_unlink;
	if (fsync(fd) < 0) {
		r = -errno;
		goto out_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp, final) < 0) {
		r = -errno;
		goto out_unlink;
	}
	dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		goto out;
	}
	if (fsync(dfd) < 0) {
		r = -errno;
		goto out;
	}
	r = 0;
	goto out;
out_unlink:
	unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	free(tmp);
	free(final);
	return r;
}

int edge_lkg_load(const char *state_dir, uint8_t **ret_buf, size_t *ret_len)
{
	char *path = NULL;
	int r;

	if (asprintf(&path, "%s/%s", state_dir, EDGE_LKG_FILE) < 0)
		return -ENOMEM;
	r = edge_bundle_read_file(path, ret_buf, ret_len);
	free(path);
	return r;
}

int edge_lkg_remove(const char *state_dir)
{
	char *path = NULL;
	int r = 0;

	if (asprintf(&path, "%s/%s", state_dir, EDGE_LKG_FILE) < 0)
		return -ENOMEM;
	if (unlink(path) < 0 && errno != ENOENT)
		r = -errno;
	free(path);
	return r;
}
