/* triage-prior.c: the classifier's models, counts of features per category (the shared
 * prior shipped as share/triage-prior.tsv, and a user's corrections as triage-db.c reads
 * them), kept in one open-addressing hash table, and their text form, which
 * `mailroom triage --train` writes and the programs read at start-up. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "triage.h"
#include "triage-model.h"
#include "util.h"

uint64_t
triage_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h != 0 ? h : 1;
}

struct triage_model *
triage_model_new(void)
{
	struct triage_model *m = xcalloc(1, sizeof *m);

	m->cap = 1024;
	m->tab = xcalloc(m->cap, sizeof *m->tab);
	return m;
}

void
triage_model_free(struct triage_model *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->cap; i++) {
		free(m->tab[i].name);
		free(m->tab[i].c);
	}
	free(m->tab);
	free(m);
}

int
triage_model_find_class(const struct triage_model *m, const char *slug)
{
	for (size_t i = 0; i < m->nclass; i++) {
		if (strcmp(m->slug[i], slug) == 0)
			return (int)i;
	}
	return -1;
}

int
triage_model_class(struct triage_model *m, const char *slug)
{
	int k = triage_model_find_class(m, slug);

	if (k >= 0)
		return k;
	if (m->nclass == TRIAGE_MAX_CLASSES || !triage_slug_valid(slug))
		return -1;
	snprintf(m->slug[m->nclass], TRIAGE_SLUG_SIZE, "%s", slug);
	return (int)m->nclass++;
}

const struct triage_entry *
triage_model_lookup(const struct triage_model *m, const char *name, uint64_t h)
{
	size_t i = h & (m->cap - 1);

	for (;;) {
		const struct triage_entry *e = &m->tab[i];

		if (e->h == 0)
			return NULL;
		if (e->h == h && strcmp(e->name, name) == 0)
			return e;
		i = (i + 1) & (m->cap - 1);
	}
}

static void
triage_model_grow(struct triage_model *m)
{
	struct triage_entry *old = m->tab;
	size_t oldcap = m->cap;

	m->cap *= 2;
	m->tab = xcalloc(m->cap, sizeof *m->tab);
	for (size_t i = 0; i < oldcap; i++) {
		size_t j;

		if (old[i].h == 0)
			continue;
		for (j = old[i].h & (m->cap - 1); m->tab[j].h != 0; j = (j + 1) & (m->cap - 1))
			;
		m->tab[j] = old[i];
	}
	free(old);
}

void
triage_model_add(struct triage_model *m, const char *feature, const char *slug, double count)
{
	size_t n = strlen(feature), i;
	uint64_t h;
	struct triage_entry *e;
	int k;

	if (n == 0 || n >= TRIAGE_FEATURE_SIZE || (k = triage_model_class(m, slug)) < 0)
		return;
	if ((m->used + 1) * 4 > m->cap * 3)
		triage_model_grow(m);
	h = triage_hash(feature, n);
	for (i = h & (m->cap - 1); m->tab[i].h != 0; i = (i + 1) & (m->cap - 1)) {
		if (m->tab[i].h == h && strcmp(m->tab[i].name, feature) == 0)
			break;
	}
	e = &m->tab[i];
	if (e->h == 0) {
		e->h = h;
		e->name = xstrndup(feature, n);
		m->used++;
	}
	for (i = 0; i < e->n; i++) {
		if (e->c[i].cls == k) {
			e->c[i].n += count;
			return;
		}
	}
	if (e->n == e->cap) {
		e->cap = e->cap == 0 ? 2 : e->cap * 2;
		e->c = xreallocarray(e->c, e->cap, sizeof *e->c);
	}
	e->c[e->n].cls = (unsigned short)k;
	e->c[e->n].n = count;
	e->n++;
}

double
triage_entry_count(const struct triage_entry *e, int k)
{
	for (size_t i = 0; e != NULL && i < e->n; i++) {
		if (e->c[i].cls == k)
			return e->c[i].n;
	}
	return 0;
}

void
triage_model_add_docs(struct triage_model *m, const char *slug, double docs, double features)
{
	int k = triage_model_class(m, slug);

	if (k < 0)
		return;
	m->docs[k] += docs;
	m->features[k] += features;
}

size_t
triage_model_vocabulary(const struct triage_model *m)
{
	return m->used;
}

static int
triage_model_entry_cmp(const void *a, const void *b)
{
	const struct triage_entry *x = *(const struct triage_entry *const *)a;
	const struct triage_entry *y = *(const struct triage_entry *const *)b;

	return strcmp(x->name, y->name);
}

int
triage_model_write(const struct triage_model *m, FILE *f)
{
	const struct triage_entry **v = xcalloc(m->used + 1, sizeof *v);
	size_t n = 0;
	int order[TRIAGE_MAX_CLASSES];

	/* Classes in slug order, so that the text does not depend on the order of training. */
	for (size_t i = 0; i < m->nclass; i++) {
		size_t j = i;

		while (j > 0 && strcmp(m->slug[order[j - 1]], m->slug[i]) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = (int)i;
	}
	fprintf(f, "# mailroom triage model 1: D slug documents features / F feature slug count\n");
	for (size_t i = 0; i < m->nclass; i++)
		fprintf(f, "D\t%s\t%.9g\t%.9g\n", m->slug[order[i]], m->docs[order[i]],
		    m->features[order[i]]);
	for (size_t i = 0; i < m->cap; i++) {
		if (m->tab[i].h != 0)
			v[n++] = &m->tab[i];
	}
	qsort(v, n, sizeof *v, triage_model_entry_cmp);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < m->nclass; k++) {
			double c = triage_entry_count(v[i], order[k]);

			if (c != 0)
				fprintf(f, "F\t%s\t%s\t%.9g\n", v[i]->name, m->slug[order[k]], c);
		}
	}
	free(v);
	return ferror(f) ? -1 : 0;
}

