/* test-api-token.c: the checks of API tokens and the extension's flow that need no
 * database: PKCE S256 (RFC 7636 appendix B), client ids and redirect URIs, scopes, the
 * MAILROOM_EXTENSION_ORIGINS setting, and the CORS decisions and headers for listed,
 * unlisted, "null" and missing origins. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>

#include "cors.h"
#include "http-server.h"
#include "oauth.h"
#include "routes.h"
#include "unit.h"

#define CHROME "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
#define CHROME2 "chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba"
#define MOZ "moz-extension://0b6e6f2a-4c1d-4e8f-9a3b-5c7d9e1f2a3b"

static void
test_pkce_rfc7636(void)
{
	/* RFC 7636, appendix B (the challenge is 43 characters: ...buGJSstw-cM). */
	const char *verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
	const char *challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
	char out[OAUTH_CHALLENGE_LEN + 1];
	char tampered[64];

	oauth_pkce_challenge(verifier, out);
	CU_ASSERT_STRING_EQUAL(out, challenge);
	CU_ASSERT_TRUE(oauth_pkce_verify(verifier, challenge));
	CU_ASSERT_TRUE(oauth_pkce_challenge_wellformed(challenge));

	/* One character changed, either side. */
	strcpy(tampered, verifier);
	tampered[0] = 'e';
	CU_ASSERT_FALSE(oauth_pkce_verify(tampered, challenge));
	strcpy(tampered, challenge);
	tampered[42] = 'N';
	CU_ASSERT_FALSE(oauth_pkce_verify(verifier, tampered));
	/* "plain": the challenge is the verifier itself; never accepted as S256. */
	CU_ASSERT_FALSE(oauth_pkce_verify(verifier, verifier));
	CU_ASSERT_FALSE(oauth_pkce_verify(NULL, challenge));
	CU_ASSERT_FALSE(oauth_pkce_verify(verifier, NULL));
}

