/* metrics.c: request, latency, pool and database error counters for /metrics. The FastCGI
 * processes are separate programs under multiwatch, so each keeps its counters in a slot
 * file it holds an flock on; a restarted process adopts a free slot and goes on counting
 * from its values, which keeps the summed counters monotonic. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "util.h"

#define METRICS_MAGIC 0x6d726d6574726963ULL /* "mrmetric" */

static const int metrics_statuses[] = {
	200, 201, 202, 204, 301, 302, 303, 304, 400, 401, 403, 404, 405, 409, 410, 412, 413,
	415, 422, 428, 429, 500, 502, 503, 504,
};
#define METRICS_NSTATUS (MR_ARRAY_LEN(metrics_statuses) + 1) /* last: any other */

/* Upper bounds in seconds; the +Inf bucket is implicit. */
static const double metrics_buckets[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
#define METRICS_NBUCKETS (MR_ARRAY_LEN(metrics_buckets) + 1)

static const char *metrics_db_classes[] = {
	"08", "22", "23", "40", "42", "53", "54", "55", "57", "XX",
};
#define METRICS_NCLASSES (MR_ARRAY_LEN(metrics_db_classes) + 1) /* last: other */

struct metrics_slot {
	uint64_t magic;
	uint64_t layout;        /* hash of the route names and table sizes */
	int64_t pid;
	uint64_t pool_in_use;
	uint64_t pool_size;
	uint64_t db_errors[METRICS_NCLASSES];
	uint64_t requests[METRICS_MAX_ROUTES + 1][METRICS_NSTATUS];
	uint64_t buckets[METRICS_MAX_ROUTES + 1][METRICS_NBUCKETS];
	uint64_t sum_us[METRICS_MAX_ROUTES + 1];
};

static struct metrics_slot *metrics_self;
static int metrics_fd = -1;
static char *metrics_dir;
static const char *const *metrics_route_names;
static int metrics_nroutes;
static uint64_t metrics_layout;

static uint64_t
metrics_hash(const char *const *names, int n)
{
	uint64_t h = 1469598103934665603ULL;

	h ^= (uint64_t)n + METRICS_NSTATUS * 131 + METRICS_NBUCKETS * 7919 + METRICS_NCLASSES;
	for (int i = 0; i < n; i++) {
		for (const char *p = names[i]; *p != '\0'; p++) {
			h ^= (unsigned char)*p;
			h *= 1099511628211ULL;
		}
		h ^= 0xff;
		h *= 1099511628211ULL;
	}
	return h;
}

int
metrics_open(const char *dir, const char *const *route_names, int nroutes, char *err,
    size_t errlen)
{
	metrics_close();
	if (nroutes > METRICS_MAX_ROUTES) {
		snprintf(err, errlen, "%d routes, at most %d can be counted", nroutes,
		    METRICS_MAX_ROUTES);
		return -1;
	}
	metrics_route_names = route_names;
	metrics_nroutes = nroutes;
	metrics_layout = metrics_hash(route_names, nroutes);

	if (dir == NULL) {
		metrics_self = xcalloc(1, sizeof(*metrics_self));
		metrics_self->magic = METRICS_MAGIC;
		metrics_self->layout = metrics_layout;
		metrics_self->pid = getpid();
		return 0;
	}
	for (int i = 0; i < METRICS_MAX_SLOTS; i++) {
		char path[4096];
		struct stat st;
		void *map;
		int fd;

		snprintf(path, sizeof(path), "%s/slot-%02d.metrics", dir, i);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd == -1) {
			snprintf(err, errlen, "metrics: cannot open %s: %s", path, strerror(errno));
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			close(fd); /* a living process holds it */
			continue;
		}
		if (fstat(fd, &st) == -1 || (st.st_size != (off_t)sizeof(struct metrics_slot) &&
		    ftruncate(fd, (off_t)sizeof(struct metrics_slot)) == -1)) {
			snprintf(err, errlen, "metrics: cannot size %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		map = mmap(NULL, sizeof(struct metrics_slot), PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0);
		if (map == MAP_FAILED) {
			snprintf(err, errlen, "metrics: cannot map %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		metrics_self = map;
		metrics_fd = fd;
		/* A slot written by another build counts other routes: start it afresh. */
		if (metrics_self->magic != METRICS_MAGIC || metrics_self->layout != metrics_layout) {
			memset(metrics_self, 0, sizeof(*metrics_self));
			metrics_self->magic = METRICS_MAGIC;
			metrics_self->layout = metrics_layout;
		}
		metrics_self->pid = getpid();
		metrics_self->pool_in_use = 0;
		metrics_self->pool_size = 0;
		metrics_dir = xstrdup(dir);
		return 0;
	}
	snprintf(err, errlen, "metrics: all %d slots in %s are held by running processes",
	    METRICS_MAX_SLOTS, dir);
	return -1;
}

void
metrics_close(void)
{
	if (metrics_self == NULL)
		return;
	if (metrics_fd != -1) {
		munmap(metrics_self, sizeof(*metrics_self));
		close(metrics_fd); /* releases the flock */
		metrics_fd = -1;
	} else {
		free(metrics_self);
	}
	metrics_self = NULL;
	free(metrics_dir);
	metrics_dir = NULL;
}

int
metrics_status_index(int status)
{
	for (size_t i = 0; i < MR_ARRAY_LEN(metrics_statuses); i++) {
		if (metrics_statuses[i] == status)
			return (int)i;
	}
	return (int)METRICS_NSTATUS - 1;
}

int
metrics_db_class_index(const char *sqlstate)
{
	if (sqlstate != NULL && strlen(sqlstate) >= 2) {
		for (size_t i = 0; i < MR_ARRAY_LEN(metrics_db_classes); i++) {
			if (strncmp(sqlstate, metrics_db_classes[i], 2) == 0)
				return (int)i;
		}
	}
	return (int)METRICS_NCLASSES - 1;
}

static void
metrics_add(uint64_t *p, uint64_t v)
{
	__atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

void
metrics_request(int route, int status, int64_t duration_us)
{
	size_t b;
	double secs = (double)duration_us / 1e6;

	if (metrics_self == NULL)
		return;
	if (route < 0 || route > metrics_nroutes)
		route = metrics_nroutes;
	for (b = 0; b < MR_ARRAY_LEN(metrics_buckets); b++) {
		if (secs <= metrics_buckets[b])
			break;
	}
	metrics_add(&metrics_self->requests[route][metrics_status_index(status)], 1);
	metrics_add(&metrics_self->buckets[route][b], 1);
	metrics_add(&metrics_self->sum_us[route], duration_us > 0 ? (uint64_t)duration_us : 0);
}

void
metrics_db_error(const char *sqlstate)
{
	if (metrics_self != NULL)
		metrics_add(&metrics_self->db_errors[metrics_db_class_index(sqlstate)], 1);
}

void
metrics_pool(int in_use, int size)
{
	if (metrics_self == NULL)
		return;
	__atomic_store_n(&metrics_self->pool_in_use, (uint64_t)in_use, __ATOMIC_RELAXED);
	__atomic_store_n(&metrics_self->pool_size, (uint64_t)size, __ATOMIC_RELAXED);
}

/* Totals over all slots; gauges only from living processes. */
struct metrics_total {
	struct metrics_slot sum;
	int processes;
};

static void
metrics_accumulate(struct metrics_total *t, const struct metrics_slot *s, int alive)
{
	const uint64_t *src;
	uint64_t *dst;
	size_t n;

	if (s->magic != METRICS_MAGIC || s->layout != metrics_layout)
		return;
	if (alive) {
		t->processes++;
		t->sum.pool_in_use += s->pool_in_use;
		t->sum.pool_size += s->pool_size;
	}
	/* The counter arrays are contiguous from db_errors to the end of the struct. */
	src = s->db_errors;
	dst = t->sum.db_errors;
	n = (sizeof(*s) - offsetof(struct metrics_slot, db_errors)) / sizeof(uint64_t);
	for (size_t i = 0; i < n; i++)
		dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

static void
metrics_collect(struct metrics_total *t)
{
	DIR *d;
	struct dirent *de;

	memset(t, 0, sizeof(*t));
	if (metrics_dir == NULL) {
		metrics_accumulate(t, metrics_self, 1);
		return;
	}
	if ((d = opendir(metrics_dir)) == NULL) {
		log_err("metrics: cannot read %s: %s", metrics_dir, strerror(errno));
		metrics_accumulate(t, metrics_self, 1);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct metrics_slot *copy;
		char path[4096];
		int fd, alive;
		ssize_t n;
		size_t len = strlen(de->d_name);

		if (len < 9 || strcmp(de->d_name + len - 8, ".metrics") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", metrics_dir, de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		/* A slot whose lock we can take belongs to no living process (our own slot's
		 * lock is held through another open file, so it reads as alive too). */
		alive = flock(fd, LOCK_SH | LOCK_NB) == -1;
		if (!alive)
			flock(fd, LOCK_UN);
		copy = xmalloc(sizeof(*copy));
		n = pread(fd, copy, sizeof(*copy), 0);
		if (n == (ssize_t)sizeof(*copy))
			metrics_accumulate(t, copy, alive);
		free(copy);
		close(fd);
	}
	closedir(d);
}

static void
metrics_label(struct buf *out, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '"' || *v == '\\')
			buf_putc(out, '\\');
		if (*v == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, *v);
	}
}

static const char *
metrics_route_name(int r)
{
	return r < metrics_nroutes ? metrics_route_names[r] : "unmatched";
}

void
metrics_render(struct buf *out)
{
	struct metrics_total *t;

	if (metrics_self == NULL)
		return;
	t = xmalloc(sizeof(*t));
	metrics_collect(t);
	/* One series per pattern: the routes of one pattern (GET and POST of a form) add up
	 * into the first of them. */
	for (int r = 0; r < metrics_nroutes; r++) {
		int first = r;

		for (int e = 0; e < r && first == r; e++) {
			if (strcmp(metrics_route_names[e], metrics_route_names[r]) == 0)
				first = e;
		}
		if (first == r)
			continue;
		for (size_t s = 0; s < METRICS_NSTATUS; s++) {
			t->sum.requests[first][s] += t->sum.requests[r][s];
			t->sum.requests[r][s] = 0;
		}
		for (size_t b = 0; b < METRICS_NBUCKETS; b++) {
			t->sum.buckets[first][b] += t->sum.buckets[r][b];
			t->sum.buckets[r][b] = 0;
		}
		t->sum.sum_us[first] += t->sum.sum_us[r];
		t->sum.sum_us[r] = 0;
	}

	buf_puts(out, "# HELP mailroom_http_requests_total HTTP requests answered, by route "
	    "pattern and status.\n# TYPE mailroom_http_requests_total counter\n");
	for (int r = 0; r <= metrics_nroutes; r++) {
		for (size_t s = 0; s < METRICS_NSTATUS; s++) {
			uint64_t v = t->sum.requests[r][s];

			if (v == 0)
				continue;
			buf_puts(out, "mailroom_http_requests_total{route=\"");
			metrics_label(out, metrics_route_name(r));
			if (s < MR_ARRAY_LEN(metrics_statuses))
				buf_printf(out, "\",status=\"%d\"} %llu\n", metrics_statuses[s],
				    (unsigned long long)v);
			else
				buf_printf(out, "\",status=\"other\"} %llu\n", (unsigned long long)v);
		}
	}

	buf_puts(out, "# HELP mailroom_http_request_duration_seconds Time from accepting a "
	    "request to its last byte written.\n"
	    "# TYPE mailroom_http_request_duration_seconds histogram\n");
	for (int r = 0; r <= metrics_nroutes; r++) {
		uint64_t cum = 0;

		for (size_t b = 0; b < METRICS_NBUCKETS; b++)
			cum += t->sum.buckets[r][b];
		if (cum == 0)
			continue;
		cum = 0;
		for (size_t b = 0; b < METRICS_NBUCKETS; b++) {
			cum += t->sum.buckets[r][b];
			buf_puts(out, "mailroom_http_request_duration_seconds_bucket{route=\"");
			metrics_label(out, metrics_route_name(r));
			if (b < MR_ARRAY_LEN(metrics_buckets))
				buf_printf(out, "\",le=\"%g\"} %llu\n", metrics_buckets[b],
				    (unsigned long long)cum);
			else
				buf_printf(out, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
		}
		buf_puts(out, "mailroom_http_request_duration_seconds_sum{route=\"");
		metrics_label(out, metrics_route_name(r));
		buf_printf(out, "\"} %.6f\n", (double)t->sum.sum_us[r] / 1e6);
		buf_puts(out, "mailroom_http_request_duration_seconds_count{route=\"");
		metrics_label(out, metrics_route_name(r));
		buf_printf(out, "\"} %llu\n", (unsigned long long)cum);
	}

	buf_printf(out, "# HELP mailroom_db_pool_connections_in_use Database connections "
	    "lent to requests now, all processes.\n"
	    "# TYPE mailroom_db_pool_connections_in_use gauge\n"
	    "mailroom_db_pool_connections_in_use %llu\n"
	    "# HELP mailroom_db_pool_connections Database pool capacity, all processes.\n"
	    "# TYPE mailroom_db_pool_connections gauge\n"
	    "mailroom_db_pool_connections %llu\n",
	    (unsigned long long)t->sum.pool_in_use, (unsigned long long)t->sum.pool_size);

	buf_puts(out, "# HELP mailroom_db_errors_total Database errors by SQLSTATE class "
	    "(08: connection).\n# TYPE mailroom_db_errors_total counter\n");
	for (size_t c = 0; c < METRICS_NCLASSES; c++) {
		buf_printf(out, "mailroom_db_errors_total{class=\"%s\"} %llu\n",
		    c < MR_ARRAY_LEN(metrics_db_classes) ? metrics_db_classes[c] : "other",
		    (unsigned long long)t->sum.db_errors[c]);
	}

	buf_printf(out, "# HELP mailroom_fcgi_processes FastCGI processes running.\n"
	    "# TYPE mailroom_fcgi_processes gauge\nmailroom_fcgi_processes %d\n", t->processes);
	free(t);
}
