/* test-config.c: settings from the environment and .env files: defaults, profiles,
 * validation messages that name the variable, the file syntax and its errors. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "unit.h"

static const char *config_vars[] = {
	"MAILROOM_CONFIG", "MAILROOM_ENV", "DATABASE_URL", "MAILROOM_THREADS",
	"MAILROOM_DB_POOL_SIZE", "MAILROOM_DB_CONNECT_TIMEOUT", "MAILROOM_DB_STATEMENT_TIMEOUT",
	"MAILROOM_DB_ACQUIRE_TIMEOUT", "MAILROOM_MAX_BODY", "MAILROOM_MAX_UPLOAD",
	"MAILROOM_LOG_LEVEL", "MAILROOM_METRICS_DIR", "MAILROOM_BASE_URL", "T_A", "T_B", "T_C",
	"T_D", "T_E", "T_F", NULL,
};

static void
config_clear(void)
{
	for (const char **v = config_vars; *v != NULL; v++)
		unsetenv(*v);
}

static char *
config_write(const char *text)
{
	static char path[] = "/tmp/mailroom-test-env-XXXXXX";
	int fd;

	strcpy(path, "/tmp/mailroom-test-env-XXXXXX");
	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
test_defaults(void)
{
	struct mr_config c;
	char err[256];

	config_clear();
	CU_ASSERT_EQUAL_FATAL(config_load(&c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.profile, PROFILE_DEVELOPMENT);
	CU_ASSERT_STRING_EQUAL(c.database_url, "postgresql:///mailroom");
	CU_ASSERT_EQUAL(c.threads, 16);
	CU_ASSERT_EQUAL(c.db_pool_size, 8);
	CU_ASSERT_EQUAL(c.max_body, 1 << 20);
	CU_ASSERT_EQUAL(c.max_upload, 25 << 20);
	CU_ASSERT_EQUAL(c.secure_cookies, 0);
}

static void
test_production_requires(void)
{
	struct mr_config c;
	char err[256];

	config_clear();
	setenv("MAILROOM_ENV", "production", 1);
	CU_ASSERT_EQUAL(config_load(&c, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "DATABASE_URL"));
	setenv("DATABASE_URL", "postgresql://db.example/mailroom", 1);
	CU_ASSERT_EQUAL(config_load(&c, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "MAILROOM_BASE_URL"));
	setenv("MAILROOM_BASE_URL", "http://mail.example", 1);
	CU_ASSERT_EQUAL(config_load(&c, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "https"));
	setenv("MAILROOM_BASE_URL", "https://mail.example", 1);
	CU_ASSERT_EQUAL(config_load(&c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.profile, PROFILE_PRODUCTION);
	CU_ASSERT_EQUAL(c.secure_cookies, 1);
	config_clear();
}

static void
test_bad_values(void)
{
	static const struct {
		const char *name, *value;
	} cases[] = {
		{ "MAILROOM_ENV", "prod" },
		{ "MAILROOM_THREADS", "0" },
		{ "MAILROOM_THREADS", "12abc" },
		{ "MAILROOM_DB_POOL_SIZE", "21" },
		{ "MAILROOM_MAX_BODY", "10x" },
		{ "MAILROOM_MAX_BODY", "-1" },
		{ "MAILROOM_MAX_UPLOAD", "99g" },
		{ "MAILROOM_LOG_LEVEL", "loud" },
		{ "MAILROOM_BASE_URL", "ftp://x" },
	};
	struct mr_config c;
	char err[256];

	for (size_t i = 0; i < MR_ARRAY_LEN(cases); i++) {
		config_clear();
		setenv(cases[i].name, cases[i].value, 1);
		CU_ASSERT_EQUAL(config_load(&c, err, sizeof(err)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].name));
	}
	config_clear();
	setenv("MAILROOM_THREADS", "4", 1);
	setenv("MAILROOM_DB_POOL_SIZE", "5", 1);
	CU_ASSERT_EQUAL(config_load(&c, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "MAILROOM_DB_POOL_SIZE"));
	setenv("MAILROOM_MAX_BODY", "512k", 1);
	setenv("MAILROOM_DB_POOL_SIZE", "4", 1);
	CU_ASSERT_EQUAL(config_load(&c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.max_body, 512 * 1024);
	config_clear();
}

static void
test_env_file(void)
{
	struct mr_config c;
	char err[256];
	char *path;

	config_clear();
	path = config_write("# comment\n\nexport T_A=plain value # trailing comment\n"
	    "T_B = 'single $quoted # kept'\nT_C=\"double\\n\\\"esc\\\"\"\nT_D=\n"
	    "DATABASE_URL=postgresql://file/db\nMAILROOM_THREADS=4\n");
	setenv("MAILROOM_CONFIG", path, 1);
	setenv("MAILROOM_THREADS", "6", 1); /* the environment wins over the file */
	CU_ASSERT_EQUAL_FATAL(config_load(&c, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(getenv("T_A"), "plain value");
	CU_ASSERT_STRING_EQUAL(getenv("T_B"), "single $quoted # kept");
	CU_ASSERT_STRING_EQUAL(getenv("T_C"), "double\n\"esc\"");
	CU_ASSERT_STRING_EQUAL(getenv("T_D"), "");
	CU_ASSERT_STRING_EQUAL(c.database_url, "postgresql://file/db");
	CU_ASSERT_EQUAL(c.threads, 6);
	unlink(path);
	config_clear();
}

static void
test_env_file_errors(void)
{
	static const char *bad[] = {
		"T_A=ok\nnot a line\n",
		"T_A=\"unterminated\n",
		"T_A='x' trailing\n",
		"1T=x\n",
		"T_A=\"bad \\q escape\"\n",
	};
	char err[256];

	for (size_t i = 0; i < MR_ARRAY_LEN(bad); i++) {
		char *path = config_write(bad[i]);

		config_clear();
		CU_ASSERT_EQUAL(config_load_env_file(path, err, sizeof(err)), -1);
		/* The message points at the file and the line. */
		CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, i == 0 ? ":2:" : ":1:"));
		unlink(path);
	}
	CU_ASSERT_EQUAL(config_load_env_file("/nonexistent/.env", err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/.env"));
	config_clear();
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "defaults", test_defaults },
		{ "production requires its settings", test_production_requires },
		{ "bad values name the variable", test_bad_values },
		{ ".env file", test_env_file },
		{ ".env file errors", test_env_file_errors },
		{ NULL, NULL },
	};

	/* The tests must not pick up a developer's ./.env. */
	if (chdir("/") != 0)
		return 1;
	return unit_run("config", tests);
}