static void
test_pkce_wellformed(void)
{
	char v[200];

	CU_ASSERT_FALSE(oauth_pkce_verifier_wellformed(NULL));
	CU_ASSERT_FALSE(oauth_pkce_verifier_wellformed(""));
	memset(v, 'a', sizeof(v));
	v[42] = '\0';
	CU_ASSERT_FALSE(oauth_pkce_verifier_wellformed(v));       /* 42: too short */
	v[42] = 'a';
	v[43] = '\0';
	CU_ASSERT_TRUE(oauth_pkce_verifier_wellformed(v));
	v[43] = 'a';
	v[128] = '\0';
	CU_ASSERT_TRUE(oauth_pkce_verifier_wellformed(v));
	v[128] = 'a';
	v[129] = '\0';
	CU_ASSERT_FALSE(oauth_pkce_verifier_wellformed(v));       /* 129: too long */
	CU_ASSERT_TRUE(oauth_pkce_verifier_wellformed(
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"));
	CU_ASSERT_FALSE(oauth_pkce_verifier_wellformed(
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"));
	CU_ASSERT_FALSE(oauth_pkce_verifier_wellformed(
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789"));

	CU_ASSERT_FALSE(oauth_pkce_challenge_wellformed(
	    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM="));
	CU_ASSERT_FALSE(oauth_pkce_challenge_wellformed(
	    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c"));
	CU_ASSERT_FALSE(oauth_pkce_challenge_wellformed(
	    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"));
	CU_ASSERT_FALSE(oauth_pkce_challenge_wellformed(NULL));
}

static void
test_scopes(void)
{
	unsigned m;

	CU_ASSERT_EQUAL(oauth_scopes_parse("read", &m), 0);
	CU_ASSERT_EQUAL(m, OAUTH_SCOPE_READ);
	CU_ASSERT_EQUAL(oauth_scopes_parse("write read", &m), 0);
	CU_ASSERT_EQUAL(m, OAUTH_SCOPE_READ | OAUTH_SCOPE_WRITE);
	CU_ASSERT_EQUAL(oauth_scopes_parse(" read  read ", &m), 0);
	CU_ASSERT_EQUAL(m, OAUTH_SCOPE_READ);
	CU_ASSERT_EQUAL(oauth_scopes_parse("", &m), 0);
	CU_ASSERT_EQUAL(m, 0);
	CU_ASSERT_EQUAL(oauth_scopes_parse(NULL, &m), 0);
	CU_ASSERT_EQUAL(m, 0);
	CU_ASSERT_EQUAL(oauth_scopes_parse("admin", &m), -1);
	CU_ASSERT_EQUAL(oauth_scopes_parse("read admin", &m), -1);
	CU_ASSERT_EQUAL(oauth_scopes_parse("READ", &m), -1);
	CU_ASSERT_EQUAL(oauth_scopes_parse("readwrite", &m), -1);
	CU_ASSERT_EQUAL(oauth_scopes_parse("read,write", &m), -1);
	CU_ASSERT_EQUAL(oauth_scopes_parse("read\twrite", &m), -1);
	CU_ASSERT_EQUAL(oauth_scopes_parse("rea", &m), -1);

	CU_ASSERT_STRING_EQUAL(oauth_scopes_text(OAUTH_SCOPE_READ), "read");
	CU_ASSERT_STRING_EQUAL(oauth_scopes_text(OAUTH_SCOPE_WRITE), "write");
	CU_ASSERT_STRING_EQUAL(oauth_scopes_text(OAUTH_SCOPE_READ | OAUTH_SCOPE_WRITE),
	    "read write");
	CU_ASSERT_STRING_EQUAL(oauth_scopes_text(0), "");
}

static void
test_origins_setting(void)
{
	const char *why;

	CU_ASSERT_PTR_NULL(cors_origins_invalid(NULL));
	CU_ASSERT_PTR_NULL(cors_origins_invalid(""));
	CU_ASSERT_PTR_NULL(cors_origins_invalid("  "));
	CU_ASSERT_PTR_NULL(cors_origins_invalid(CHROME));
	CU_ASSERT_PTR_NULL(cors_origins_invalid(CHROME ", " MOZ " ,"  CHROME2));

	CU_ASSERT_PTR_NOT_NULL(cors_origins_invalid("null"));
	CU_ASSERT_PTR_NOT_NULL(cors_origins_invalid("*"));
	CU_ASSERT_PTR_NOT_NULL(cors_origins_invalid("https://evil.example"));
	CU_ASSERT_PTR_NOT_NULL(cors_origins_invalid(CHROME "/"));
	/* q is past p; upper case; 31 letters; an upper-case UUID. */
	CU_ASSERT_PTR_NOT_NULL(cors_origins_invalid(
	    "chrome-extension://abcdefghijklmnopabcdefghijklmnoq"));
	CU_ASSERT_PTR_NOT_NULL(cors_origins_invalid(
	    "chrome-extension://ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP"));
	CU_ASSERT_PTR_NOT_NULL(cors_origins_invalid(
	    "chrome-extension://abcdefghijklmnopabcdefghijklmno"));
	CU_ASSERT_PTR_NOT_NULL(cors_origins_invalid(
	    "moz-extension://0B6E6F2A-4C1D-4E8F-9A3B-5C7D9E1F2A3B"));
	CU_ASSERT_PTR_NOT_NULL(cors_origins_invalid(CHROME ",," CHROME2));
	CU_ASSERT_PTR_NOT_NULL(cors_origins_invalid(CHROME ","));
	CU_ASSERT_PTR_NOT_NULL(cors_origins_invalid("," CHROME));
	why = cors_origins_invalid(CHROME "," CHROME);
	CU_ASSERT_PTR_NOT_NULL_FATAL(why);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "twice"));
	why = cors_origins_invalid(CHROME ",https://x.example");
	CU_ASSERT_PTR_NOT_NULL_FATAL(why);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "https://x.example"));
}

static void
test_origins_config(void)
{
	struct mr_config cfg;
	char err[512];

	unsetenv("MAILROOM_CONFIG");
	unsetenv("MAILROOM_ACCESS_TOKEN_TTL");
	setenv("MAILROOM_EXTENSION_ORIGINS", "null", 1);
	CU_ASSERT_EQUAL(config_load(&cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "MAILROOM_EXTENSION_ORIGINS"));
	setenv("MAILROOM_EXTENSION_ORIGINS", CHROME ", " MOZ, 1);
	CU_ASSERT_EQUAL_FATAL(config_load(&cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.access_token_ttl, 900);
	CU_ASSERT_STRING_EQUAL(cfg.csp_form_action, "'self' "
	    "https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org " CHROME " " MOZ);
	setenv("MAILROOM_ACCESS_TOKEN_TTL", "5", 1);
	CU_ASSERT_EQUAL(config_load(&cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "MAILROOM_ACCESS_TOKEN_TTL"));
	unsetenv("MAILROOM_ACCESS_TOKEN_TTL");
	unsetenv("MAILROOM_EXTENSION_ORIGINS");
	CU_ASSERT_EQUAL_FATAL(config_load(&cfg, err, sizeof(err)), 0);
	CU_ASSERT_PTR_NULL(cfg.extension_origins);
	CU_ASSERT_STRING_EQUAL(cfg.csp_form_action, "'self'");
}

static void
test_clients(void)
{
	const char *list = CHROME ", " MOZ;

	CU_ASSERT_TRUE(oauth_client_listed(list, CHROME));
	CU_ASSERT_TRUE(oauth_client_listed(list, MOZ));
	CU_ASSERT_FALSE(oauth_client_listed(list, CHROME2));
	CU_ASSERT_FALSE(oauth_client_listed(list, CHROME "/"));
	CU_ASSERT_FALSE(oauth_client_listed(list, "chrome-extension://abcdefghijklmnop"));
	CU_ASSERT_FALSE(oauth_client_listed(list, "null"));
	CU_ASSERT_FALSE(oauth_client_listed(list, "*"));
	CU_ASSERT_FALSE(oauth_client_listed(list, ""));
	CU_ASSERT_FALSE(oauth_client_listed(list, NULL));
	CU_ASSERT_FALSE(oauth_client_listed(NULL, CHROME));
	CU_ASSERT_FALSE(oauth_client_listed("", CHROME));
}

static void
test_redirect_uris(void)
{
	static const char *good[] = {
		"https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/",
		"https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/callback",
		"https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/a/b-c_d.e~f",
		CHROME "/auth.html",
		CHROME "/",
	};
	static const char *bad[] = {
		"https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org",        /* no path */
		"https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org.evil.example/",
		"https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org:8443/",
		"https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/cb?x=1",
		"https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/cb#frag",
		"https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/a/../b",
		"https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/%2e%2e/",
		"https://user@abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/",
		"http://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/",
		"https://ponmlkjihgfedcbaponmlkjihgfedcba.chromiumapp.org/",        /* another id */
		"https://evil.example/callback",
		CHROME2 "/auth.html",
		CHROME,
		CHROME "evil/",
		CHROME ".evil.example/",
		"javascript:alert(1)",
		"",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CU_ASSERT_TRUE(oauth_redirect_uri_valid(CHROME, good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (oauth_redirect_uri_valid(CHROME, bad[i]))
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CU_ASSERT_FALSE(oauth_redirect_uri_valid(CHROME, bad[i]));
	}
	/* Firefox: its own pages only (the chromiumapp.org trick is Chrome's). */
	CU_ASSERT_TRUE(oauth_redirect_uri_valid(MOZ, MOZ "/auth.html"));
	CU_ASSERT_FALSE(oauth_redirect_uri_valid(MOZ,
	    "https://0b6e6f2a-4c1d-4e8f-9a3b-5c7d9e1f2a3b.chromiumapp.org/"));
	CU_ASSERT_FALSE(oauth_redirect_uri_valid("null", "null/x"));
	CU_ASSERT_FALSE(oauth_redirect_uri_valid(NULL, CHROME "/x"));
	CU_ASSERT_FALSE(oauth_redirect_uri_valid(CHROME, NULL));
}

/* ---- CORS over a request and response built by hand. */

struct cors_case {
	struct arena *a;
	struct http_request req;
	struct http_response res;
	struct http_ctx c;
};

static void
cors_case(struct cors_case *k, const char *method, const char *path, const char *origin)
{
	memset(&k->req, 0, sizeof(k->req));
	k->req.arena = k->a;
	k->req.method = method;
	k->req.path = path;
	k->req.origin = origin;
	http_response_init(&k->res, k->a);
	memset(&k->c, 0, sizeof(k->c));
	k->c.req = &k->req;
	k->c.res = &k->res;
	k->c.arena = k->a;
}

/* How many response headers start with Access-Control-. */
static size_t
cors_count(const struct http_response *res)
{
	size_t n = 0;

	for (size_t i = 0; i < res->headers.len; i++)
		if (strncasecmp(res->headers.items[i].name, "Access-Control-", 15) == 0)
			n++;
	return n;
}

static const struct route token_route = { "GET", "/api/v1/me", NULL,
	ROUTE_SESSION | ROUTE_TOKEN | ROUTE_JSON, "read" };
static const struct route session_route = { "GET", "/api/v1/tokens", NULL,
	ROUTE_SESSION | ROUTE_JSON, NULL };
static const struct route oauth_route = { "POST", "/oauth/token", NULL, ROUTE_JSON, NULL };

static void
test_cors_decisions(void)
{
	const char *saved = mr_config.extension_origins;

	mr_config.extension_origins = CHROME ", " MOZ;
	CU_ASSERT_TRUE(cors_origin_allowed(CHROME));
	CU_ASSERT_TRUE(cors_origin_allowed(MOZ));
	CU_ASSERT_FALSE(cors_origin_allowed(CHROME2));
	CU_ASSERT_FALSE(cors_origin_allowed("null"));
	CU_ASSERT_FALSE(cors_origin_allowed("*"));
	CU_ASSERT_FALSE(cors_origin_allowed("https://evil.example"));
	CU_ASSERT_FALSE(cors_origin_allowed(""));
	CU_ASSERT_FALSE(cors_origin_allowed(NULL));
	CU_ASSERT_FALSE(cors_origin_allowed(CHROME " "));
	CU_ASSERT_FALSE(cors_origin_allowed("CHROME-EXTENSION://abcdefghijklmnopabcdefghijklmnop"));

	CU_ASSERT_TRUE(cors_path("/api/v1/me"));
	CU_ASSERT_TRUE(cors_path("/api/v1/tokens/3"));
	CU_ASSERT_TRUE(cors_path("/oauth/token"));
	CU_ASSERT_TRUE(cors_path("/oauth/revoke"));
	CU_ASSERT_FALSE(cors_path("/oauth/authorize"));
	CU_ASSERT_FALSE(cors_path("/api/v1"));
	CU_ASSERT_FALSE(cors_path("/settings/tokens"));
	CU_ASSERT_FALSE(cors_path("/oauth/token/x"));
	CU_ASSERT_FALSE(cors_path(NULL));
	mr_config.extension_origins = saved;
}

static void
test_cors_headers(void)
{
	const char *saved = mr_config.extension_origins;
	struct cors_case k;

	mr_config.extension_origins = CHROME;
	k.a = arena_new(1 << 14);

	/* A listed origin: that origin, never *, no credentials. */
	cors_case(&k, "GET", "/api/v1/me", CHROME);
	CU_ASSERT_EQUAL(cors_apply(&k.c, &token_route), 1);
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&k.res, "Access-Control-Allow-Origin"),
	    CHROME);
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&k.res, "Vary"), "Origin");
	CU_ASSERT_PTR_NULL(http_response_get_header(&k.res, "Access-Control-Allow-Credentials"));
	CU_ASSERT_PTR_NOT_NULL(strstr(http_response_get_header(&k.res,
	    "Access-Control-Expose-Headers"), "WWW-Authenticate"));
	/* Twice (a hook that runs again): the same headers, once. */
	CU_ASSERT_EQUAL(cors_apply(&k.c, &token_route), 1);
	CU_ASSERT_EQUAL(cors_count(&k.res), 2);
	CU_ASSERT_EQUAL(k.res.headers.len, 3);

	/* Errors too (rt NULL: 404, 405, a parse error). */
	cors_case(&k, "GET", "/api/v1/nothing", CHROME);
	CU_ASSERT_EQUAL(cors_apply(&k.c, NULL), 1);
	cors_case(&k, "POST", "/oauth/token", CHROME);
	CU_ASSERT_EQUAL(cors_apply(&k.c, &oauth_route), 1);

	/* Unlisted, "null", none: no Access-Control-* header at all, but Vary. */
	cors_case(&k, "GET", "/api/v1/me", CHROME2);
	CU_ASSERT_EQUAL(cors_apply(&k.c, &token_route), 0);
	CU_ASSERT_EQUAL(cors_count(&k.res), 0);
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&k.res, "Vary"), "Origin");
	cors_case(&k, "GET", "/api/v1/me", "null");
	CU_ASSERT_EQUAL(cors_apply(&k.c, &token_route), 0);
	CU_ASSERT_EQUAL(cors_count(&k.res), 0);
	cors_case(&k, "GET", "/api/v1/me", NULL);
	CU_ASSERT_EQUAL(cors_apply(&k.c, &token_route), 0);
	CU_ASSERT_EQUAL(cors_count(&k.res), 0);
	cors_case(&k, "GET", "/api/v1/me", "https://evil.example");
	CU_ASSERT_EQUAL(cors_apply(&k.c, &token_route), 0);
	CU_ASSERT_EQUAL(cors_count(&k.res), 0);

	/* Not a CORS path, or a route of the signed-in browser only: nothing. */
	cors_case(&k, "GET", "/settings", CHROME);
	CU_ASSERT_EQUAL(cors_apply(&k.c, NULL), 0);
	CU_ASSERT_EQUAL(k.res.headers.len, 0);
	cors_case(&k, "GET", "/oauth/authorize", CHROME);
	CU_ASSERT_EQUAL(cors_apply(&k.c, NULL), 0);
	CU_ASSERT_EQUAL(k.res.headers.len, 0);
	cors_case(&k, "GET", "/api/v1/tokens", CHROME);
	CU_ASSERT_EQUAL(cors_apply(&k.c, &session_route), 0);
	CU_ASSERT_EQUAL(k.res.headers.len, 0);

	/* No extension configured: nobody. */
	mr_config.extension_origins = NULL;
	cors_case(&k, "GET", "/api/v1/me", CHROME);
	CU_ASSERT_EQUAL(cors_apply(&k.c, &token_route), 0);
	CU_ASSERT_EQUAL(cors_count(&k.res), 0);

	arena_free(k.a);
	mr_config.extension_origins = saved;
}

static void
test_cors_preflight(void)
{
	const char *saved = mr_config.extension_origins;
	struct cors_case k;

	mr_config.extension_origins = CHROME;
	k.a = arena_new(1 << 14);

	cors_case(&k, "OPTIONS", "/api/v1/me", CHROME);
	CU_ASSERT_EQUAL(cors_preflight(&k.c, "GET, HEAD, PATCH"), 1);
	CU_ASSERT_EQUAL(k.res.status, 204);
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&k.res, "Access-Control-Allow-Origin"),
	    CHROME);
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&k.res, "Access-Control-Allow-Methods"),
	    "GET, HEAD, PATCH");
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&k.res, "Access-Control-Allow-Headers"),
	    "Authorization, Content-Type");
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&k.res, "Access-Control-Max-Age"), "600");
	CU_ASSERT_STRING_EQUAL(http_response_get_header(&k.res, "Vary"), "Origin");
	CU_ASSERT_PTR_NULL(http_response_get_header(&k.res, "Access-Control-Allow-Credentials"));
	/* The dispatcher's hook for every answer adds nothing more. */
	cors_apply(&k.c, NULL);
	CU_ASSERT_EQUAL(cors_count(&k.res), 4);
	CU_ASSERT_EQUAL(k.res.headers.len, 6);

	cors_case(&k, "OPTIONS", "/oauth/token", "null");
	CU_ASSERT_EQUAL(cors_preflight(&k.c, "POST"), 1);
	CU_ASSERT_EQUAL(k.res.status, 204);
	CU_ASSERT_EQUAL(cors_count(&k.res), 0);
	cors_case(&k, "OPTIONS", "/oauth/token", CHROME2);
	CU_ASSERT_EQUAL(cors_preflight(&k.c, "POST"), 1);
	CU_ASSERT_EQUAL(cors_count(&k.res), 0);
	cors_case(&k, "OPTIONS", "/oauth/token", NULL);
	CU_ASSERT_EQUAL(cors_preflight(&k.c, "POST"), 1);
	CU_ASSERT_EQUAL(cors_count(&k.res), 0);

	/* Not a preflight, or not a CORS path: left to the usual 405. */
	cors_case(&k, "DELETE", "/api/v1/me", CHROME);
	CU_ASSERT_EQUAL(cors_preflight(&k.c, "GET, HEAD"), 0);
	CU_ASSERT_EQUAL(k.res.headers.len, 0);
	cors_case(&k, "OPTIONS", "/settings", CHROME);
	CU_ASSERT_EQUAL(cors_preflight(&k.c, "GET, HEAD"), 0);
	CU_ASSERT_EQUAL(k.res.headers.len, 0);

	arena_free(k.a);
	mr_config.extension_origins = saved;
}

