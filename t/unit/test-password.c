/* test-password.c: the password policy (length in code points, UTF-8, the common list,
 * the account's own address and name), Argon2id hashing and verification, rehashing on
 * new parameters, the cap on concurrent hashes and its busy answer, and the settings. */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "password.h"
#include "util.h"
#include "unit.h"

/* Cheap parameters: the tests are about behaviour, not cost. */
#define TEST_OPS 1
#define TEST_MEM (64u << 10)

static const char *test_list_path;

static void
test_params_reset(void)
{
	password_set_params(TEST_OPS, TEST_MEM, PASSWORD_DEFAULT_CONCURRENCY,
	    PASSWORD_DEFAULT_WAIT_MS);
	password_slot_hook = NULL;
}

static enum password_policy
check(const char *pw)
{
	const char *why = "unset";
	enum password_policy p = password_check_policy(pw, "alice.wonderland@example.org",
	    "Alice in Wonderland", &why);

	if (p == PASSWORD_POLICY_OK) {
		CU_ASSERT_PTR_NULL(why);
	} else {
		CU_ASSERT(why != NULL && strlen(why) > 10 && why[strlen(why) - 1] == '.');
	}
	return p;
}

/* n copies of s. */
static char *
repeat(const char *s, int n)
{
	size_t l = strlen(s);
	char *out = xmalloc(l * (size_t)n + 1);

	for (int i = 0; i < n; i++)
		memcpy(out + l * (size_t)i, s, l);
	out[l * (size_t)n] = '\0';
	return out;
}

static void
test_policy_length(void)
{
	char *s;

	CU_ASSERT_EQUAL(check(""), PASSWORD_POLICY_TOO_SHORT);
	CU_ASSERT_EQUAL(check("violet-kett"), PASSWORD_POLICY_TOO_SHORT);
	CU_ASSERT_EQUAL(check("violet-kettl"), PASSWORD_POLICY_OK);
	CU_ASSERT_EQUAL(check("violet-kettle-sings-42"), PASSWORD_POLICY_OK);
	CU_ASSERT_EQUAL(check("correct horse battery staple"), PASSWORD_POLICY_OK);
	s = repeat("ab", 64);		/* 128 */
	CU_ASSERT_EQUAL(check(s), PASSWORD_POLICY_OK);
	free(s);
	s = repeat("a", 129);
	CU_ASSERT_EQUAL(check(s), PASSWORD_POLICY_TOO_LONG);
	free(s);
}

/* Code points, not bytes: 11 two-byte letters are too short, 128 of them are fine. */
static void
test_policy_utf8_length(void)
{
	char *s;

	s = repeat("\xc3\xa9", 11);	/* é: 22 bytes, 11 characters */
	CU_ASSERT_EQUAL(check(s), PASSWORD_POLICY_TOO_SHORT);
	free(s);
	s = repeat("\xc3\xa9", 12);
	CU_ASSERT_EQUAL(check(s), PASSWORD_POLICY_OK);
	free(s);
	s = repeat("\xf0\x9f\x98\x80", 12);	/* an emoji, 4 bytes each */
	CU_ASSERT_EQUAL(check(s), PASSWORD_POLICY_OK);
	free(s);
	s = repeat("\xe6\x97\xa5", 128);	/* 384 bytes, 128 characters */
	CU_ASSERT_EQUAL(check(s), PASSWORD_POLICY_OK);
	free(s);
	s = repeat("\xe6\x97\xa5", 129);
	CU_ASSERT_EQUAL(check(s), PASSWORD_POLICY_TOO_LONG);
	free(s);
	/* Spaces and every printable character are allowed: no composition rules. */
	CU_ASSERT_EQUAL(check("                 x"), PASSWORD_POLICY_OK);
	CU_ASSERT_EQUAL(check("\"\\<>&'`$%{}[]"), PASSWORD_POLICY_OK);
}

