/* cli-triage.c: "mailroom triage", the classifier's command (doc/triage.md):
 *   --explain [--user EMAIL] [--prior FILE] FILE...: one JSON line per message file,
 *       {"file", "category", "confidence", "reasons", "source"}, against the user's store
 *       (their addresses, history, threads, corrections) or, without --user, none;
 *   --pending [--user EMAIL] [--limit N]: classifies the stored messages not triaged yet;
 *   --train DIR --out FILE [--self ADDRESS]...: counts the features of a labelled corpus
 *       (DIR/<category slug>/ and its messages, *.eml) into a model file, the shipped prior's form;
 *   --evaluate DIR [--prior FILE] [--self ADDRESS]...: accuracy per category on a
 *       labelled corpus, and the classification rate. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "cli.h"
#include "db-migrate.h"
#include "mime.h"
#include "triage.h"
#include "triage-model.h"
#include "util.h"

#define CLI_TRIAGE_MAX_FILE (32u << 20)
#define CLI_TRIAGE_MAX_SELF 16

static int cli_triage_exec(int argc, char **argv);

const struct cli_cmd cli_triage_entry = {
	"triage", "--explain [--user EMAIL] [--prior FILE] FILE... | --pending [--user EMAIL] "
	"[--limit N] | --train DIR --out FILE [--self ADDRESS]... | --evaluate DIR "
	"[--prior FILE] [--self ADDRESS]...", cli_triage_exec
};

/* The whole of a file, malloc'd; NULL with a message in err. */
static char *
cli_triage_read(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *buf;

	if (f == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		fclose(f);
		return NULL;
	}
	if ((uintmax_t)st.st_size > CLI_TRIAGE_MAX_FILE) {
		snprintf(err, errlen, "larger than %u MB", CLI_TRIAGE_MAX_FILE >> 20);
		fclose(f);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	*len = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		snprintf(err, errlen, "%s", strerror(errno));
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

/* The id of the user with this address; 0 (with a message) when none, -1 on an error. */
static int64_t
cli_triage_user(PGconn *conn, const char *email)
{
	const char *p[1] = { email };
	PGresult *r = PQexecParams(conn, "SELECT id FROM users WHERE email = $1", 1, NULL, p,
	    NULL, NULL, 0);
	int64_t id = -1;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fprintf(stderr, "mailroom: triage: database: %s", PQerrorMessage(conn));
	else if (PQntuples(r) != 1)
		fprintf(stderr, "mailroom: triage: no user with the address %s\n", email), id = 0;
	else
		id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return id;
}

/* Connects, checks the schema and finds the user (when email is not NULL). */
static PGconn *
cli_triage_connect(const char *email, int64_t *user_id)
{
	PGconn *conn = main_cli_connect();
	char err[1024];

	*user_id = 0;
	if (db_migrate_check(conn, err, sizeof err) == -1) {
		fprintf(stderr, "mailroom: triage: %s (run: mailroom migrate up)\n", err);
		PQfinish(conn);
		return NULL;
	}
	if (email != NULL && (*user_id = cli_triage_user(conn, email)) <= 0) {
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

static void
cli_triage_print(const char *file, const struct triage_decision *d)
{
	json_t *o = json_object();
	char *line;

	json_object_set_new(o, "file", json_string(file));
	json_object_set_new(o, "category", json_string(d->category));
	/* Two decimals: the confidence is an estimate, not a measurement. */
	json_object_set_new(o, "confidence", json_real((double)(long)(d->confidence * 100 +
	    0.5) / 100));
	json_object_set_new(o, "reasons", triage_reasons_json(d));
	json_object_set_new(o, "source", json_string(d->source));
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(3));
	json_decref(o);
	if (line == NULL)
		fatal("out of memory");
	printf("%s\n", line);
	free(line);
}

static int
cli_triage_explain(const char *email, char **files, int nfiles)
{
	PGconn *conn = NULL;
	int64_t user_id = 0;
	int rc = CLI_EXIT_OK;

	if (email != NULL && (conn = cli_triage_connect(email, &user_id)) == NULL)
		return CLI_EXIT_FAIL;
	mime_init();
	for (int i = 0; i < nfiles; i++) {
		struct mime_message *m = NULL;
		struct triage_decision d;
		char err[1024];
		size_t len = 0;
		char *raw = cli_triage_read(files[i], &len, err, sizeof err);

		if (raw == NULL) {
			fprintf(stderr, "mailroom: triage: %s: %s\n", files[i], err);
			rc = CLI_EXIT_FAIL;
			continue;
		}
		if (mime_parse(raw, len, &m) != 0)
			fatal("out of memory");
		if (triage_db_explain(conn, user_id, m, &d, err, sizeof err) != 0) {
			fprintf(stderr, "mailroom: triage: %s: %s\n", files[i], err);
			rc = CLI_EXIT_FAIL;
		} else {
			cli_triage_print(files[i], &d);
		}
		mime_message_free(m);
		free(raw);
	}
	fflush(stdout);
	if (conn != NULL)
		PQfinish(conn);
	return rc;
}

static int
cli_triage_pending(const char *email, long limit)
{
	int64_t user_id = 0;
	PGconn *conn = cli_triage_connect(email, &user_id);
	char err[1024];
	long done = 0, total = 0;
	int rc = CLI_EXIT_OK;

	if (conn == NULL)
		return CLI_EXIT_FAIL;
	/* In batches, so that an interruption keeps what was done. */
	while (total < limit) {
		long batch = limit - total < 500 ? limit - total : 500;

		if (triage_db_pending(conn, user_id, batch, &done, err, sizeof err) != 0) {
			fprintf(stderr, "mailroom: triage: %s\n", err);
			rc = CLI_EXIT_FAIL;
			total += done;
			break;
		}
		total += done;
		if (done < batch)
			break;
	}
	printf("%ld message%s classified\n", total, total == 1 ? "" : "s");
	PQfinish(conn);
	return rc;
}

/* ---- a labelled corpus ---- */

struct cli_triage_item {
	char *path;
	char label[TRIAGE_SLUG_SIZE];
	char *user;                      /* labels.tsv: the mailbox's owner, or NULL */
	char *thread;                    /* labels.tsv: the folder of its thread, or NULL */
};

struct cli_triage_corpus {
	struct cli_triage_item *v;
	size_t n, cap;
};

static int
cli_triage_is_message(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && (strcmp(name + n - 4, ".eml") == 0 || strcmp(name + n - 4, ".msg") == 0);
}

static int
cli_triage_item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cli_triage_item *)a)->path,
	    ((const struct cli_triage_item *)b)->path);
}