/* The route table says what tokens may do: reading /api/v1/me needs "read", changing it
 * "write", and managing tokens takes a signed-in browser. */
static void
test_route_scopes(void)
{
	int seen = 0;

	for (size_t i = 0; i < routes_count; i++) {
		const struct route *rt = &routes[i];

		if (strcmp(rt->pattern, "/api/v1/me") == 0 && strcmp(rt->method, "GET") == 0) {
			CU_ASSERT_TRUE((rt->flags & ROUTE_TOKEN) != 0);
			CU_ASSERT_STRING_EQUAL(rt->scope, "read");
			seen++;
		}
		if (strcmp(rt->pattern, "/api/v1/me") == 0 && strcmp(rt->method, "PATCH") == 0) {
			CU_ASSERT_STRING_EQUAL(rt->scope, "write");
			CU_ASSERT_TRUE((rt->flags & ROUTE_CSRF) != 0);
			seen++;
		}
		if (strncmp(rt->pattern, "/api/v1/tokens", 14) == 0 ||
		    strncmp(rt->pattern, "/settings/tokens", 16) == 0) {
			CU_ASSERT_FALSE((rt->flags & ROUTE_TOKEN) != 0);
			CU_ASSERT_TRUE((rt->flags & ROUTE_SESSION) != 0);
			if (strcmp(rt->method, "GET") != 0)
				CU_ASSERT_TRUE((rt->flags & ROUTE_CSRF) != 0);
			seen++;
		}
		if (strncmp(rt->pattern, "/oauth/", 7) == 0 && strcmp(rt->method, "POST") == 0 &&
		    strcmp(rt->pattern, "/oauth/authorize") != 0) {
			CU_ASSERT_EQUAL(rt->flags & (ROUTE_SESSION | ROUTE_TOKEN), 0);
			seen++;
		}
		if (strcmp(rt->pattern, "/oauth/authorize") == 0) {
			CU_ASSERT_TRUE((rt->flags & ROUTE_SESSION) != 0);
			if (strcmp(rt->method, "POST") == 0)
				CU_ASSERT_TRUE((rt->flags & ROUTE_CSRF) != 0);
			seen++;
		}
	}
	CU_ASSERT_EQUAL(seen, 13);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "PKCE S256: RFC 7636 appendix B", test_pkce_rfc7636 },
		{ "PKCE verifier and challenge syntax", test_pkce_wellformed },
		{ "scopes", test_scopes },
		{ "MAILROOM_EXTENSION_ORIGINS syntax", test_origins_setting },
		{ "MAILROOM_EXTENSION_ORIGINS at start-up", test_origins_config },
		{ "client ids", test_clients },
		{ "redirect URIs", test_redirect_uris },
		{ "CORS: which origins and paths", test_cors_decisions },
		{ "CORS: headers of answers", test_cors_headers },
		{ "CORS: preflight", test_cors_preflight },
		{ "route table: scopes and sessions", test_route_scopes },
		{ NULL, NULL },
	};

	if (sodium_init() < 0)
		return 1;
	return unit_run("api-token", tests);
}
