/* account.c: the rules for what an account is made of (address, name, any one-line text),
 * shared by the web pages and "mailroom user": both accept exactly the same accounts.
 * Nothing here needs a request, so the command line links it without the web side. */
#include "config.h"

#include <string.h>

#include "account.h"
#include "util.h"

int
account_text_ok(const char *s, size_t max)
{
	long count = util_text_chars(s);

	return count >= 1 && (size_t)count <= max;
}

const char *
account_check_email(const char *email)
{
	const char *at = strchr(email, '@');
	size_t n = strlen(email);

	if (n == 0)
		return "Enter your email address.";
	if (n > 254 || at == NULL || at == email || strchr(at + 1, '@') != NULL ||
	    (size_t)(at - email) > 64 || at[1] == '\0' || strchr(at + 1, '.') == NULL ||
	    at[strlen(at) - 1] == '.' || at[1] == '.')
		return "Enter an email address like name@example.org.";
	for (const char *p = email; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch <= ' ' || ch == 0x7f || ch == '<' || ch == '>' || ch == '(' || ch == ')' ||
		    ch == ',' || ch == ';' || ch == ':' || ch == '\\' || ch == '"' || ch == '[' ||
		    ch == ']')
			return "Enter an email address like name@example.org.";
	}
	return account_text_ok(email, 254) ? NULL :
	    "Enter an email address like name@example.org.";
}

const char *
account_check_name(const char *name)
{
	return account_text_ok(name, 100) ? NULL : "Enter your name (at most 100 characters).";
}
