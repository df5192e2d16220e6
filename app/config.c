/* config.c: the settings loader. Values come from the environment, optionally seeded from
 * a .env file; each is validated here so that a bad value stops start-up with its name. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	return 0;
}