static void
cli_triage_corpus_push(struct cli_triage_corpus *c, char *path, const char *label,
    const char *user, const char *thread)
{
	struct cli_triage_item *it;

	if (c->n == c->cap) {
		c->cap = c->cap == 0 ? 256 : c->cap * 2;
		c->v = xreallocarray(c->v, c->cap, sizeof *c->v);
	}
	it = &c->v[c->n++];
	it->path = path;
	snprintf(it->label, TRIAGE_SLUG_SIZE, "%s", label);
	it->user = user != NULL ? xstrdup(user) : NULL;
	it->thread = thread != NULL ? xstrdup(thread) : NULL;
}

/* The messages under dir, labelled by the folder of the corpus's top level they are in. */
static int
cli_triage_walk(struct cli_triage_corpus *c, const char *dir, const char *label, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL) {
		fprintf(stderr, "mailroom: triage: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char *path;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (stat(path, &st) != 0) {
			free(path);
			continue;
		}
		if (S_ISDIR(st.st_mode) && depth < 8) {
			const char *l = label != NULL ? label : de->d_name;

			if (label == NULL && !triage_slug_valid(de->d_name))
				fprintf(stderr, "mailroom: triage: %s: not a category slug, left out\n",
				    path);
			else if (cli_triage_walk(c, path, l, depth + 1) != 0) {
				free(path);
				closedir(d);
				return -1;
			}
			free(path);
		} else if (S_ISREG(st.st_mode) && label != NULL &&
		    cli_triage_is_message(de->d_name)) {
			cli_triage_corpus_push(c, path, label, NULL, NULL);
		} else {
			free(path);
		}
	}
	closedir(d);
	return 0;
}

/* DIR/labels.tsv: "file category split user thread" per line (t/triage-corpus/README.md),
 * the lines of split only (NULL: all). 1 when there is no such file. */
