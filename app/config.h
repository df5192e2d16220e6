/* config.h: the first include of every source file. It brings the build configuration
 * (autoconf.h) and declares the runtime settings, read from the environment and an optional
 * .env file with profiles (development, staging, production), read-only after start-up. */
#ifndef MAILROOM_CONFIG_H
#define MAILROOM_CONFIG_H

#include "autoconf.h"

#include <stddef.h>

enum config_profile { PROFILE_DEVELOPMENT, PROFILE_STAGING, PROFILE_PRODUCTION };
/* MAILROOM_SMTP_TLS: STARTTLS on smtp:// required, used when offered, or never. */
enum config_smtp_tls { SMTP_TLS_REQUIRED, SMTP_TLS_OPTIONAL, SMTP_TLS_NONE };

struct mr_config {
	enum config_profile profile;
	const char *database_url;       /* DATABASE_URL */
	int threads;                    /* MAILROOM_THREADS: FCGX_Accept_r threads per process */
	int db_pool_size;               /* MAILROOM_DB_POOL_SIZE: <= threads */
	int db_connect_timeout;         /* MAILROOM_DB_CONNECT_TIMEOUT, seconds */
	int db_statement_timeout_ms;    /* MAILROOM_DB_STATEMENT_TIMEOUT, milliseconds */
	int db_acquire_timeout_ms;      /* MAILROOM_DB_ACQUIRE_TIMEOUT: wait for a free connection */
	size_t max_body;                /* MAILROOM_MAX_BODY, bytes */
	size_t max_upload;              /* MAILROOM_MAX_UPLOAD, bytes */
	const char *log_level;          /* MAILROOM_LOG_LEVEL */
	const char *metrics_dir;        /* MAILROOM_METRICS_DIR: shared counters of all processes */
	const char *templates_dir;      /* MAILROOM_TEMPLATES_DIR: templates/ with static/ */
	const char *vault_key_file;     /* MAILROOM_VAULT_KEY_FILE: the vault's key file */
	const char *vault_keys;         /* MAILROOM_VAULT_KEYS: the keys themselves (no file) */
	const char *base_url;           /* MAILROOM_BASE_URL */
	int secure_cookies;             /* derived: off only in development over plain HTTP */
	int session_idle;               /* MAILROOM_SESSION_IDLE: seconds without a request */
	int session_max;                /* MAILROOM_SESSION_MAX: seconds since sign-in */
	const char *signup;             /* MAILROOM_SIGNUP: open, invite or closed */
	const char *smtp_url;           /* MAILROOM_SMTP_URL: NULL disables outgoing mail */
	enum config_smtp_tls smtp_tls;  /* MAILROOM_SMTP_TLS */
	const char *smtp_user;          /* MAILROOM_SMTP_USER */
	const char *smtp_password;      /* MAILROOM_SMTP_PASSWORD: never logged */
	const char *mail_from;          /* MAILROOM_MAIL_FROM: "Name <addr>" or addr */
	/* Passwords (password.c) and the sign-in throttle (throttle.c). */
	int pwhash_opslimit;            /* MAILROOM_PWHASH_OPSLIMIT: Argon2id passes */
	size_t pwhash_memlimit;         /* MAILROOM_PWHASH_MEMLIMIT: Argon2id memory, bytes */
	int pwhash_concurrency;         /* MAILROOM_PWHASH_CONCURRENCY: hashes at once */
	const char *common_passwords;   /* MAILROOM_COMMON_PASSWORDS: NULL: the shipped list */
	int login_max_failures;         /* MAILROOM_LOGIN_MAX_FAILURES: per account, then lock */
	int login_lock_seconds;         /* MAILROOM_LOGIN_LOCK_SECONDS: the first lock */
	int login_ip_max_failures;      /* MAILROOM_LOGIN_IP_MAX_FAILURES: per client address */
	/* API tokens and the browser extension (oauth.c, cors.c). */
	const char *extension_origins;  /* MAILROOM_EXTENSION_ORIGINS: checked, comma-separated */
	int access_token_ttl;           /* MAILROOM_ACCESS_TOKEN_TTL: seconds */
	const char *csp_form_action;    /* derived: 'self' and the extensions' redirect targets */
	/* Mail accounts and their sync (imap.c, sync.c). */
	const char *imap_ca_file;       /* MAILROOM_IMAP_CA_FILE: trusted CAs (NULL: system's) */
	int imap_timeout;               /* MAILROOM_IMAP_TIMEOUT: seconds without progress */
	int imap_allow_private;         /* MAILROOM_IMAP_ALLOW_PRIVATE: loopback/LAN servers */
	int backfill_messages;          /* MAILROOM_BACKFILL_MESSAGES: per folder, newest first */
	int backfill_days;              /* MAILROOM_BACKFILL_DAYS: how far back */
};

/* Loads the configuration: MAILROOM_CONFIG names a .env file (default: ./.env if it
 * exists); variables already in the environment win over the file. On an invalid value
 * returns -1 with a message naming the variable in err. */
int config_load(struct mr_config *cfg, char *err, size_t errlen);
/* Parses one .env file into the process environment without overriding existing
 * variables. Returns -1 with "file:line: reason" in err on a malformed line. */
int config_load_env_file(const char *path, char *err, size_t errlen);
const char *config_profile_name(enum config_profile p);

/* The process-wide configuration, set by the program's main. */
extern struct mr_config mr_config;

#endif
