/*
 * regress.c - replay fuzz inputs without libFuzzer
 *
 * Linked with one fuzz target (fuzz_*.c) instead of -fsanitize=fuzzer, so
 * that "make check" can run the seed corpus and every saved crash input
 * through the target with any compiler.  Arguments are files or
 * directories (whose regular files are replayed in name order, so a
 * failure is reproducible); the last line on stdout counts the inputs.
 * A target that finds a problem aborts, so the exit status says it all.
 *
 * SPDX-License-Identifier: MIT
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* optional, as with libFuzzer; none of our targets needs it today */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *buf;
	size_t size;

	if (f == NULL || fstat(fileno(f), &st) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		if (f != NULL) {
			fclose(f);
		}
		return -1;
	}
	size = (size_t)st.st_size;
	/*
	 * Exactly size bytes, as libFuzzer hands them over, so that a build
	 * with AddressSanitizer catches reads past the end here too.
	 */
	buf = malloc(size > 0 ? size : 1);
	if (buf == NULL || fread(buf, 1, size, f) != size) {
		fprintf(stderr, "%s: cannot read it\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, size);
	free(buf);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay every regular file of dir in name order; -1 on error. */
static int replay_dir(const char *dir, unsigned long *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int ret = 0;

	if (d == NULL) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.') {
			continue;	/* ".", ".." and hidden files */
		}
		if (n == cap) {
			char **p;

			cap = cap == 0 ? 64 : cap * 2;
			p = realloc(names, cap * sizeof(*names));
			if (p == NULL) {
				ret = -1;
				break;
			}
			names = p;
		}
		names[n] = malloc(strlen(dir) + strlen(de->d_name) + 2);
		if (names[n] == NULL) {
			ret = -1;
			break;
		}
		sprintf(names[n], "%s/%s", dir, de->d_name);
		n++;
	}
	closedir(d);
	if (n > 0) {
		qsort(names, n, sizeof(*names), name_cmp);
	}
	for (i = 0; i < n && ret == 0; i++) {
		struct stat st;

		if (stat(names[i], &st) == -1 || !S_ISREG(st.st_mode)) {
			continue;
		}
		if (replay_file(names[i]) == -1) {
			ret = -1;
			break;
		}
		(*count)++;
	}
	for (i = 0; i < n; i++) {
		free(names[i]);
	}
	free(names);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned long count = 0;
	struct stat st;
	int i;

	if (LLVMFuzzerInitialize != NULL) {
		LLVMFuzzerInitialize(&argc, &argv);
	}
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE-OR-DIR...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) == -1) {
				return 1;
			}
		} else {
			if (replay_file(argv[i]) == -1) {
				return 1;
			}
			count++;
		}
	}
	printf("%lu inputs replayed\n", count);
	return 0;
}