static int
cli_triage_labels(struct cli_triage_corpus *c, const char *dir, const char *split)
{
	char *path = xasprintf("%s/labels.tsv", dir), *line = NULL;
	FILE *f = fopen(path, "r");
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;

	if (f == NULL) {
		free(path);
		return 1;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *field[5] = { NULL }, *p = line, *thread;
		int n = 0;

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		while (n < 5 && p != NULL) {
			field[n++] = p;
			if ((p = strchr(p, '\t')) != NULL)
				*p++ = '\0';
		}
		if (n < 2 || !triage_slug_valid(field[1])) {
			fprintf(stderr, "mailroom: triage: %s:%ld: expected a file and a category\n",
			    path, lineno);
			continue;
		}
		if (split != NULL && n >= 3 && strcmp(field[2], split) != 0)
			continue;
		thread = n >= 5 && strcmp(field[4], "-") != 0 ?
		    xasprintf("%s/%s", dir, field[4]) : NULL;
		cli_triage_corpus_push(c, xasprintf("%s/%s", dir, field[0]), field[1],
		    n >= 4 && strcmp(field[3], "-") != 0 ? field[3] : NULL, thread);
		free(thread);
	}
	free(line);
	fclose(f);
	free(path);
	return 0;
}

static int
cli_triage_corpus_load(struct cli_triage_corpus *c, const char *dir, const char *split)
{
	int rc;

	memset(c, 0, sizeof *c);
	if ((rc = cli_triage_labels(c, dir, split)) == 1)
		rc = cli_triage_walk(c, dir, NULL, 0);
	if (rc != 0)
		return -1;
	if (c->n == 0) {
		fprintf(stderr, "mailroom: triage: %s: no labelled messages (expected "
		    "%s/labels.tsv or %s/<category>/*.eml)\n", dir, dir, dir);
		return -1;
	}
	qsort(c->v, c->n, sizeof *c->v, cli_triage_item_cmp);
	return 0;
}

static void
cli_triage_corpus_free(struct cli_triage_corpus *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].path);
		free(c->v[i].user);
		free(c->v[i].thread);
	}
	free(c->v);
}

/* A message of the corpus as the classifier sees it, with its context: the user's
 * address, and the state of its thread from the other messages of its thread's folder. */
struct cli_triage_sample {
	struct mime_message *m;
	struct triage_message tm;
	struct triage_context ctx;
	const char *self[CLI_TRIAGE_MAX_SELF + 2];
};

static struct mime_message *
cli_triage_load(const char *path)
{
	struct mime_message *m = NULL;
	char err[512];
	size_t len = 0;
	char *raw = cli_triage_read(path, &len, err, sizeof err);

	if (raw == NULL) {
		fprintf(stderr, "mailroom: triage: %s: %s\n", path, err);
		return NULL;
	}
	if (mime_parse(raw, len, &m) != 0)
		fatal("out of memory");
	free(raw);
	return m;
}

static int
cli_triage_is_self(const char *const *self, const struct mime_message *m)
{
	for (size_t i = 0; m->from.n > 0 && self[i] != NULL; i++) {
		if (strcasecmp(self[i], m->from.v[0].address) == 0)
			return 1;
	}
	return 0;
}

/* What the other messages of the thread's folder say of the sample. */
static void
cli_triage_thread(const struct cli_triage_item *it, struct cli_triage_sample *s)
{
	DIR *d = opendir(it->thread);
	struct dirent *de;

	if (d == NULL) {
		fprintf(stderr, "mailroom: triage: %s: %s\n", it->thread, strerror(errno));
		return;
	}
	s->ctx.thread = 1;
	while ((de = readdir(d)) != NULL) {
		char *path;
		struct mime_message *o;
		int mine;

		if (!cli_triage_is_message(de->d_name))
			continue;
		path = xasprintf("%s/%s", it->thread, de->d_name);
		if (strcmp(path, it->path) == 0 || (o = cli_triage_load(path)) == NULL) {
			free(path);
			continue;
		}
		mine = cli_triage_is_self(s->self, o);
		if (mine && o->date > s->m->date)
			s->ctx.user_replied_after = 1;
		if (!mine && o->date > s->m->date)
			s->ctx.answered_after = 1;
		if (mine && o->date < s->m->date)
			s->ctx.user_in_thread = 1;
		if (mine && s->m->in_reply_to != NULL &&
		    strcmp(s->m->in_reply_to, o->message_id) == 0)
			s->ctx.answers_user = 1;
		mime_message_free(o);
		free(path);
	}
	closedir(d);
}

