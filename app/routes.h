/* routes.h: the application's route table and the handlers it names. */
#ifndef MAILROOM_ROUTES_H
#define MAILROOM_ROUTES_H

#include <jansson.h>
#include "http-router.h"

extern const struct route routes[];
extern const size_t routes_count;

/* page-home.c */
int page_home_landing(struct http_ctx *c);

/* page-account.c */
int page_account_login(struct http_ctx *c);
int page_account_login_post(struct http_ctx *c);
int page_account_logout(struct http_ctx *c);
int page_account_signup(struct http_ctx *c);
int page_account_signup_post(struct http_ctx *c);
int page_account_reset(struct http_ctx *c);
int page_account_reset_post(struct http_ctx *c);
int page_account_reset_password(struct http_ctx *c);

/* page-settings.c */
int page_settings(struct http_ctx *c);
int page_settings_profile(struct http_ctx *c);
int page_settings_password(struct http_ctx *c);
int page_settings_email(struct http_ctx *c);
int page_settings_session_end(struct http_ctx *c);
int page_settings_sessions_end_others(struct http_ctx *c);
int page_settings_activity(struct http_ctx *c);
/* The audit_log rows of r (event, time, ip, user agent, details, actor) for templates. */
struct pg_result;
json_t *page_settings_audit_rows(struct http_ctx *c, struct pg_result *r);

/* page-admin.c: each answers 404 to anyone but an admin's session. */
int page_admin_users(struct http_ctx *c);
int page_admin_user(struct http_ctx *c);
int page_admin_user_disable(struct http_ctx *c);
int page_admin_user_enable(struct http_ctx *c);
int page_admin_user_role(struct http_ctx *c);
int page_admin_user_reset_link(struct http_ctx *c);
int page_admin_user_end_sessions(struct http_ctx *c);
int page_admin_invites(struct http_ctx *c);
int page_admin_invite_create(struct http_ctx *c);
int page_admin_invite_revoke(struct http_ctx *c);
int page_admin_audit(struct http_ctx *c);

/* page-tokens.c: the tokens page and the JSON API of the account and its tokens */
int page_tokens(struct http_ctx *c);
int page_tokens_create(struct http_ctx *c);
int page_tokens_revoke(struct http_ctx *c);
int page_tokens_family_revoke(struct http_ctx *c);
int api_me(struct http_ctx *c);
int api_me_update(struct http_ctx *c);
int api_tokens_list(struct http_ctx *c);
int api_tokens_create(struct http_ctx *c);
int api_tokens_delete(struct http_ctx *c);

/* oauth.c: the extension's authorization flow */
int oauth_authorize(struct http_ctx *c);
int oauth_authorize_post(struct http_ctx *c);
int oauth_token(struct http_ctx *c);
int oauth_revoke(struct http_ctx *c);

/* page-health.c */
/* page-mailboxes.c: connecting mail accounts, the page and the JSON API */
int page_mailboxes(struct http_ctx *c);
int page_mailboxes_test(struct http_ctx *c);
int page_mailboxes_add(struct http_ctx *c);
int page_mailboxes_sync(struct http_ctx *c);
int page_mailboxes_password(struct http_ctx *c);
int page_mailboxes_remove_confirm(struct http_ctx *c);
int page_mailboxes_remove(struct http_ctx *c);
int api_mailboxes_list(struct http_ctx *c);
int api_mailboxes_create(struct http_ctx *c);
int api_mailboxes_get(struct http_ctx *c);
int api_mailboxes_delete(struct http_ctx *c);
int api_mailboxes_test(struct http_ctx *c);
int api_mailboxes_sync(struct http_ctx *c);
int page_mailboxes_writeback(struct http_ctx *c);
int api_mailboxes_update(struct http_ctx *c);
/* END page-mailboxes.c */

/* page-mail.c: the inbox and search, the thread view, the sandboxed mail body, and the
 * JSON API of threads and messages */
int page_mail_inbox(struct http_ctx *c);
int page_mail_thread(struct http_ctx *c);
int page_mail_body(struct http_ctx *c);
int api_mail_threads(struct http_ctx *c);
int api_mail_thread(struct http_ctx *c);
int api_mail_message(struct http_ctx *c);
/* Triage in the dashboard and the API: moving a thread to a category (a correction),
 * allowing a first-time sender, the categories' counts. */
int page_mail_thread_category(struct http_ctx *c);
int page_mail_sender_allow(struct http_ctx *c);
int api_mail_thread_category(struct http_ctx *c);
int api_mail_sender_allow(struct http_ctx *c);
int api_mail_category_counts(struct http_ctx *c);
/* END page-mail.c */

/* page-triage.c: categories and triage rules, the settings pages and the JSON API */
int page_triage_categories(struct http_ctx *c);
int page_triage_category_add(struct http_ctx *c);
int page_triage_category_save(struct http_ctx *c);
int page_triage_category_move(struct http_ctx *c);
int page_triage_category_delete_confirm(struct http_ctx *c);
int page_triage_category_delete(struct http_ctx *c);
int page_triage_rules(struct http_ctx *c);
int page_triage_rule_new(struct http_ctx *c);
int page_triage_rule_create(struct http_ctx *c);
int page_triage_rule_edit(struct http_ctx *c);
int page_triage_rule_save(struct http_ctx *c);
int page_triage_rule_enable(struct http_ctx *c);
int page_triage_rule_move(struct http_ctx *c);
int page_triage_rule_delete(struct http_ctx *c);
int api_categories_list(struct http_ctx *c);
int api_categories_create(struct http_ctx *c);
int api_categories_order(struct http_ctx *c);
int api_categories_update(struct http_ctx *c);
int api_categories_delete(struct http_ctx *c);
int api_rules_list(struct http_ctx *c);
int api_rules_create(struct http_ctx *c);
int api_rules_get(struct http_ctx *c);
int api_rules_update(struct http_ctx *c);
int api_rules_delete(struct http_ctx *c);
int page_triage_settings(struct http_ctx *c);
int api_triage_settings_get(struct http_ctx *c);
int api_triage_settings_update(struct http_ctx *c);
/* END page-triage.c */

int page_health_healthz(struct http_ctx *c);
int page_health_readyz(struct http_ctx *c);
int page_health_metrics(struct http_ctx *c);

#endif
