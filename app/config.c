/* config.c: the settings loader. Values come from the environment, optionally seeded from
 * a .env file; each is validated here so that a bad value stops start-up with its name. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cors.h"
#include "mailer.h"
#include "util.h"

struct mr_config mr_config;

static const char *config_profile_names[] = { "development", "staging", "production" };

const char *
config_profile_name(enum config_profile p)
{
	return config_profile_names[p];
}

/* Reads one value of a .env line: bare (trailing comment allowed after a space), single
 * quoted (literal) or double quoted (\n, \t, \", \\ escapes). */
static int
config_env_value(const char *s, char *out, size_t outlen, const char **why)
{
	size_t n = 0;

	if (*s == '\'' || *s == '"') {
		char q = *s++;

		for (; *s != q; s++) {
			char c = *s;

			if (c == '\0') {
				*why = "unterminated quoted value";
				return -1;
			}
			if (q == '"' && c == '\\') {
				s++;
				switch (*s) {
				case 'n': c = '\n'; break;
				case 't': c = '\t'; break;
				case '"': c = '"'; break;
				case '\\': c = '\\'; break;
				case '$': c = '$'; break;
				default:
					*why = "unknown escape in double-quoted value";
					return -1;
				}
			}
			if (n + 1 >= outlen) {
				*why = "value too long";
				return -1;
			}
			out[n++] = c;
		}
		s++;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s != '\0' && *s != '#') {
			*why = "text after the closing quote";
			return -1;
		}
	} else {
		for (; *s != '\0'; s++) {
			if (*s == '#' && n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
				break;
			if (n + 1 >= outlen) {
				*why = "value too long";
				return -1;
			}
			out[n++] = *s;
		}
		while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
			n--;
	}
	out[n] = '\0';
	return 0;
}