static int
cli_triage_sample(const struct cli_triage_item *it, const char *const *self,
    struct cli_triage_sample *s)
{
	size_t n = 0;

	memset(s, 0, sizeof *s);
	if (it->user != NULL)
		s->self[n++] = it->user;
	for (size_t i = 0; self[i] != NULL && n < CLI_TRIAGE_MAX_SELF + 1; i++)
		s->self[n++] = self[i];
	s->self[n] = NULL;
	if ((s->m = cli_triage_load(it->path)) == NULL)
		return -1;
	triage_message_from_mime(&s->tm, s->m, s->self);
	s->ctx.self = n > 0 ? s->self : NULL;
	if (it->thread != NULL)
		cli_triage_thread(it, s);
	return 0;
}

static int
cli_triage_train(const char *dir, const char *out, const char *const *self)
{
	struct cli_triage_corpus c;
	struct triage_classifier *tc;
	struct triage_model *model;
	char *tmp;
	FILE *f;
	int rc = CLI_EXIT_FAIL;

	if (cli_triage_corpus_load(&c, dir, "train") != 0)
		return CLI_EXIT_FAIL;
	mime_init();
	tc = triage_classifier_new(NULL);
	model = triage_model_new();
	for (size_t i = 0; i < c.n; i++) {
		struct cli_triage_sample sm;
		const char **features;
		size_t n;

		if (cli_triage_sample(&c.v[i], self, &sm) != 0)
			goto done;
		n = triage_features(tc, &sm.tm, &sm.ctx, &features);
		for (size_t j = 0; j < n; j++)
			triage_model_add(model, features[j], c.v[i].label, 1);
		triage_model_add_docs(model, c.v[i].label, 1, (double)n);
		mime_message_free(sm.m);
	}
	/* Written beside, then renamed: a reader never sees half a model. */
	tmp = xasprintf("%s.tmp", out);
	if ((f = fopen(tmp, "w")) == NULL) {
		fprintf(stderr, "mailroom: triage: %s: %s\n", tmp, strerror(errno));
		free(tmp);
		goto done;
	}
	if (triage_model_write(model, f) != 0 || fclose(f) != 0 || rename(tmp, out) != 0) {
		fprintf(stderr, "mailroom: triage: %s: %s\n", out, strerror(errno));
		remove(tmp);
		free(tmp);
		goto done;
	}
	free(tmp);
	fprintf(stderr, "mailroom: triage: %zu messages, %zu features, written to %s\n", c.n,
	    triage_model_vocabulary(model), out);
	rc = CLI_EXIT_OK;
done:
	triage_model_free(model);
	triage_classifier_free(tc);
	cli_triage_corpus_free(&c);
	return rc;
}

static int
cli_triage_evaluate(const char *dir, const char *prior_path, const char *const *self)
{
	struct cli_triage_corpus c;
	struct triage_classifier *tc;
	struct triage_model *prior = NULL;
	char err[512], labels[TRIAGE_MAX_CLASSES][TRIAGE_SLUG_SIZE];
	long total[TRIAGE_MAX_CLASSES] = { 0 }, right[TRIAGE_MAX_CLASSES] = { 0 };
	long all = 0, all_right = 0;
	size_t nlabels = 0;
	int64_t spent = 0;

	if (prior_path == NULL)
		prior_path = triage_prior_default_path();
	if ((prior = triage_model_read(prior_path, err, sizeof err)) == NULL) {
		fprintf(stderr, "mailroom: triage: %s\n", err);
		return CLI_EXIT_FAIL;
	}
	if (cli_triage_corpus_load(&c, dir, "test") != 0) {
		triage_model_free(prior);
		return CLI_EXIT_FAIL;
	}
	mime_init();
	tc = triage_classifier_new(prior);
	for (size_t i = 0; i < c.n; i++) {
		struct cli_triage_sample sm;
		struct triage_decision d;
		int64_t t0;
		size_t k;

		if (cli_triage_sample(&c.v[i], self, &sm) != 0)
			continue;
		t0 = util_now_us();
		triage_classify(tc, &sm.tm, &sm.ctx, &d);
		spent += util_now_us() - t0;
		for (k = 0; k < nlabels && strcmp(labels[k], c.v[i].label) != 0; k++)
			;
		if (k == nlabels && nlabels < TRIAGE_MAX_CLASSES)
			snprintf(labels[nlabels++], TRIAGE_SLUG_SIZE, "%s", c.v[i].label);
		if (k < nlabels) {
			total[k]++;
			right[k] += strcmp(d.category, c.v[i].label) == 0;
		}
		all++;
		all_right += strcmp(d.category, c.v[i].label) == 0;
		if (getenv("MAILROOM_TRIAGE_VERBOSE") != NULL && strcmp(d.category,
		    c.v[i].label) != 0)
			fprintf(stderr, "miss: %s: %s (%.2f) %s\n", c.v[i].path, d.category,
			    d.confidence, d.n_reasons > 0 ? d.reasons[0].text : "");
		mime_message_free(sm.m);
	}
	for (size_t k = 0; k < nlabels; k++)
		printf("triage_accuracy{category=\"%s\"} %.3f (%ld/%ld)\n", labels[k],
		    total[k] > 0 ? (double)right[k] / (double)total[k] : 0.0, right[k], total[k]);
	printf("triage_accuracy{category=\"all\"} %.3f (%ld/%ld)\n",
	    all > 0 ? (double)all_right / (double)all : 0.0, all_right, all);
	printf("triage_rate %.0f messages/s\n", spent > 0 ? (double)all * 1e6 / (double)spent :
	    0.0);
	triage_classifier_free(tc);
	triage_model_free(prior);
	cli_triage_corpus_free(&c);
	return CLI_EXIT_OK;
}

