/* replay.c: runs a fuzz harness without libFuzzer, for make check. Linked with one
 * harness as t/fuzz/replay-<name>, it feeds it every file of the seed corpus
 * $srcdir/t/fuzz/corpus/<name>/ and a fixed series of mutations of them, so that each
 * check exercises the same inputs; a crash or a sanitizer report is the failure. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MUTATIONS 2000
#define REPLAY_MAX_FILE (1024 * 1024)

struct replay_input {
	char *path;
	uint8_t *data;
	size_t len;
};

static struct replay_input *replay_inputs;
static size_t replay_ninputs;
static uint64_t replay_state = 0x6d61696c726f6f6dULL;

/* xorshift64*: the same mutations on every machine and every run. */
static uint64_t
replay_rand(void)
{
	replay_state ^= replay_state >> 12;
	replay_state ^= replay_state << 25;
	replay_state ^= replay_state >> 27;
	return replay_state * 0x2545f4914f6cdd1dULL;
}

static size_t
replay_below(size_t n)
{
	return n == 0 ? 0 : (size_t)(replay_rand() % n);
}

static void *
replay_malloc(size_t n)
{
	void *p = malloc(n != 0 ? n : 1);

	if (p == NULL) {
		fprintf(stderr, "replay: out of memory\n");
		exit(1);
	}
	return p;
}

static char *
replay_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = replay_malloc(n);

	memcpy(p, s, n);
	return p;
}

static int
replay_load(const char *path)
{
	struct replay_input *in;
	FILE *f;
	long n;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > REPLAY_MAX_FILE ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "replay: %s: cannot read (or larger than %d bytes)\n", path,
		    REPLAY_MAX_FILE);
		fclose(f);
		return -1;
	}
	replay_inputs = realloc(replay_inputs, (replay_ninputs + 1) * sizeof(*replay_inputs));
	if (replay_inputs == NULL) {
		fprintf(stderr, "replay: out of memory\n");
		exit(1);
	}
	in = &replay_inputs[replay_ninputs];
	in->len = (size_t)n;
	in->data = replay_malloc(in->len);
	in->path = replay_strdup(path);
	if (fread(in->data, 1, in->len, f) != in->len) {
		fprintf(stderr, "replay: %s: short read\n", path);
		fclose(f);
		free(in->data);
		free(in->path);
		return -1;
	}
	fclose(f);
	replay_ninputs++;
	return 0;
}

static int
replay_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads the regular files of dir in name order, which readdir does not promise. */
static int
replay_load_dir(const char *dir)
{
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	DIR *d;
	int rc = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "replay: corpus %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		if (names == NULL) {
			fprintf(stderr, "replay: out of memory\n");
			exit(1);
		}
		names[n++] = replay_strdup(de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), replay_cmp);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(dir) + strlen(names[i]) + 2;
		char *path = replay_malloc(len);
		struct stat st;

		snprintf(path, len, "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && replay_load(path) == -1)
			rc = -1;
		free(path);
		free(names[i]);
	}
	free(names);
	return rc;
}

static int
replay_load_arg(const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return S_ISDIR(st.st_mode) ? replay_load_dir(path) : replay_load(path);
}

static void
replay_run(const uint8_t *data, size_t len)
{
	/* An exact-size copy: the sanitizers see any read past the input. */
	uint8_t *copy = replay_malloc(len);

	if (len > 0)
		memcpy(copy, data, len);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
}

/* Bytes that matter to the parsers under test: escapes, quotes, separators, line ends. */
static const uint8_t replay_interesting[] = {
	'%', '"', '\0', '\r', '\n', '-', ';', '=', '&', '+', '\\', '[', '{', ']', '}',
	',', ':', ' ', '\t', '/', 0x7f, 0x80, 0xc3, 0xff
};

/* Applies one to four random edits to buf (len bytes, room for cap). Returns the new
 * length. */
static size_t
replay_mutate(uint8_t *buf, size_t len, size_t cap)
{
	size_t edits = 1 + replay_below(4);

	for (size_t e = 0; e < edits; e++) {
		uint8_t b = replay_interesting[replay_below(sizeof(replay_interesting))];
		size_t pos = replay_below(len + 1), n;

		switch (replay_below(6)) {
		case 0: /* flip a bit */
			if (len > 0)
				buf[replay_below(len)] ^= (uint8_t)(1u << replay_below(8));
			break;
		case 1: /* overwrite with an interesting byte */
			if (len > 0)
				buf[replay_below(len)] = b;
			break;
		case 2: /* insert an interesting byte */
			if (len < cap) {
				memmove(buf + pos + 1, buf + pos, len - pos);
				buf[pos] = b;
				len++;
			}
			break;
		case 3: /* truncate */
			len = pos;
			break;
		case 4: /* delete a range */
			n = replay_below(len - pos + 1);
			memmove(buf + pos, buf + pos + n, len - pos - n);
			len -= n;
			break;
		default: /* duplicate a range in place of what follows it */
			if (pos < len) {
				n = replay_below(len - pos + 1);
				if (len + n <= cap) {
					memmove(buf + pos + n, buf + pos, len - pos);
					len += n;
				}
			}
			break;
		}
	}
	return len;
}

static const char *
replay_name(const char *argv0)
{
	const char *base = strrchr(argv0, '/');

	base = base != NULL ? base + 1 : argv0;
	if (strncmp(base, "lt-", 3) == 0)
		base += 3;
	if (strncmp(base, "replay-", 7) == 0)
		base += 7;
	return base;
}

int
main(int argc, char **argv)
{
	const char *srcdir, *name;
	size_t passed = 0, cap = 0;
	uint8_t *buf = NULL;
	char *dir;
	int rc = 0;

	name = replay_name(argc > 0 ? argv[0] : "replay");
	if (argc > 1) {
		/* Explicit files or directories, to reproduce a fuzzer's finding. */
		for (int i = 1; i < argc; i++) {
			if (replay_load_arg(argv[i]) == -1)
				rc = 1;
		}
	} else {
		size_t len;

		if ((srcdir = getenv("srcdir")) == NULL || *srcdir == '\0')
			srcdir = ".";
		len = strlen(srcdir) + strlen(name) + 32;
		dir = replay_malloc(len);
		snprintf(dir, len, "%s/t/fuzz/corpus/%s", srcdir, name);
		if (replay_load_dir(dir) == -1)
			rc = 1;
		free(dir);
	}
	if (rc != 0 || replay_ninputs == 0) {
		fprintf(stderr, "replay-%s: no corpus to replay\n", name);
		return 1;
	}

	for (size_t i = 0; i < replay_ninputs; i++) {
		replay_run(replay_inputs[i].data, replay_inputs[i].len);
		passed++;
		if (replay_inputs[i].len * 2 + 64 > cap)
			cap = replay_inputs[i].len * 2 + 64;
	}
	buf = replay_malloc(cap);
	for (int m = 0; m < REPLAY_MUTATIONS; m++) {
		const struct replay_input *in = &replay_inputs[replay_below(replay_ninputs)];
		size_t len = in->len;

		if (len > 0)
			memcpy(buf, in->data, len);
		len = replay_mutate(buf, len, cap);
		replay_run(buf, len);
		passed++;
	}
	free(buf);
	for (size_t i = 0; i < replay_ninputs; i++) {
		free(replay_inputs[i].data);
		free(replay_inputs[i].path);
	}
	free(replay_inputs);
	printf("replay-%s: %zu passed, 0 failed\n", name, passed);
	return 0;
}
