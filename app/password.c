/* password.c: the password policy, the common password list, Argon2id hashing and the
 * per-process cap on concurrent hash computations (password.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "password.h"
#include "util.h"

/* The list is a few hundred kilobytes; anything much larger is not a password list. */
#define PASSWORD_LIST_MAX_BYTES (64u << 20)
#define PASSWORD_LIST_COMMENT "#!comment:"

void (*password_slot_hook)(void);

/*
 * Argon2id parameters. OWASP's Password Storage Cheat Sheet gives as minimums (p = 1)
 * m = 19 MiB with t = 2, or m = 46 MiB with t = 1, and equivalent trades in between;
 * ASVS 4.0 V2.4 asks for an approved, salted, memory-hard or iterated function with a
 * cost "as large as verification server performance will allow". libsodium's MODERATE
 * (t = 3, m = 256 MiB) takes about a second on one core of a small VPS, too slow for a
 * sign-in page; INTERACTIVE (t = 2, m = 64 MiB) is at the bottom of what libsodium calls
 * interactive use. The default, t = 3 and m = 64 MiB (0.22 s on one core of the 2-core
 * test machine), is three times OWASP's m x t minimum and bounded: with the default cap
 * of 2 computations per process, hashing never holds more than 128 MiB per process.
 * config.c refuses settings below OWASP's minimums; these variables are changed only by
 * password_set_params (tests use cheap parameters).
 */
static pthread_mutex_t password_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t password_cv;
static pthread_once_t password_cv_once = PTHREAD_ONCE_INIT;
static unsigned long long password_opslimit = PASSWORD_DEFAULT_OPSLIMIT;
static size_t password_memlimit = PASSWORD_DEFAULT_MEMLIMIT;
static int password_concurrency = PASSWORD_DEFAULT_CONCURRENCY;
static int password_wait_ms = PASSWORD_DEFAULT_WAIT_MS;
static int password_running;

/* The hash password_verify_dummy checks against, made with the parameters it names. */
static pthread_mutex_t password_dummy_mu = PTHREAD_MUTEX_INITIALIZER;
static char password_dummy[PASSWORD_HASH_MAX];
static unsigned long long password_dummy_opslimit;
static size_t password_dummy_memlimit;

/* The common list: lower-cased entries, sorted, without duplicates, inside one buffer. */
static char *password_list_buf;
static char **password_list;
static size_t password_list_len;
static int password_list_loaded;

/* A program that forgot password_init still gets its settings and the list (or, when
 * the list cannot be read, a policy that refuses every password) on first use. */
static pthread_once_t password_lazy_once = PTHREAD_ONCE_INIT;
static int password_initialized;

static void
password_cv_init(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&password_cv, &a);
	pthread_condattr_destroy(&a);
}

void
password_set_params(unsigned long long opslimit, size_t memlimit, int concurrency,
    int wait_ms)
{
	pthread_once(&password_cv_once, password_cv_init);
	pthread_mutex_lock(&password_mu);
	if (opslimit != 0)
		password_opslimit = opslimit;
	if (memlimit != 0)
		password_memlimit = memlimit;
	if (concurrency > 0)
		password_concurrency = concurrency;
	if (wait_ms > 0)
		password_wait_ms = wait_ms;
	/* A larger cap lets waiting threads in now. */
	pthread_cond_broadcast(&password_cv);
	pthread_mutex_unlock(&password_mu);
}

static void
password_lazy(void)
{
	char err[512];

	if (password_initialized)
		return;
	log_warn("password_init was not called at start-up: initialising on first use");
	password_set_params((unsigned long long)mr_config.pwhash_opslimit,
	    mr_config.pwhash_memlimit, mr_config.pwhash_concurrency, 0);
	if (!password_list_loaded && password_load_common(mr_config.common_passwords != NULL ?
	    mr_config.common_passwords : password_default_list_path(), err, sizeof(err)) == -1)
		log_err("MAILROOM_COMMON_PASSWORDS: %s", err);
}

/* Takes a hashing slot, waiting at most password_wait_ms; copies the parameters of the
 * moment. Returns -1 when no slot came free in time. */
