/* test-mime-corpus.c: every message of t/mime-corpus/ (real-world, unusual and malformed
 * mail from other parsers' test suites, see its README.md) is read by mime_parse without a
 * crash, with every string valid UTF-8 and a short snippet. Run under the sanitizers by the
 * sanitizer build. */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mime.h"
#include "mime-check.h"
#include "unit.h"
#include "util.h"

static size_t corpus_files, corpus_warned, corpus_warnings, corpus_attachments;

static int
corpus_is_message(const char *name)
{
	size_t n = strlen(name);

	return (n > 4 && (strcmp(name + n - 4, ".eml") == 0 || strcmp(name + n - 4, ".msg") == 0));
}

static void
corpus_file(const char *path)
{
	struct mime_message *m = NULL;
	const char *why;
	char *raw;
	long n;
	FILE *f = fopen(path, "rb");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_FATAL(fseek(f, 0, SEEK_END) == 0);
	n = ftell(f);
	CU_ASSERT_FATAL(n >= 0 && fseek(f, 0, SEEK_SET) == 0);
	raw = xmalloc((size_t)n + 1);
	CU_ASSERT_FATAL(fread(raw, 1, (size_t)n, f) == (size_t)n);
	fclose(f);

	CU_ASSERT_FATAL(mime_parse(raw, (size_t)n, &m) == 0);
	why = mime_check(m);
	if (why != NULL)
		fprintf(stderr, "%s: %s\n", path, why);
	CU_ASSERT_PTR_NULL(why);
	corpus_files++;
	corpus_warnings += m->n_warnings;
	corpus_attachments += m->n_attachments;
	if (m->n_warnings > 0)
		corpus_warned++;
	if (getenv("MIME_CORPUS_VERBOSE") != NULL) {
		printf("%s: %zu attachments, text %zu bytes, html %s\n", path, m->n_attachments,
		    strlen(m->text), m->html != NULL ? "yes" : "no");
		for (size_t i = 0; i < m->n_warnings; i++)
			printf("  warning: %s\n", m->warnings[i]);
	}
	mime_message_free(m);
	free(raw);
}

static void
corpus_dir(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d)) != NULL) {
		char *path;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				corpus_dir(path);
			else if (S_ISREG(st.st_mode) && corpus_is_message(de->d_name))
				corpus_file(path);
		}
		free(path);
	}
	closedir(d);
}

static void
test_corpus(void)
{
	const char *srcdir = getenv("srcdir");
	char *dir = xasprintf("%s/t/mime-corpus", srcdir != NULL && *srcdir != '\0' ? srcdir :
	    MR_SRCDIR);

	corpus_dir(dir);
	free(dir);
	printf("\n  %zu messages, %zu with warnings, %zu warnings, %zu attachments\n",
	    corpus_files, corpus_warned, corpus_warnings, corpus_attachments);
	CU_ASSERT(corpus_files >= 200);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "every message of the corpus", test_corpus },
		{ NULL, NULL },
	};

	return unit_run("mime-corpus", tests);
}
