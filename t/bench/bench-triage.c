/* bench-triage.c: the classifier (app/triage.h) on the labelled corpus t/triage-corpus
 * (its README.md): counts the features of the training split into a model, the way a
 * user's corrections are counted, and classifies the held-out split twice, with the
 * shipped prior alone (day one) and with the prior plus that model. Each message gets
 * the context the store would give it: the user's address, the sender's history in the
 * user's mail of the corpus, and the state of its thread. Prints held-out accuracy per
 * category and overall, a confusion matrix ("#" lines), and the classification rate
 * against mime_parse's on the same messages in the same run.
 *   bench-triage [CORPUS-DIR [PRIOR-FILE]]
 * Prints "name value" lines on stdout; progress goes to stderr. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime.h"
#include "triage.h"
#include "util.h"

#define BENCH_MAX_FILE (8u << 20)
#define BENCH_MIN_US 1000000	/* each rate is measured over at least this long... */
#define BENCH_MIN_ROUNDS 3	/* ...and this many passes over the held-out split */
#define BENCH_NCAT TRIAGE_BUILTIN

struct bench_msg {
	char *path;
	char *raw;
	size_t len;
	struct mime_message *mm;
	int64_t date;
	char *from;			/* lower-cased From address, "" when none */
};

struct bench_item {
	size_t msg;			/* the labelled message */
	size_t *thread;			/* its thread's messages, in order */
	size_t nthread, pos;		/* how many, and where the labelled one is */
	int cat;			/* index in triage_builtin_slugs */
	int test;
	char *user;
	const char *self[2];
	struct triage_message tm;
	struct triage_context ctx;
	int got_prior, got_trained;	/* the decisions, as category indexes */
	size_t owner;			/* index in struct bench's owners */
};

/* One user of the corpus and every message of their items, each once. */
struct bench_owner {
	const char *user;
	size_t *msgs;
	size_t n;
};

struct bench {
	const char *dir;
	struct bench_msg *msgs;
	size_t nmsgs, capmsgs;
	struct bench_item *items;
	size_t nitems, capitems;
	struct bench_owner *owners;
	size_t nowners;
};

static char *
bench_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t cap = 65536, n = 0, r;

	if (f == NULL)
		fatal("%s: %s", path, strerror(errno));
	buf = xmalloc(cap);
	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			if (cap >= BENCH_MAX_FILE)
				fatal("%s: larger than %u bytes", path, BENCH_MAX_FILE);
			cap *= 2;
			buf = xreallocarray(buf, cap, 1);
		}
	}
	if (ferror(f))
		fatal("%s: %s", path, strerror(errno));
	fclose(f);
	*len = n;
	return buf;
}