static void
test_policy_invalid(void)
{
	CU_ASSERT_EQUAL(check("violet-kettle\xff-sings"), PASSWORD_POLICY_INVALID);
	CU_ASSERT_EQUAL(check("violet-kettle\xc0\xaf-sings"), PASSWORD_POLICY_INVALID);
	CU_ASSERT_EQUAL(check("violet-kettle\xed\xa0\x80-sings"), PASSWORD_POLICY_INVALID);
	CU_ASSERT_EQUAL(check("violet-kettle-sings\xe6\x97"), PASSWORD_POLICY_INVALID);
	CU_ASSERT_EQUAL(check("violet-kettle\t-sings"), PASSWORD_POLICY_INVALID);
	CU_ASSERT_EQUAL(check("violet-kettle\n-sings"), PASSWORD_POLICY_INVALID);
	CU_ASSERT_EQUAL(check("violet-kettle\x7f-sings"), PASSWORD_POLICY_INVALID);
	CU_ASSERT_EQUAL(check("violet-kettle\xc2\x85-sings"), PASSWORD_POLICY_INVALID);
	/* Invalid bytes are reported even in a string too short. */
	CU_ASSERT_EQUAL(check("\xff"), PASSWORD_POLICY_INVALID);
}

static void
test_policy_common(void)
{
	CU_ASSERT_EQUAL(check("password1234"), PASSWORD_POLICY_COMMON);
	CU_ASSERT_EQUAL(check("123456789012"), PASSWORD_POLICY_COMMON);
	CU_ASSERT_EQUAL(check("qwertyuiopasdfgh"), PASSWORD_POLICY_COMMON);
	CU_ASSERT_EQUAL(check("PassWord1234"), PASSWORD_POLICY_COMMON);
	CU_ASSERT_EQUAL(check("QWERTYUIOPASDFGH"), PASSWORD_POLICY_COMMON);
	CU_ASSERT_EQUAL(check("1qaz2wsx3edc"), PASSWORD_POLICY_COMMON);
	CU_ASSERT(password_is_common("PASSWORD1234"));
	CU_ASSERT(!password_is_common("password12345-violet"));
	/* The header of the list is not an entry. */
	CU_ASSERT(!password_is_common("#!comment:"));
}

static void
test_policy_personal(void)
{
	const char *why;

	CU_ASSERT_EQUAL(check("alice.wonderland@example.org"), PASSWORD_POLICY_PERSONAL);
	CU_ASSERT_EQUAL(check("ALICE.Wonderland@example.ORG"), PASSWORD_POLICY_PERSONAL);
	CU_ASSERT_EQUAL(check("Alice.Wonderland"), PASSWORD_POLICY_PERSONAL);
	CU_ASSERT_EQUAL(check("alice in wonderland"), PASSWORD_POLICY_PERSONAL);
	CU_ASSERT_EQUAL(check("alice.wonderland!"), PASSWORD_POLICY_OK);
	/* Either may be missing. */
	CU_ASSERT_EQUAL(password_check_policy("violet-kettle-sings-42", NULL, NULL, &why),
	    PASSWORD_POLICY_OK);
	CU_ASSERT_EQUAL(password_check_policy("some.body.long@x.org", "some.body.long@x.org",
	    NULL, &why), PASSWORD_POLICY_PERSONAL);
	CU_ASSERT_STRING_EQUAL(why, "The password must not be your email address.");
}