/* The next tab-separated field of *p (the line is changed in place), or NULL. */
static char *
triage_model_field(char **p)
{
	char *s = *p, *t;

	if (s == NULL)
		return NULL;
	t = strchr(s, '\t');
	if (t != NULL) {
		*t = '\0';
		*p = t + 1;
	} else {
		*p = NULL;
	}
	return s;
}

static int
triage_model_number(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return s != end && *end == '\0' && errno == 0 && isfinite(*out) ? 0 : -1;
}

struct triage_model *
triage_model_read(const char *path, char *err, size_t errlen)
{
	struct triage_model *m;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	m = triage_model_new();
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *p = line, *kind, *a, *b, *c;
		double x, y;

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		kind = triage_model_field(&p);
		a = triage_model_field(&p);
		b = triage_model_field(&p);
		c = triage_model_field(&p);
		if (strcmp(kind, "D") == 0 && a != NULL && b != NULL && c != NULL && p == NULL &&
		    triage_slug_valid(a) && triage_model_number(b, &x) == 0 &&
		    triage_model_number(c, &y) == 0 && triage_model_class(m, a) >= 0) {
			triage_model_add_docs(m, a, x, y);
			continue;
		}
		if (strcmp(kind, "F") == 0 && a != NULL && b != NULL && c != NULL && p == NULL &&
		    *a != '\0' && strlen(a) < TRIAGE_FEATURE_SIZE && triage_slug_valid(b) &&
		    triage_model_number(c, &x) == 0 && triage_model_class(m, b) >= 0) {
			triage_model_add(m, a, b, x);
			continue;
		}
		snprintf(err, errlen, "%s:%ld: not a line of a triage model", path, lineno);
		goto fail;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		goto fail;
	}
	free(line);
	fclose(f);
	return m;
fail:
	free(line);
	fclose(f);
	triage_model_free(m);
	return NULL;
}

const char *
triage_prior_default_path(void)
{
	static const char installed[] = MR_PKGDATADIR "/triage-prior.tsv";
#ifdef MR_SRCDIR
	static const char tree[] = MR_SRCDIR "/share/triage-prior.tsv";

	/* Not installed: the programs run from their build tree. */
	if (access(installed, R_OK) != 0 && access(tree, R_OK) == 0)
		return tree;
#endif
	return installed;
}
