/* test-metrics.c: counters shared through slot files: several processes add up, a gone
 * process's counts remain, a new process adopts a free slot, and the text exposition has
 * the Prometheus shape. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"
#include "unit.h"

static const char *names[] = { "/healthz", "/readyz", "/a\"b" };

static char *
render(struct arena *a)
{
	struct buf b;

	buf_init(&b, a);
	metrics_render(&b);
	return b.data;
}

static unsigned long long
value_of(const char *text, const char *series)
{
	const char *p = text;
	size_t n = strlen(series);

	/* Only a whole sample line counts, not the HELP text naming the series. */
	while ((p = strstr(p, series)) != NULL) {
		if (p == text || p[-1] == '\n')
			return strtoull(p + n, NULL, 10);
		p += n;
	}
	return 0;
}

static void
test_indexes(void)
{
	CU_ASSERT_EQUAL(metrics_status_index(200), 0);
	CU_ASSERT_NOT_EQUAL(metrics_status_index(404), metrics_status_index(418));
	CU_ASSERT_EQUAL(metrics_status_index(418), metrics_status_index(299));
	CU_ASSERT_EQUAL(metrics_db_class_index("08006"), metrics_db_class_index("08001"));
	CU_ASSERT_NOT_EQUAL(metrics_db_class_index("08006"), metrics_db_class_index("23505"));
	CU_ASSERT_EQUAL(metrics_db_class_index(NULL), metrics_db_class_index("ZZ999"));
}

static void
test_private_counters(void)
{
	struct arena *a = arena_new(1 << 16);
	char err[256], *text;

	CU_ASSERT_EQUAL_FATAL(metrics_open(NULL, names, 3, err, sizeof(err)), 0);
	metrics_request(0, 200, 300);      /* 0.3 ms: first bucket */
	metrics_request(0, 200, 2000000);  /* 2 s */
	metrics_request(0, 503, 20);
	metrics_request(2, 404, 20);
	metrics_request(-1, 404, 20);      /* unmatched */
	metrics_db_error("08006");
	metrics_pool(3, 8);
	text = render(a);
	CU_ASSERT_EQUAL(value_of(text,
	    "mailroom_http_requests_total{route=\"/healthz\",status=\"200\"} "), 2);
	CU_ASSERT_EQUAL(value_of(text,
	    "mailroom_http_requests_total{route=\"/healthz\",status=\"503\"} "), 1);
	CU_ASSERT_EQUAL(value_of(text,
	    "mailroom_http_requests_total{route=\"unmatched\",status=\"404\"} "), 1);
	/* Label values are escaped. */
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "route=\"/a\\\"b\""));
	CU_ASSERT_EQUAL(value_of(text, "mailroom_http_request_duration_seconds_bucket{"
	    "route=\"/healthz\",le=\"0.0005\"} "), 2);
	CU_ASSERT_EQUAL(value_of(text, "mailroom_http_request_duration_seconds_bucket{"
	    "route=\"/healthz\",le=\"1\"} "), 2);
	CU_ASSERT_EQUAL(value_of(text, "mailroom_http_request_duration_seconds_bucket{"
	    "route=\"/healthz\",le=\"2.5\"} "), 3);
	CU_ASSERT_EQUAL(value_of(text, "mailroom_http_request_duration_seconds_bucket{"
	    "route=\"/healthz\",le=\"+Inf\"} "), 3);
	CU_ASSERT_EQUAL(value_of(text,
	    "mailroom_http_request_duration_seconds_count{route=\"/healthz\"} "), 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(text,
	    "mailroom_http_request_duration_seconds_sum{route=\"/healthz\"} 2.000320\n"));
	CU_ASSERT_EQUAL(value_of(text, "mailroom_db_errors_total{class=\"08\"} "), 1);
	CU_ASSERT_EQUAL(value_of(text, "mailroom_db_pool_connections_in_use "), 3);
	CU_ASSERT_EQUAL(value_of(text, "mailroom_db_pool_connections "), 8);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "# TYPE mailroom_http_requests_total counter\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text,
	    "# TYPE mailroom_http_request_duration_seconds histogram\n"));
	/* Every line is a comment or "name{labels} value". */
	for (char *line = text; *line != '\0';) {
		char *nl = strchr(line, '\n');

		CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
		CU_ASSERT(line[0] == '#' || (line[0] >= 'a' && line[0] <= 'z'));
		CU_ASSERT(line[0] == '#' || memchr(line, ' ', (size_t)(nl - line)) != NULL);
		line = nl + 1;
	}
	metrics_close();
	arena_free(a);
}

/* Two routes of one pattern (a form's GET and POST) make one series, never two with
 * the same labels. */