static int
password_slot_acquire(unsigned long long *opslimit, size_t *memlimit)
{
	struct timespec deadline;

	pthread_once(&password_lazy_once, password_lazy);
	pthread_once(&password_cv_once, password_cv_init);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	pthread_mutex_lock(&password_mu);
	deadline.tv_sec += password_wait_ms / 1000;
	deadline.tv_nsec += (long)(password_wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (password_running >= password_concurrency) {
		if (pthread_cond_timedwait(&password_cv, &password_mu, &deadline) == ETIMEDOUT &&
		    password_running >= password_concurrency) {
			pthread_mutex_unlock(&password_mu);
			log_warn("no password hashing slot free within %d ms (%d in use)",
			    password_wait_ms, password_concurrency);
			return -1;
		}
	}
	password_running++;
	*opslimit = password_opslimit;
	*memlimit = password_memlimit;
	pthread_mutex_unlock(&password_mu);
	if (password_slot_hook != NULL)
		password_slot_hook();
	return 0;
}

static void
password_slot_release(void)
{
	pthread_mutex_lock(&password_mu);
	password_running--;
	pthread_cond_signal(&password_cv);
	pthread_mutex_unlock(&password_mu);
}

enum password_status
password_hash(const char *pw, char out[PASSWORD_HASH_MAX])
{
	unsigned long long ops;
	size_t mem;
	int r;

	if (password_slot_acquire(&ops, &mem) == -1)
		return PASSWORD_BUSY;
	r = crypto_pwhash_str_alg(out, pw, strlen(pw), ops, mem,
	    crypto_pwhash_ALG_ARGON2ID13);
	password_slot_release();
	if (r != 0) {
		log_err("crypto_pwhash_str_alg failed (out of memory? memlimit %zu)", mem);
		return PASSWORD_ERROR;
	}
	return PASSWORD_OK;
}

enum password_status
password_verify(const char *pw, const char *hash, int *needs_rehash)
{
	unsigned long long ops;
	size_t mem;
	int r;

	if (needs_rehash != NULL)
		*needs_rehash = 0;
	if (password_slot_acquire(&ops, &mem) == -1)
		return PASSWORD_BUSY;
	r = crypto_pwhash_str_verify(hash, pw, strlen(pw));
	password_slot_release();
	if (r != 0)
		return PASSWORD_MISMATCH;
	/* Not only other parameters: a hash of another algorithm (-1) is replaced too. */
	if (needs_rehash != NULL)
		*needs_rehash = crypto_pwhash_str_needs_rehash(hash, ops, mem) != 0;
	return PASSWORD_OK;
}

/* Makes the dummy hash for the current parameters, unless it is already made. Called with
 * password_dummy_mu held. */
static enum password_status
password_dummy_prepare(void)
{
	unsigned long long ops;
	size_t mem;
	char random[33];
	enum password_status st;

	pthread_mutex_lock(&password_mu);
	ops = password_opslimit;
	mem = password_memlimit;
	pthread_mutex_unlock(&password_mu);
	if (password_dummy[0] != '\0' && ops == password_dummy_opslimit &&
	    mem == password_dummy_memlimit)
		return PASSWORD_OK;
	util_random_hex(random, 16);
	st = password_hash(random, password_dummy);
	sodium_memzero(random, sizeof(random));
	if (st != PASSWORD_OK) {
		password_dummy[0] = '\0';
		return st;
	}
	password_dummy_opslimit = ops;
	password_dummy_memlimit = mem;
	return PASSWORD_OK;
}

enum password_status
password_verify_dummy(const char *pw)
{
	char hash[PASSWORD_HASH_MAX];
	enum password_status st;

	pthread_mutex_lock(&password_dummy_mu);
	st = password_dummy_prepare();
	memcpy(hash, password_dummy, sizeof(hash));
	pthread_mutex_unlock(&password_dummy_mu);
	if (st == PASSWORD_ERROR)
		return PASSWORD_MISMATCH;
	if (st != PASSWORD_OK)
		return st;
	/* A match with the random dummy is not possible in practice; it is no sign-in. */
	return password_verify(pw, hash, NULL) == PASSWORD_BUSY ? PASSWORD_BUSY :
	    PASSWORD_MISMATCH;
}

/* ASCII-only case folding: the list is ASCII, and no locale decides what a byte means. */
static char
password_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int
password_list_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

const char *
password_default_list_path(void)
{
	static const char installed[] = MR_PKGDATADIR "/common-passwords.txt";
#ifdef MR_SRCDIR
	static const char tree[] = MR_SRCDIR "/share/common-passwords.txt";

	/* Not installed: the programs run from their build tree. */
	if (access(installed, R_OK) != 0 && access(tree, R_OK) == 0)
		return tree;
#endif
	return installed;
}

int
password_load_common(const char *path, char *err, size_t errlen)
{
	FILE *f;
	char *buf = NULL, **list = NULL, *p, *end;
	size_t len = 0, cap = 0, n = 0, ncap = 0, kept;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		size_t got;

		if (cap - len < 65536) {
			cap = cap == 0 ? 1 << 20 : cap * 2;
			if (cap > PASSWORD_LIST_MAX_BYTES + 1) {
				snprintf(err, errlen, "%s: larger than %u bytes", path,
				    PASSWORD_LIST_MAX_BYTES);
				goto fail;
			}
			buf = xreallocarray(buf, cap, 1);
		}
		got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto fail;
	}
	fclose(f);
	f = NULL;
	buf[len] = '\0';

	for (p = buf; p < buf + len; p = end + 1) {
		size_t l;

		end = memchr(p, '\n', (size_t)(buf + len - p));
		if (end == NULL)
			end = buf + len;
		*end = '\0';
		l = (size_t)(end - p);
		if (l > 0 && p[l - 1] == '\r')
			p[--l] = '\0';
		if (l == 0 || strncmp(p, PASSWORD_LIST_COMMENT,
		    sizeof(PASSWORD_LIST_COMMENT) - 1) == 0)
			continue;
		if (strlen(p) != l) {
			snprintf(err, errlen, "%s: a NUL byte in an entry", path);
			goto fail;
		}
		for (size_t i = 0; i < l; i++)
			p[i] = password_lower(p[i]);
		if (n == ncap) {
			ncap = ncap == 0 ? 4096 : ncap * 2;
			list = xreallocarray(list, ncap, sizeof(*list));
		}
		list[n++] = p;
	}
	if (n == 0) {
		snprintf(err, errlen, "%s: no passwords in the list", path);
		goto fail;
	}
	qsort(list, n, sizeof(*list), password_list_cmp);
	kept = 1;
	for (size_t i = 1; i < n; i++) {
		if (strcmp(list[i], list[kept - 1]) != 0)
			list[kept++] = list[i];
	}

	password_shutdown();
	password_list_buf = buf;
	password_list = list;
	password_list_len = kept;
	password_list_loaded = 1;
	return 0;
fail:
	if (f != NULL)
		fclose(f);
	free(list);
	free(buf);
	return -1;
}