static char *
bench_lower(const char *s)
{
	char *d = xstrdup(s), *p;

	for (p = d; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	return d;
}

/* The message at rel (relative to the corpus), read and parsed once. */
static size_t
bench_msg(struct bench *b, const char *rel)
{
	struct bench_msg *m;

	for (size_t i = 0; i < b->nmsgs; i++)
		if (strcmp(b->msgs[i].path, rel) == 0)
			return i;
	if (b->nmsgs == b->capmsgs) {
		b->capmsgs = b->capmsgs ? b->capmsgs * 2 : 1024;
		b->msgs = xreallocarray(b->msgs, b->capmsgs, sizeof *b->msgs);
	}
	m = &b->msgs[b->nmsgs];
	memset(m, 0, sizeof *m);
	m->path = xstrdup(rel);
	{
		char *full = xasprintf("%s/%s", b->dir, rel);

		m->raw = bench_read(full, &m->len);
		free(full);
	}
	if (mime_parse(m->raw, m->len, &m->mm) != 0)
		fatal("out of memory");
	m->date = m->mm->date;
	m->from = m->mm->from.n > 0 ? bench_lower(m->mm->from.v[0].address) : xstrdup("");
	return b->nmsgs++;
}

static int
bench_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.eml of the thread directory rel, in name order (the thread's order). */
static void
bench_thread(struct bench *b, struct bench_item *it, const char *rel)
{
	char *full = xasprintf("%s/%s", b->dir, rel), **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *d;

	if ((d = opendir(full)) == NULL)
		fatal("%s: %s", full, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (l < 5 || strcmp(e->d_name + l - 4, ".eml") != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			names = xreallocarray(names, cap, sizeof *names);
		}
		names[n++] = xasprintf("%s/%s", rel, e->d_name);
	}
	closedir(d);
	free(full);
	qsort(names, n, sizeof *names, bench_strcmp);
	it->thread = xreallocarray(NULL, n ? n : 1, sizeof *it->thread);
	it->nthread = n;
	it->pos = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		it->thread[i] = bench_msg(b, names[i]);
		if (it->thread[i] == it->msg)
			it->pos = i;
		free(names[i]);
	}
	free(names);
	if (it->pos == SIZE_MAX)
		fatal("%s: the thread %s does not hold it", b->msgs[it->msg].path, rel);
}

/* labels.tsv: file, category, split, user, thread (or "-"). */
static void
bench_load(struct bench *b)
{
	char *path = xasprintf("%s/labels.tsv", b->dir), line[4096];
	FILE *f = fopen(path, "r");
	long lineno = 0;

	if (f == NULL)
		fatal("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, f) != NULL) {
		char *field[5], *s = line, *nl;
		struct bench_item *it;
		int k = 0;

		lineno++;
		if ((nl = strchr(line, '\n')) == NULL)
			fatal("%s:%ld: line too long", path, lineno);
		*nl = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		while (k < 5 && s != NULL) {
			field[k++] = s;
			if ((s = strchr(s, '\t')) != NULL)
				*s++ = '\0';
		}
		if (k != 5 || s != NULL)
			fatal("%s:%ld: not 5 tab-separated fields", path, lineno);
		if (b->nitems == b->capitems) {
			b->capitems = b->capitems ? b->capitems * 2 : 1024;
			b->items = xreallocarray(b->items, b->capitems, sizeof *b->items);
		}
		it = &b->items[b->nitems];
		memset(it, 0, sizeof *it);
		if ((it->cat = triage_builtin_index(field[1])) < 0)
			fatal("%s:%ld: unknown category %s", path, lineno, field[1]);
		if (strcmp(field[2], "test") != 0 && strcmp(field[2], "train") != 0)
			fatal("%s:%ld: split is %s, not train or test", path, lineno, field[2]);
		it->test = strcmp(field[2], "test") == 0;
		it->user = bench_lower(field[3]);
		it->msg = bench_msg(b, field[0]);
		if (strcmp(field[4], "-") == 0) {
			it->thread = xmalloc(sizeof *it->thread);
			it->thread[0] = it->msg;
			it->nthread = 1;
		} else
			bench_thread(b, it, field[4]);
		b->nitems++;
	}
	fclose(f);
	free(path);
}

static int
bench_addr_in(const struct mime_address_list *l, const char *addr)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i].address, addr) == 0)
			return 1;
	return 0;
}

/* The users of the corpus and their mail: the messages of their items' threads. */
static void
bench_owners(struct bench *b)
{
	unsigned char *seen = xcalloc(b->nmsgs, 1);

	b->owners = xcalloc(b->nitems, sizeof *b->owners);
	for (size_t i = 0; i < b->nitems; i++) {
		struct bench_item *it = &b->items[i];
		size_t k;

		for (k = 0; k < b->nowners && strcmp(b->owners[k].user, it->user) != 0; k++)
			;
		if (k == b->nowners)
			b->owners[b->nowners++].user = it->user;
		it->owner = k;
	}
	for (size_t k = 0; k < b->nowners; k++) {
		struct bench_owner *o = &b->owners[k];

		memset(seen, 0, b->nmsgs);
		o->msgs = xcalloc(b->nmsgs, sizeof *o->msgs);
		for (size_t i = 0; i < b->nitems; i++) {
			const struct bench_item *it = &b->items[i];

			if (it->owner != k)
				continue;
			for (size_t j = 0; j < it->nthread; j++)
				if (!seen[it->thread[j]]) {
					seen[it->thread[j]] = 1;
					o->msgs[o->n++] = it->thread[j];
				}
		}
	}
	free(seen);
}

/* What triage-db.c's triage_db_context asks the store, answered from the corpus: the
 * user's mail is every message of the items with the same user address. */