static void
test_same_pattern(void)
{
	static const char *forms[] = { "/settings/tokens", "/healthz", "/settings/tokens" };
	struct arena *a = arena_new(1 << 16);
	char err[256], *text, *p;
	int n = 0;

	CU_ASSERT_EQUAL_FATAL(metrics_open(NULL, forms, 3, err, sizeof(err)), 0);
	metrics_request(0, 200, 100);
	metrics_request(2, 200, 100);
	metrics_request(2, 303, 100);
	text = render(a);
	CU_ASSERT_EQUAL(value_of(text,
	    "mailroom_http_requests_total{route=\"/settings/tokens\",status=\"200\"} "), 2);
	CU_ASSERT_EQUAL(value_of(text,
	    "mailroom_http_request_duration_seconds_count{route=\"/settings/tokens\"} "), 3);
	for (p = text; (p = strstr(p, "_count{route=\"/settings/tokens\"}")) != NULL; p++)
		n++;
	CU_ASSERT_EQUAL(n, 1);
	metrics_close();
	arena_free(a);
}

/* Runs in a forked child: opens its own slot, counts n requests, and either exits or
 * waits for the parent's byte on fd before exiting. */
static void
child(const char *dir, int n, int waitfd)
{
	char err[256], c;

	metrics_close();
	if (metrics_open(dir, names, 3, err, sizeof(err)) == -1)
		_exit(2);
	for (int i = 0; i < n; i++)
		metrics_request(1, 200, 100);
	metrics_pool(1, 4);
	if (write(1, "", 0) < 0)
		_exit(3);
	if (waitfd >= 0 && read(waitfd, &c, 1) < 0)
		_exit(3);
	_exit(0);
}

static void
test_shared_slots(void)
{
	struct arena *a = arena_new(1 << 16);
	char dir[] = "/tmp/mailroom-metrics-XXXXXX", err[256], *text, cmd[256];
	int go[2], ready[2], status;
	pid_t pid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	CU_ASSERT_EQUAL_FATAL(metrics_open(dir, names, 3, err, sizeof(err)), 0);
	metrics_request(1, 200, 100);
	metrics_pool(2, 4);

	/* A second process that stays alive while we read. */
	CU_ASSERT_FATAL(pipe(go) == 0 && pipe(ready) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		close(ready[0]);
		dup2(ready[1], 1);
		child(dir, 5, go[0]);
	}
	close(go[0]);
	close(ready[1]);
	/* The child's zero-length write does not wake us; wait for its counts instead. */
	for (int i = 0; i < 200; i++) {
		arena_reset(a);
		text = render(a);
		if (value_of(text, "mailroom_http_requests_total{route=\"/readyz\","
		    "status=\"200\"} ") == 6)
			break;
		usleep(10000);
	}
	text = render(a);
	CU_ASSERT_EQUAL(value_of(text,
	    "mailroom_http_requests_total{route=\"/readyz\",status=\"200\"} "), 6);
	CU_ASSERT_EQUAL(value_of(text, "mailroom_fcgi_processes "), 2);
	CU_ASSERT_EQUAL(value_of(text, "mailroom_db_pool_connections_in_use "), 3);

	/* Gone: its counts stay, its gauges leave. */
	CU_ASSERT(write(go[1], "x", 1) == 1);
	waitpid(pid, &status, 0);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	arena_reset(a);
	text = render(a);
	CU_ASSERT_EQUAL(value_of(text,
	    "mailroom_http_requests_total{route=\"/readyz\",status=\"200\"} "), 6);
	CU_ASSERT_EQUAL(value_of(text, "mailroom_fcgi_processes "), 1);
	CU_ASSERT_EQUAL(value_of(text, "mailroom_db_pool_connections_in_use "), 2);

	/* A replacement adopts the free slot and counts on from it. */
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0)
		child(dir, 4, -1);
	waitpid(pid, &status, 0);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	arena_reset(a);
	text = render(a);
	CU_ASSERT_EQUAL(value_of(text,
	    "mailroom_http_requests_total{route=\"/readyz\",status=\"200\"} "), 10);
	snprintf(cmd, sizeof(cmd), "test $(ls %s | wc -l) -eq 2", dir);
	CU_ASSERT_EQUAL(system(cmd), 0);

	/* Slots of another route table are not mixed in. */
	metrics_close();
	{
		static const char *other[] = { "/other" };

		CU_ASSERT_EQUAL(metrics_open(dir, other, 1, err, sizeof(err)), 0);
		arena_reset(a);
		text = render(a);
		/* Mixed in, the old /readyz counts would show as index 1: "unmatched". */
		CU_ASSERT_PTR_NULL(strstr(text, "unmatched"));
		CU_ASSERT_PTR_NULL(strstr(text, "mailroom_http_requests_total{"));
		metrics_close();
	}
	close(go[1]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
	arena_free(a);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "status and class indexes", test_indexes },
		{ "private counters and exposition", test_private_counters },
		{ "routes of one pattern make one series", test_same_pattern },
		{ "slots shared by processes", test_shared_slots },
		{ NULL, NULL },
	};

	return unit_run("metrics", tests);
}