/* Without its list the policy refuses rather than let a common password through. */
static void
test_policy_unloaded(void)
{
	char err[256];

	password_shutdown();
	CU_ASSERT_EQUAL(check("violet-kettle-sings-42"), PASSWORD_POLICY_UNAVAILABLE);
	CU_ASSERT_EQUAL_FATAL(password_load_common(test_list_path, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(check("violet-kettle-sings-42"), PASSWORD_POLICY_OK);
}

static void
test_list_file(void)
{
	char path[] = "/tmp/mailroom-test-list-XXXXXX", err[512];
	const char *text = "#!comment: a header\n#!comment:\nFooBarBazQux1\nfoobarbazqux1\n"
	    "Windows-Line\r\n#hashtag-password\n\nno-final-newline";
	int fd = mkstemp(path);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	CU_ASSERT_EQUAL_FATAL(password_load_common(path, err, sizeof(err)), 0);
	CU_ASSERT(password_is_common("FOOBARBAZQUX1"));
	CU_ASSERT(password_is_common("windows-line"));
	CU_ASSERT(password_is_common("#hashtag-password"));
	CU_ASSERT(password_is_common("no-final-newline"));
	CU_ASSERT(!password_is_common("#!comment: a header"));
	CU_ASSERT(!password_is_common(""));
	CU_ASSERT(!password_is_common("password1234"));

	/* A file without entries, and a missing file: refused, the old list kept. */
	fd = open(path, O_WRONLY | O_TRUNC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, "#!comment: x\n\n", 14) == 14);
	close(fd);
	CU_ASSERT_EQUAL(password_load_common(path, err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, "no passwords") != NULL);
	CU_ASSERT(password_is_common("windows-line"));
	unlink(path);
	CU_ASSERT_EQUAL(password_load_common(path, err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, path) != NULL && strstr(err, "No such file") != NULL);

	CU_ASSERT_EQUAL_FATAL(password_load_common(test_list_path, err, sizeof(err)), 0);
	CU_ASSERT(password_is_common("password1234"));
}

static void
test_hash_verify(void)
{
	char hash[PASSWORD_HASH_MAX], hash2[PASSWORD_HASH_MAX];
	int rehash = -1;

	test_params_reset();
	CU_ASSERT_EQUAL_FATAL(password_hash("violet-kettle-sings-42", hash), PASSWORD_OK);
	CU_ASSERT(strncmp(hash, "$argon2id$v=19$m=64,t=1,p=1$", 28) == 0);
	CU_ASSERT_EQUAL(password_verify("violet-kettle-sings-42", hash, &rehash), PASSWORD_OK);
	CU_ASSERT_EQUAL(rehash, 0);
	CU_ASSERT_EQUAL(password_verify("violet-kettle-sings-43", hash, &rehash),
	    PASSWORD_MISMATCH);
	CU_ASSERT_EQUAL(rehash, 0);
	CU_ASSERT_EQUAL(password_verify("", hash, NULL), PASSWORD_MISMATCH);
	CU_ASSERT_EQUAL(password_verify("violet-kettle-sings-42", "$argon2id$garbage", NULL),
	    PASSWORD_MISMATCH);
	CU_ASSERT_EQUAL(password_verify("violet-kettle-sings-42", "", NULL), PASSWORD_MISMATCH);
	/* Salted: the same password hashes differently each time. */
	CU_ASSERT_EQUAL_FATAL(password_hash("violet-kettle-sings-42", hash2), PASSWORD_OK);
	CU_ASSERT(strcmp(hash, hash2) != 0);
	/* UTF-8 passwords are hashed as their bytes. */
	CU_ASSERT_EQUAL_FATAL(password_hash("\xc3\xa9t\xc3\xa9-\xc3\xa0-la-plage", hash),
	    PASSWORD_OK);
	CU_ASSERT_EQUAL(password_verify("\xc3\xa9t\xc3\xa9-\xc3\xa0-la-plage", hash, NULL),
	    PASSWORD_OK);
	CU_ASSERT_EQUAL(password_verify("ete-a-la-plage", hash, NULL), PASSWORD_MISMATCH);
}

static void
test_needs_rehash(void)
{
	char hash[PASSWORD_HASH_MAX];
	int rehash = -1;

	test_params_reset();
	CU_ASSERT_EQUAL_FATAL(password_hash("violet-kettle-sings-42", hash), PASSWORD_OK);
	password_set_params(TEST_OPS + 1, 0, 0, 0);
	CU_ASSERT_EQUAL(password_verify("violet-kettle-sings-42", hash, &rehash), PASSWORD_OK);
	CU_ASSERT_EQUAL(rehash, 1);
	/* A wrong password says nothing about rehashing. */
	CU_ASSERT_EQUAL(password_verify("violet-kettle-sings-4", hash, &rehash),
	    PASSWORD_MISMATCH);
	CU_ASSERT_EQUAL(rehash, 0);
	CU_ASSERT_EQUAL_FATAL(password_hash("violet-kettle-sings-42", hash), PASSWORD_OK);
	CU_ASSERT(strstr(hash, "t=2,") != NULL);
	CU_ASSERT_EQUAL(password_verify("violet-kettle-sings-42", hash, &rehash), PASSWORD_OK);
	CU_ASSERT_EQUAL(rehash, 0);
	/* Memory too. */
	password_set_params(0, TEST_MEM * 2, 0, 0);
	CU_ASSERT_EQUAL(password_verify("violet-kettle-sings-42", hash, &rehash), PASSWORD_OK);
	CU_ASSERT_EQUAL(rehash, 1);
	test_params_reset();
}

static void
test_dummy(void)
{
	test_params_reset();
	CU_ASSERT_EQUAL(password_verify_dummy("violet-kettle-sings-42"), PASSWORD_MISMATCH);
	CU_ASSERT_EQUAL(password_verify_dummy(""), PASSWORD_MISMATCH);
	/* New parameters make a new dummy hash, so its cost follows. */
	password_set_params(TEST_OPS + 1, 0, 0, 0);
	CU_ASSERT_EQUAL(password_verify_dummy("violet-kettle-sings-42"), PASSWORD_MISMATCH);
	test_params_reset();
}

/* --- The concurrency cap ----------------------------------------------------------- */

static atomic_int test_inside, test_peak, test_slow_first;
static atomic_int test_entered;

/* Runs with a slot held: counts who else holds one at the same time. */
static void
test_hook_count(void)
{
	int now = atomic_fetch_add(&test_inside, 1) + 1, peak = atomic_load(&test_peak);

	while (now > peak && !atomic_compare_exchange_weak(&test_peak, &peak, now))
		;
	usleep(5000);
	atomic_fetch_sub(&test_inside, 1);
}

static void *
test_hash_thread(void *arg)
{
	char hash[PASSWORD_HASH_MAX];
	long fails = 0;

	(void)arg;
	for (int i = 0; i < 3; i++) {
		if (password_hash("violet-kettle-sings-42", hash) != PASSWORD_OK ||
		    password_verify("violet-kettle-sings-42", hash, NULL) != PASSWORD_OK)
			fails++;
	}
	return (void *)fails;
}

static int
test_run_threads(int n)
{
	pthread_t t[8];
	long fails = 0;

	for (int i = 0; i < n; i++)
		CU_ASSERT_FATAL(pthread_create(&t[i], NULL, test_hash_thread, NULL) == 0);
	for (int i = 0; i < n; i++) {
		void *r;

		pthread_join(t[i], &r);
		fails += (long)r;
	}
	return (int)fails;
}

static void
test_cap(void)
{
	test_params_reset();
	password_set_params(0, 0, 1, 60000);
	atomic_store(&test_inside, 0);
	atomic_store(&test_peak, 0);
	password_slot_hook = test_hook_count;
	CU_ASSERT_EQUAL(test_run_threads(8), 0);
	CU_ASSERT_EQUAL(atomic_load(&test_peak), 1);

	/* The counter does see overlap when the cap allows it. */
	password_set_params(0, 0, 3, 0);
	atomic_store(&test_peak, 0);
	CU_ASSERT_EQUAL(test_run_threads(8), 0);
	CU_ASSERT(atomic_load(&test_peak) >= 2 && atomic_load(&test_peak) <= 3);
	test_params_reset();
}

/* The first caller keeps its slot for 600 ms. */
static void
test_hook_slow(void)
{
	atomic_store(&test_entered, 1);
	if (atomic_exchange(&test_slow_first, 0))
		usleep(600000);
}

static void *
test_slow_thread(void *arg)
{
	char hash[PASSWORD_HASH_MAX];

	(void)arg;
	return (void *)(long)password_hash("violet-kettle-sings-42", hash);
}

static void
test_busy(void)
{
	char hash[PASSWORD_HASH_MAX];
	pthread_t t;
	int64_t start, ms;
	void *r;

	test_params_reset();
	CU_ASSERT_EQUAL_FATAL(password_hash("violet-kettle-sings-42", hash), PASSWORD_OK);
	password_set_params(0, 0, 1, 100);
	atomic_store(&test_entered, 0);
	atomic_store(&test_slow_first, 1);
	password_slot_hook = test_hook_slow;
	CU_ASSERT_FATAL(pthread_create(&t, NULL, test_slow_thread, NULL) == 0);
	while (!atomic_load(&test_entered))
		usleep(1000);

	start = util_now_us();
	CU_ASSERT_EQUAL(password_hash("violet-kettle-sings-42", hash), PASSWORD_BUSY);
	ms = (util_now_us() - start) / 1000;
	CU_ASSERT(ms >= 95 && ms < 500);
	CU_ASSERT_EQUAL(password_verify("violet-kettle-sings-42", hash, NULL), PASSWORD_BUSY);
	CU_ASSERT_EQUAL(password_verify_dummy("violet-kettle-sings-42"), PASSWORD_BUSY);

	pthread_join(t, &r);
	CU_ASSERT_EQUAL((long)r, PASSWORD_OK);
	/* Free again: served. */
	CU_ASSERT_EQUAL(password_verify("violet-kettle-sings-42", hash, NULL), PASSWORD_OK);
	test_params_reset();
}

/* --- Settings ---------------------------------------------------------------------- */

static const char *test_vars[] = {
	"MAILROOM_CONFIG", "MAILROOM_ENV", "MAILROOM_PWHASH_OPSLIMIT", "MAILROOM_PWHASH_MEMLIMIT",
	"MAILROOM_PWHASH_CONCURRENCY", "MAILROOM_LOGIN_MAX_FAILURES",
	"MAILROOM_LOGIN_LOCK_SECONDS", "MAILROOM_LOGIN_IP_MAX_FAILURES", NULL,
};

static int
test_config(const char *name, const char *value, char *err, size_t errlen)
{
	struct mr_config c;

	for (const char **v = test_vars; *v != NULL; v++)
		unsetenv(*v);
	if (name != NULL)
		setenv(name, value, 1);
	return config_load(&c, err, errlen);
}

static void
test_settings(void)
{
	struct mr_config c;
	char err[512];

	for (const char **v = test_vars; *v != NULL; v++)
		unsetenv(*v);
	CU_ASSERT_EQUAL_FATAL(config_load(&c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.pwhash_opslimit, 3);
	CU_ASSERT_EQUAL(c.pwhash_memlimit, 64u << 20);
	CU_ASSERT_EQUAL(c.pwhash_concurrency, 2);
	CU_ASSERT_EQUAL(c.login_max_failures, 5);
	CU_ASSERT_EQUAL(c.login_lock_seconds, 900);
	CU_ASSERT_EQUAL(c.login_ip_max_failures, 20);

	CU_ASSERT_EQUAL(test_config("MAILROOM_PWHASH_MEMLIMIT", "18m", err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, "MAILROOM_PWHASH_MEMLIMIT") != NULL);
	CU_ASSERT_EQUAL(test_config("MAILROOM_PWHASH_MEMLIMIT", "19m", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(test_config("MAILROOM_PWHASH_OPSLIMIT", "1", err, sizeof(err)), 0);
	setenv("MAILROOM_PWHASH_MEMLIMIT", "32m", 1);
	CU_ASSERT_EQUAL(config_load(&c, err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, "MAILROOM_PWHASH_MEMLIMIT") != NULL);
	CU_ASSERT_EQUAL(test_config("MAILROOM_PWHASH_OPSLIMIT", "0", err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, "MAILROOM_PWHASH_OPSLIMIT") != NULL);
	CU_ASSERT_EQUAL(test_config("MAILROOM_PWHASH_CONCURRENCY", "0", err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, "MAILROOM_PWHASH_CONCURRENCY") != NULL);
	CU_ASSERT_EQUAL(test_config("MAILROOM_LOGIN_MAX_FAILURES", "many", err, sizeof(err)),
	    -1);
	CU_ASSERT(strstr(err, "MAILROOM_LOGIN_MAX_FAILURES") != NULL);
	CU_ASSERT_EQUAL(test_config("MAILROOM_LOGIN_LOCK_SECONDS", "0", err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, "MAILROOM_LOGIN_LOCK_SECONDS") != NULL);
	CU_ASSERT_EQUAL(test_config("MAILROOM_LOGIN_IP_MAX_FAILURES", "3", err, sizeof(err)), 0);
	for (const char **v = test_vars; *v != NULL; v++)
		unsetenv(*v);
	/* config_load set the profile's log level. */
	log_set_level(LOG_LEVEL_ERROR);
}

/* password_init: the settings and the list named by MAILROOM_COMMON_PASSWORDS. */
static void
test_init(void)
{
	char err[512];

	memset(&mr_config, 0, sizeof(mr_config));
	mr_config.common_passwords = "/nonexistent/common-passwords.txt";
	CU_ASSERT_EQUAL(password_init(err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, "MAILROOM_COMMON_PASSWORDS") != NULL &&
	    strstr(err, "/nonexistent/common-passwords.txt") != NULL);
	mr_config.common_passwords = test_list_path;
	mr_config.pwhash_opslimit = TEST_OPS;
	mr_config.pwhash_memlimit = TEST_MEM;
	mr_config.pwhash_concurrency = 2;
	CU_ASSERT_EQUAL(password_init(err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(check("password1234"), PASSWORD_POLICY_COMMON);
	/* The default path is the installed list or, from a build tree, the source's. */
	CU_ASSERT(strstr(password_default_list_path(), "common-passwords.txt") != NULL);
	memset(&mr_config, 0, sizeof(mr_config));
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "policy: length", test_policy_length },
		{ "policy: length in code points", test_policy_utf8_length },
		{ "policy: invalid UTF-8 and control characters", test_policy_invalid },
		{ "policy: common passwords", test_policy_common },
		{ "policy: the address and the name", test_policy_personal },
		{ "policy: refuses without its list", test_policy_unloaded },
		{ "list file format", test_list_file },
		{ "hash and verify", test_hash_verify },
		{ "needs rehash after new parameters", test_needs_rehash },
		{ "dummy verification", test_dummy },
		{ "concurrency cap", test_cap },
		{ "busy after the wait", test_busy },
		{ "settings", test_settings },
		{ "password_init", test_init },
		{ NULL, NULL },
	};
	char err[512];
	int rc;

	log_set_level(LOG_LEVEL_ERROR);
	if (sodium_init() < 0)
		fatal("sodium_init failed");
	test_list_path = getenv("MAILROOM_COMMON_PASSWORDS");
	if (test_list_path == NULL || *test_list_path == '\0')
		test_list_path = password_default_list_path();
	if (password_load_common(test_list_path, err, sizeof(err)) == -1)
		fatal("%s", err);
	test_params_reset();
	rc = unit_run("password", tests);
	password_shutdown();
	return rc;
}