static void
bench_context(struct bench *b, struct bench_item *it)
{
	const struct bench_msg *m = &b->msgs[it->msg];
	const struct bench_owner *o = &b->owners[it->owner];
	struct triage_context *c = &it->ctx;

	memset(c, 0, sizeof *c);
	it->self[0] = it->user;
	it->self[1] = NULL;
	c->self = it->self;
	triage_message_from_mime(&it->tm, m->mm, it->self);
	if (*m->from != '\0') {
		c->history = 1;
		for (size_t j = 0; j < o->n; j++) {
			const struct bench_msg *x = &b->msgs[o->msgs[j]];

			if (x == m)
				continue;
			if (strcmp(x->from, it->user) == 0) {
				if (bench_addr_in(&x->mm->to, m->from) ||
				    bench_addr_in(&x->mm->cc, m->from))
					c->to_sender++;
			} else if (strcmp(x->from, m->from) == 0 && x->date < m->date)
				c->from_sender++;
		}
	}
	/* Every stored message has a thread, if only of itself. */
	c->thread = 1;
	for (size_t j = 0; j < it->nthread; j++) {
		const struct bench_msg *x = &b->msgs[it->thread[j]];
		int mine = strcmp(x->from, it->user) == 0;

		if (j < it->pos && mine)
			c->user_in_thread = 1;
		if (j > it->pos && mine)
			c->user_replied_after = 1;
		if (j > it->pos && !mine)
			c->answered_after = 1;
		if (j != it->pos && mine && m->mm->in_reply_to != NULL &&
		    strcmp(m->mm->in_reply_to, x->mm->message_id) == 0)
			c->answers_user = 1;
	}
}

static int
bench_cat(const char *slug)
{
	int k = triage_builtin_index(slug);

	return k < 0 ? BENCH_NCAT : k;
}

/* Classifies the held-out split; returns the microseconds spent in triage_classify. */
static int64_t
bench_classify(struct bench *b, struct triage_classifier *tc, const struct triage_model *um,
    int trained)
{
	int64_t spent = 0;

	for (size_t i = 0; i < b->nitems; i++) {
		struct bench_item *it = &b->items[i];
		struct triage_decision d;
		int64_t t0;

		if (!it->test)
			continue;
		it->ctx.user_model = um;
		t0 = util_now_us();
		triage_classify(tc, &it->tm, &it->ctx, &d);
		spent += util_now_us() - t0;
		if (trained)
			it->got_trained = bench_cat(d.category);
		else
			it->got_prior = bench_cat(d.category);
	}
	return spent;
}

static void
bench_report(const struct bench *b, const char *name, int trained)
{
	long conf[BENCH_NCAT][BENCH_NCAT + 1], total[BENCH_NCAT] = { 0 }, right = 0, all = 0;

	memset(conf, 0, sizeof conf);
	for (size_t i = 0; i < b->nitems; i++) {
		const struct bench_item *it = &b->items[i];
		int got = trained ? it->got_trained : it->got_prior;

		if (!it->test)
			continue;
		conf[it->cat][got]++;
		total[it->cat]++;
		all++;
		right += got == it->cat;
	}
	for (int k = 0; k < BENCH_NCAT; k++)
		printf("%s_accuracy{category=\"%s\"} %.3f\n", name, triage_builtin_slugs[k],
		    total[k] ? (double)conf[k][k] / (double)total[k] : 0.0);
	printf("%s_accuracy %.3f\n", name, all ? (double)right / (double)all : 0.0);
	printf("# %s: held-out confusion matrix, rows the label, columns the decision\n", name);
	printf("# %-15s", "");
	for (int k = 0; k < BENCH_NCAT; k++)
		printf(" %6.6s", triage_builtin_slugs[k]);
	printf("  other\n");
	for (int k = 0; k < BENCH_NCAT; k++) {
		printf("# %-15s", triage_builtin_slugs[k]);
		for (int j = 0; j <= BENCH_NCAT; j++)
			printf(" %6ld", conf[k][j]);
		printf("\n");
	}
}

/* Messages per second of mime_parse over the held-out split, over BENCH_MIN_US at least
 * and BENCH_MIN_ROUNDS passes. */
static double
bench_rate_parse(const struct bench *b)
{
	int64_t spent = 0;
	long n = 0;

	for (int round = 0; round < BENCH_MIN_ROUNDS || spent < BENCH_MIN_US; round++)
		for (size_t i = 0; i < b->nitems; i++) {
			const struct bench_msg *m = &b->msgs[b->items[i].msg];
			struct mime_message *mm;
			int64_t t0;

			if (!b->items[i].test)
				continue;
			t0 = util_now_us();
			if (mime_parse(m->raw, m->len, &mm) != 0)
				fatal("out of memory");
			mime_message_free(mm);
			spent += util_now_us() - t0;
			n++;
		}
	return (double)n * 1e6 / (double)spent;
}