void
password_shutdown(void)
{
	free(password_list);
	free(password_list_buf);
	password_list = NULL;
	password_list_buf = NULL;
	password_list_len = 0;
	password_list_loaded = 0;
}

int
password_is_common(const char *pw)
{
	char low[4 * PASSWORD_MAX_CHARS + 1];
	const char *key = low;
	size_t n = strlen(pw);
	int found;

	/* Longer than any password the policy accepts: not worth a lookup. */
	if (n >= sizeof(low) || password_list_len == 0)
		return 0;
	for (size_t i = 0; i <= n; i++)
		low[i] = password_lower(pw[i]);
	found = bsearch(&key, password_list, password_list_len, sizeof(*password_list),
	    password_list_cmp) != NULL;
	sodium_memzero(low, sizeof(low));
	return found;
}

/* Whether pw equals the n bytes at s, ignoring ASCII case. */
static int
password_equal_n(const char *pw, const char *s, size_t n)
{
	if (strlen(pw) != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (password_lower(pw[i]) != password_lower(s[i]))
			return 0;
	}
	return 1;
}

enum password_policy
password_check_policy(const char *pw, const char *email, const char *display_name,
    const char **why)
{
	const unsigned char *s = (const unsigned char *)pw;
	size_t n = strlen(pw), chars = 0, i = 0;
	const char *at;

	pthread_once(&password_lazy_once, password_lazy);
	while (i < n) {
		uint32_t cp;
		size_t l = util_utf8_decode(s + i, n - i, &cp);

		if (l == 0) {
			*why = "The password contains bytes that are not valid text (UTF-8).";
			return PASSWORD_POLICY_INVALID;
		}
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
			*why = "The password must not contain control characters.";
			return PASSWORD_POLICY_INVALID;
		}
		if (++chars > PASSWORD_MAX_CHARS) {
			*why = "Use at most 128 characters.";
			return PASSWORD_POLICY_TOO_LONG;
		}
		i += l;
	}
	if (chars < PASSWORD_MIN_CHARS) {
		*why = "Use at least 12 characters.";
		return PASSWORD_POLICY_TOO_SHORT;
	}
	if (email != NULL && *email != '\0') {
		at = strrchr(email, '@');
		if (password_equal_n(pw, email, strlen(email)) ||
		    (at != NULL && password_equal_n(pw, email, (size_t)(at - email)))) {
			*why = "The password must not be your email address.";
			return PASSWORD_POLICY_PERSONAL;
		}
	}
	if (display_name != NULL && *display_name != '\0' &&
	    password_equal_n(pw, display_name, strlen(display_name))) {
		*why = "The password must not be your name.";
		return PASSWORD_POLICY_PERSONAL;
	}
	/* Without the list, a common password would pass: refuse rather than wave through. */
	if (!password_list_loaded) {
		log_err("the common password list is not loaded (password_init not called?)");
		*why = "Passwords cannot be checked right now. Please try again later.";
		return PASSWORD_POLICY_UNAVAILABLE;
	}
	if (password_is_common(pw)) {
		*why = "This password is one of the most common ones and would be guessed "
		    "quickly. Choose another.";
		return PASSWORD_POLICY_COMMON;
	}
	*why = NULL;
	return PASSWORD_POLICY_OK;
}

int
password_init(char *err, size_t errlen)
{
	const char *path = mr_config.common_passwords;
	char why[512];
	enum password_status st;

	password_initialized = 1;
	password_set_params((unsigned long long)mr_config.pwhash_opslimit,
	    mr_config.pwhash_memlimit, mr_config.pwhash_concurrency, 0);
	if (path == NULL)
		path = password_default_list_path();
	if (password_load_common(path, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "MAILROOM_COMMON_PASSWORDS: %s", why);
		return -1;
	}
	log_debug("%zu common passwords from %s", password_list_len, path);
	pthread_mutex_lock(&password_dummy_mu);
	st = password_dummy_prepare();
	pthread_mutex_unlock(&password_dummy_mu);
	if (st != PASSWORD_OK) {
		snprintf(err, errlen, "cannot hash with MAILROOM_PWHASH_MEMLIMIT=%zu: out of "
		    "memory", mr_config.pwhash_memlimit);
		return -1;
	}
	return 0;
}