int
config_load_env_file(const char *path, char *err, size_t errlen)
{
	FILE *f;
	char line[8192], value[8192];
	int lineno = 0, rc = -1;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *name, *eq;
		const char *why = NULL;
		size_t len = strlen(line);

		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			goto out;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if (strncmp(p, "export ", 7) == 0)
			p += 7;
		name = p;
		if (!(isalpha((unsigned char)*p) || *p == '_')) {
			snprintf(err, errlen, "%s:%d: expected NAME=value", path, lineno);
			goto out;
		}
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		eq = p;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=') {
			snprintf(err, errlen, "%s:%d: expected NAME=value", path, lineno);
			goto out;
		}
		*eq = '\0';
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (config_env_value(p, value, sizeof(value), &why) == -1) {
			snprintf(err, errlen, "%s:%d: %s: %s", path, lineno, name, why);
			goto out;
		}
		/* The environment wins: a deployment can override the file. */
		if (setenv(name, value, 0) == -1) {
			snprintf(err, errlen, "%s:%d: %s: %s", path, lineno, name, strerror(errno));
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

static int
config_int(const char *name, int def, int min, int max, int *out, char *err, size_t errlen)
{
	const char *s = getenv(name);
	int64_t v;

	if (s == NULL || *s == '\0') {
		*out = def;
		return 0;
	}
	if (util_parse_int64(s, min, max, &v) == -1) {
		snprintf(err, errlen, "%s: expected an integer from %d to %d, got \"%.40s\"", name,
		    min, max, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* Sizes accept a plain byte count or a k/m/g suffix (powers of 1024). */
static int
config_size(const char *name, size_t def, size_t *out, char *err, size_t errlen)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (s == NULL || *s == '\0') {
		*out = def;
		return 0;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || !isdigit((unsigned char)*s))
		goto bad;
	switch (tolower((unsigned char)*end)) {
	case '\0': break;
	case 'k': v <<= 10; end++; break;
	case 'm': v <<= 20; end++; break;
	case 'g': v <<= 30; end++; break;
	default: goto bad;
	}
	if (*end != '\0' || v == 0 || v > (1ULL << 32))
		goto bad;
	*out = (size_t)v;
	return 0;
bad:
	snprintf(err, errlen, "%s: expected a size such as 1048576, 512k or 25m (at most 4g), "
	    "got \"%.40s\"", name, s);
	return -1;
}

static const char *
config_str(const char *name, const char *def)
{
	const char *s = getenv(name);

	return s != NULL && *s != '\0' ? s : def;
}

/* MAILROOM_SMTP_URL: smtp:// or smtps://, a host, an optional port and an optional
 * "/name" to greet with. NULL when acceptable, else the reason. */
static const char *
config_smtp_url_invalid(const char *url, int *smtps)
{
	const char *p, *host, *end;
	int64_t port;

	if (strncmp(url, "smtp://", 7) == 0) {
		p = url + 7;
		*smtps = 0;
	} else if (strncmp(url, "smtps://", 8) == 0) {
		p = url + 8;
		*smtps = 1;
	} else {
		return "expected smtp://host[:port] or smtps://host[:port]";
	}
	end = p + strcspn(p, "/");
	/* Credentials have their own settings, so that the URL can appear in messages. */
	if (memchr(p, '@', (size_t)(end - p)) != NULL)
		return "no credentials in the URL: use MAILROOM_SMTP_USER and MAILROOM_SMTP_PASSWORD";
	host = p;
	if (*p == '[') {
		while (isxdigit((unsigned char)*++p) || *p == ':' || *p == '.')
			;
		if (*p++ != ']' || p - host < 4)
			return "bad IPv6 address";
	} else {
		while (isalnum((unsigned char)*p) || *p == '.' || *p == '-')
			p++;
	}
	if (p == host)
		return "no host";
	if (*p == ':') {
		char digits[8];
		size_t n = strspn(p + 1, "0123456789");

		if (n == 0 || n >= sizeof(digits))
			return "bad port";
		memcpy(digits, p + 1, n);
		digits[n] = '\0';
		if (util_parse_int64(digits, 1, 65535, &port) == -1)
			return "bad port";
		p += 1 + n;
	}
	if (p != end)
		return "unexpected character after the host";
	if (*end == '/') {
		for (p = end + 1; *p != '\0'; p++) {
			if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
				return "the path may only hold the name to greet the server with";
		}
	}
	return NULL;
}

/* Outgoing mail. Without MAILROOM_SMTP_URL nothing is sent (and the pages that would send
 * say so); with it, a valid sender and, outside development, TLS for a password. */
static int
config_mail(struct mr_config *cfg, char *err, size_t errlen)
{
	static const char *tls_names[] = { "required", "optional", "none" };
	const char *tls, *why;
	char name[256], addr[256];
	int found = 0, smtps = 0;

	cfg->smtp_url = config_str("MAILROOM_SMTP_URL", NULL);
	cfg->smtp_user = config_str("MAILROOM_SMTP_USER", NULL);
	cfg->smtp_password = config_str("MAILROOM_SMTP_PASSWORD", NULL);
	tls = config_str("MAILROOM_SMTP_TLS",
	    cfg->profile == PROFILE_DEVELOPMENT ? "optional" : "required");
	for (size_t i = 0; i < MR_ARRAY_LEN(tls_names); i++) {
		if (strcmp(tls, tls_names[i]) == 0) {
			cfg->smtp_tls = (enum config_smtp_tls)i;
			found = 1;
		}
	}
	if (!found) {
		snprintf(err, errlen, "MAILROOM_SMTP_TLS: expected required, optional or none, "
		    "got \"%.40s\"", tls);
		return -1;
	}
	cfg->mail_from = config_str("MAILROOM_MAIL_FROM",
	    cfg->profile == PROFILE_DEVELOPMENT ? "mailroom <mailroom@localhost>" : NULL);
	if (cfg->mail_from != NULL && mailer_mailbox_parse(cfg->mail_from, name, sizeof(name),
	    addr, sizeof(addr), &why) == -1) {
		snprintf(err, errlen, "MAILROOM_MAIL_FROM: %s (expected \"Name <address>\" or an "
		    "address)", why);
		return -1;
	}
	if (cfg->smtp_url == NULL)
		return 0;
	if ((why = config_smtp_url_invalid(cfg->smtp_url, &smtps)) != NULL) {
		snprintf(err, errlen, "MAILROOM_SMTP_URL: %s", why);
		return -1;
	}
	if (smtps && cfg->smtp_tls == SMTP_TLS_NONE) {
		snprintf(err, errlen, "MAILROOM_SMTP_TLS: none contradicts smtps:// (TLS from the "
		    "start): use smtp:// or another MAILROOM_SMTP_TLS");
		return -1;
	}
	if (cfg->mail_from == NULL) {
		snprintf(err, errlen, "MAILROOM_MAIL_FROM is not set (required with "
		    "MAILROOM_SMTP_URL outside development)");
		return -1;
	}
	if ((cfg->smtp_user == NULL) != (cfg->smtp_password == NULL)) {
		snprintf(err, errlen, "%s is set but %s is not", cfg->smtp_user != NULL ?
		    "MAILROOM_SMTP_USER" : "MAILROOM_SMTP_PASSWORD", cfg->smtp_user != NULL ?
		    "MAILROOM_SMTP_PASSWORD" : "MAILROOM_SMTP_USER");
		return -1;
	}
	if (cfg->profile == PROFILE_PRODUCTION && cfg->smtp_user != NULL && !smtps &&
	    cfg->smtp_tls != SMTP_TLS_REQUIRED) {
		snprintf(err, errlen, "MAILROOM_SMTP_TLS: production sends the SMTP password over "
		    "TLS only: set it to required, or use smtps://");
		return -1;
	}
	return 0;
}

/* Password hashing and the sign-in throttle (password.c, throttle.c). Argon2id settings
 * below OWASP's minimums (m = 19 MiB with t = 2, or m = 46 MiB with t = 1) are refused. */
static int
config_passwords(struct mr_config *cfg, char *err, size_t errlen)
{
	if (config_int("MAILROOM_PWHASH_OPSLIMIT", 3, 1, 32, &cfg->pwhash_opslimit, err,
	    errlen) == -1 ||
	    config_size("MAILROOM_PWHASH_MEMLIMIT", 64 << 20, &cfg->pwhash_memlimit, err,
	    errlen) == -1 ||
	    config_int("MAILROOM_PWHASH_CONCURRENCY", 2, 1, 64, &cfg->pwhash_concurrency, err,
	    errlen) == -1 ||
	    config_int("MAILROOM_LOGIN_MAX_FAILURES", 5, 1, 100, &cfg->login_max_failures, err,
	    errlen) == -1 ||
	    config_int("MAILROOM_LOGIN_LOCK_SECONDS", 900, 1, 86400, &cfg->login_lock_seconds,
	    err, errlen) == -1 ||
	    config_int("MAILROOM_LOGIN_IP_MAX_FAILURES", 20, 1, 10000,
	    &cfg->login_ip_max_failures, err, errlen) == -1)
		return -1;
	if (cfg->pwhash_memlimit < (19u << 20) ||
	    (cfg->pwhash_opslimit == 1 && cfg->pwhash_memlimit < (46u << 20))) {
		snprintf(err, errlen, "MAILROOM_PWHASH_MEMLIMIT: %zu bytes is below the minimum "
		    "(19m, or 46m with MAILROOM_PWHASH_OPSLIMIT=1)", cfg->pwhash_memlimit);
		return -1;
	}
	cfg->common_passwords = config_str("MAILROOM_COMMON_PASSWORDS", NULL);
	return 0;
}

/* The browser extension: its origins (CORS, the OAuth client ids, cors.h) and the
 * lifetime of its access tokens (15 minutes; refresh tokens rotate, oauth.c). */
static int
config_extension(struct mr_config *cfg, char *err, size_t errlen)
{
	static char form_action[4096];
	const char *why;

	cfg->extension_origins = config_str("MAILROOM_EXTENSION_ORIGINS", NULL);
	if ((why = cors_origins_invalid(cfg->extension_origins)) != NULL) {
		snprintf(err, errlen, "MAILROOM_EXTENSION_ORIGINS: %s", why);
		return -1;
	}
	if (cors_form_action(cfg->extension_origins, form_action, sizeof(form_action)) == -1) {
		snprintf(err, errlen, "MAILROOM_EXTENSION_ORIGINS: too long");
		return -1;
	}
	cfg->csp_form_action = form_action;
	return config_int("MAILROOM_ACCESS_TOKEN_TTL", 900, 60, 86400, &cfg->access_token_ttl,
	    err, errlen);
}

/* Mail accounts: the CAs IMAP servers are checked against, the network timeout, and how
 * much of each folder the first sync fetches. */
static int
config_mailboxes(struct mr_config *cfg, char *err, size_t errlen)
{
	cfg->imap_ca_file = config_str("MAILROOM_IMAP_CA_FILE", NULL);
	if (cfg->imap_ca_file != NULL && access(cfg->imap_ca_file, R_OK) != 0) {
		snprintf(err, errlen, "MAILROOM_IMAP_CA_FILE: cannot read %.200s",
		    cfg->imap_ca_file);
		return -1;
	}
	if (config_int("MAILROOM_IMAP_TIMEOUT", 60, 5, 3600, &cfg->imap_timeout, err,
	    errlen) == -1 ||
	    config_int("MAILROOM_IMAP_ALLOW_PRIVATE", cfg->profile == PROFILE_DEVELOPMENT, 0, 1,
	    &cfg->imap_allow_private, err, errlen) == -1 ||
	    config_int("MAILROOM_BACKFILL_MESSAGES", 5000, 1, 10000000, &cfg->backfill_messages,
	    err, errlen) == -1 ||
	    config_int("MAILROOM_BACKFILL_DAYS", 365, 1, 36500, &cfg->backfill_days, err,
	    errlen) == -1)
		return -1;
	return 0;
}

int
config_load(struct mr_config *cfg, char *err, size_t errlen)
{
	const char *path = getenv("MAILROOM_CONFIG"), *profile;
	enum log_level level;
	int found = 0;

	memset(cfg, 0, sizeof(*cfg));
	if (path != NULL && *path != '\0') {
		if (config_load_env_file(path, err, errlen) == -1)
			return -1;
	} else if (access(".env", R_OK) == 0) {
		if (config_load_env_file(".env", err, errlen) == -1)
			return -1;
	}

	profile = config_str("MAILROOM_ENV", "development");
	for (size_t i = 0; i < MR_ARRAY_LEN(config_profile_names); i++) {
		if (strcmp(profile, config_profile_names[i]) == 0) {
			cfg->profile = (enum config_profile)i;
			found = 1;
		}
	}
	if (!found) {
		snprintf(err, errlen, "MAILROOM_ENV: expected development, staging or production, "
		    "got \"%.40s\"", profile);
		return -1;
	}

	cfg->database_url = config_str("DATABASE_URL", NULL);
	if (cfg->database_url == NULL) {
		if (cfg->profile != PROFILE_DEVELOPMENT) {
			snprintf(err, errlen, "DATABASE_URL is not set (required outside development)");
			return -1;
		}
		cfg->database_url = "postgresql:///mailroom";
	}

	if (config_int("MAILROOM_THREADS", 16, 1, 256, &cfg->threads, err, errlen) == -1 ||
	    config_int("MAILROOM_DB_POOL_SIZE", cfg->threads < 8 ? cfg->threads : 8, 1, 20,
	    &cfg->db_pool_size, err, errlen) == -1 ||
	    config_int("MAILROOM_DB_CONNECT_TIMEOUT", 2, 1, 60, &cfg->db_connect_timeout, err,
	    errlen) == -1 ||
	    config_int("MAILROOM_DB_STATEMENT_TIMEOUT", 5000, 0, 3600000,
	    &cfg->db_statement_timeout_ms, err, errlen) == -1 ||
	    config_int("MAILROOM_DB_ACQUIRE_TIMEOUT", 2000, 0, 60000, &cfg->db_acquire_timeout_ms,
	    err, errlen) == -1 ||
	    config_size("MAILROOM_MAX_BODY", 1 << 20, &cfg->max_body, err, errlen) == -1 ||
	    config_size("MAILROOM_MAX_UPLOAD", 25 << 20, &cfg->max_upload, err, errlen) == -1)
		return -1;
	if (cfg->db_pool_size > cfg->threads) {
		snprintf(err, errlen, "MAILROOM_DB_POOL_SIZE (%d) must not exceed MAILROOM_THREADS "
		    "(%d): a thread holds at most one connection", cfg->db_pool_size, cfg->threads);
		return -1;
	}

	cfg->log_level = config_str("MAILROOM_LOG_LEVEL",
	    cfg->profile == PROFILE_DEVELOPMENT ? "debug" : "info");
	if (log_parse_level(cfg->log_level, &level) == -1) {
		snprintf(err, errlen, "MAILROOM_LOG_LEVEL: expected debug, info, warn or error, "
		    "got \"%.40s\"", cfg->log_level);
		return -1;
	}
	log_set_level(level);

	cfg->metrics_dir = config_str("MAILROOM_METRICS_DIR", NULL);
	cfg->templates_dir = config_str("MAILROOM_TEMPLATES_DIR", MR_PKGDATADIR "/templates");
	/* Read by vault.c; two sources of keys would leave it unclear which is current. */
	cfg->vault_key_file = config_str("MAILROOM_VAULT_KEY_FILE", NULL);
	cfg->vault_keys = config_str("MAILROOM_VAULT_KEYS", NULL);
	if (cfg->vault_key_file != NULL && cfg->vault_keys != NULL) {
		snprintf(err, errlen, "MAILROOM_VAULT_KEY_FILE and MAILROOM_VAULT_KEYS are both set: "
		    "keep one");
		return -1;
	}
	cfg->base_url = config_str("MAILROOM_BASE_URL",
	    cfg->profile == PROFILE_DEVELOPMENT ? "http://127.0.0.1:8080" : NULL);
	if (cfg->base_url == NULL) {
		snprintf(err, errlen, "MAILROOM_BASE_URL is not set (required outside development)");
		return -1;
	}
	if (strncmp(cfg->base_url, "https://", 8) != 0 && strncmp(cfg->base_url, "http://", 7) != 0) {
		snprintf(err, errlen, "MAILROOM_BASE_URL: expected an http:// or https:// URL");
		return -1;
	}
	if (cfg->profile == PROFILE_PRODUCTION && strncmp(cfg->base_url, "https://", 8) != 0) {
		snprintf(err, errlen, "MAILROOM_BASE_URL: production requires https://");
		return -1;
	}
	cfg->secure_cookies = strncmp(cfg->base_url, "https://", 8) == 0;

	/* Sessions: 12 hours idle, 14 days at most (ASVS 3.3: re-authentication both after an
	 * idle period and periodically); sensitive changes ask for the password again. */
	if (config_int("MAILROOM_SESSION_IDLE", 12 * 3600, 60, 30 * 86400, &cfg->session_idle,
	    err, errlen) == -1 ||
	    config_int("MAILROOM_SESSION_MAX", 14 * 86400, 300, 365 * 86400, &cfg->session_max,
	    err, errlen) == -1)
		return -1;
	if (cfg->session_idle > cfg->session_max) {
		snprintf(err, errlen, "MAILROOM_SESSION_IDLE (%d) must not exceed "
		    "MAILROOM_SESSION_MAX (%d)", cfg->session_idle, cfg->session_max);
		return -1;
	}
	/* Outside development a new installation takes its first user (the admin) by sign-up,
	 * then only invited people. */
	cfg->signup = config_str("MAILROOM_SIGNUP",
	    cfg->profile == PROFILE_DEVELOPMENT ? "open" : "invite");
	if (strcmp(cfg->signup, "open") != 0 && strcmp(cfg->signup, "invite") != 0 &&
	    strcmp(cfg->signup, "closed") != 0) {
		snprintf(err, errlen, "MAILROOM_SIGNUP: expected open, invite or closed");
		return -1;
	}
	if (config_mail(cfg, err, errlen) == -1)
		return -1;
	if (config_passwords(cfg, err, errlen) == -1)
		return -1;
	if (config_extension(cfg, err, errlen) == -1)
		return -1;
	if (config_mailboxes(cfg, err, errlen) == -1)
		return -1;
	return 0;
}