static double
bench_rate_classify(struct bench *b, struct triage_classifier *tc,
    const struct triage_model *um)
{
	int64_t spent = 0;
	long n = 0, ntest = 0;

	for (size_t i = 0; i < b->nitems; i++)
		ntest += b->items[i].test;
	for (int round = 0; round < BENCH_MIN_ROUNDS || spent < BENCH_MIN_US; round++) {
		spent += bench_classify(b, tc, um, 1);
		n += ntest;
	}
	return (double)n * 1e6 / (double)spent;
}

int
main(int argc, char **argv)
{
	struct bench b;
	struct triage_model *prior, *model;
	struct triage_classifier *tc;
	const char *prior_path;
	char err[512];
	long ntrain = 0, ntest = 0, per[BENCH_NCAT][2];
	int64_t t0, train_us;
	double parse_rate, classify_rate;

	memset(&b, 0, sizeof b);
	memset(per, 0, sizeof per);
	b.dir = argc > 1 ? argv[1] : MR_SRCDIR "/t/triage-corpus";
	prior_path = argc > 2 ? argv[2] : triage_prior_default_path();
	mime_init();
	if ((prior = triage_model_read(prior_path, err, sizeof err)) == NULL)
		fatal("%s", err);
	t0 = util_now_us();
	bench_load(&b);
	bench_owners(&b);
	for (size_t i = 0; i < b.nitems; i++) {
		bench_context(&b, &b.items[i]);
		per[b.items[i].cat][b.items[i].test]++;
		if (b.items[i].test)
			ntest++;
		else
			ntrain++;
	}
	fprintf(stderr, "bench-triage: %zu messages, %ld labelled for training, %ld held out, "
	    "read and parsed in %lld ms\n", b.nmsgs, ntrain, ntest,
	    (long long)((util_now_us() - t0) / 1000));
	for (int k = 0; k < BENCH_NCAT; k++)
		printf("triage_corpus{category=\"%s\"} %ld train %ld test\n",
		    triage_builtin_slugs[k], per[k][0], per[k][1]);

	/* Day one: the shipped prior and the signals, nothing learned. */
	tc = triage_classifier_new(prior);
	bench_classify(&b, tc, NULL, 0);
	bench_report(&b, "triage_prior", 0);

	/* The training split counted like corrections: the features of each message for
	 * its label, in a model used on top of the prior as a user's model is. */
	t0 = util_now_us();
	model = triage_model_new();
	for (size_t i = 0; i < b.nitems; i++) {
		struct bench_item *it = &b.items[i];
		const char **f;
		size_t n;

		if (it->test)
			continue;
		it->ctx.user_model = NULL;
		n = triage_features(tc, &it->tm, &it->ctx, &f);
		for (size_t j = 0; j < n; j++)
			triage_model_add(model, f[j], triage_builtin_slugs[it->cat], 1);
		triage_model_add_docs(model, triage_builtin_slugs[it->cat], 1, (double)n);
	}
	train_us = util_now_us() - t0;
	bench_classify(&b, tc, model, 1);
	bench_report(&b, "triage_trained", 1);
	printf("triage_train_ms %.1f\ntriage_model_features %zu\n", (double)train_us / 1000.0,
	    triage_model_vocabulary(model));

	/* Rates over the held-out split: the classifier on parsed messages, and the parser
	 * alone on the same bytes (the reference). */
	parse_rate = bench_rate_parse(&b);
	classify_rate = bench_rate_classify(&b, tc, model);
	printf("triage_msgs_per_s %.0f\nmime_parse_msgs_per_s %.0f\n"
	    "triage_vs_mime_parse %.2f\n", classify_rate, parse_rate,
	    classify_rate / parse_rate);

	triage_classifier_free(tc);
	triage_model_free(model);
	triage_model_free(prior);
	for (size_t i = 0; i < b.nitems; i++) {
		free(b.items[i].thread);
		free(b.items[i].user);
	}
	free(b.items);
	for (size_t k = 0; k < b.nowners; k++)
		free(b.owners[k].msgs);
	free(b.owners);
	for (size_t i = 0; i < b.nmsgs; i++) {
		mime_message_free(b.msgs[i].mm);
		free(b.msgs[i].raw);
		free(b.msgs[i].path);
		free(b.msgs[i].from);
	}
	free(b.msgs);
	return 0;
}