static int
cli_triage_exec(int argc, char **argv)
{
	const char *mode = NULL, *dir = NULL, *email = NULL, *prior = NULL, *out = NULL;
	const char *self[CLI_TRIAGE_MAX_SELF + 1] = { NULL };
	size_t nself = 0;
	int64_t limit = 100000;
	int i, rc;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--explain") == 0 || strcmp(a, "--pending") == 0) {
			if (mode != NULL)
				return main_cli_usage(&cli_triage_entry);
			mode = a;
		} else if ((strcmp(a, "--train") == 0 || strcmp(a, "--evaluate") == 0) &&
		    i + 1 < argc) {
			if (mode != NULL)
				return main_cli_usage(&cli_triage_entry);
			mode = a;
			dir = argv[++i];
		} else if (strcmp(a, "--user") == 0 && i + 1 < argc) {
			email = argv[++i];
		} else if (strcmp(a, "--prior") == 0 && i + 1 < argc) {
			prior = argv[++i];
		} else if (strcmp(a, "--out") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else if (strcmp(a, "--self") == 0 && i + 1 < argc &&
		    nself < CLI_TRIAGE_MAX_SELF) {
			self[nself++] = argv[++i];
		} else if (strcmp(a, "--limit") == 0 && i + 1 < argc) {
			if (util_parse_int64(argv[++i], 1, 100000000, &limit) != 0) {
				fprintf(stderr, "mailroom: triage: --limit: expected a number from 1 "
				    "to 100000000\n");
				return CLI_EXIT_USAGE;
			}
		} else if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (a[0] == '-' && a[1] == '-') {
			fprintf(stderr, "mailroom: triage: unknown option: %s\n", a);
			return main_cli_usage(&cli_triage_entry);
		} else {
			break;
		}
	}
	if (mode == NULL)
		return main_cli_usage(&cli_triage_entry);
	if (strcmp(mode, "--explain") == 0) {
		if (i >= argc || out != NULL || nself > 0)
			return main_cli_usage(&cli_triage_entry);
		if (prior != NULL)
			triage_db_use_prior(prior);
		rc = cli_triage_explain(email, argv + i, argc - i);
		triage_db_shutdown();
		return rc;
	}
	if (i < argc)
		return main_cli_usage(&cli_triage_entry);
	if (strcmp(mode, "--pending") == 0) {
		if (out != NULL || nself > 0)
			return main_cli_usage(&cli_triage_entry);
		if (prior != NULL)
			triage_db_use_prior(prior);
		rc = cli_triage_pending(email, (long)limit);
		triage_db_shutdown();
		return rc;
	}
	if (strcmp(mode, "--train") == 0) {
		if (out == NULL || email != NULL || prior != NULL)
			return main_cli_usage(&cli_triage_entry);
		return cli_triage_train(dir, out, self);
	}
	if (out != NULL || email != NULL)
		return main_cli_usage(&cli_triage_entry);
	return cli_triage_evaluate(dir, prior, self);
}
