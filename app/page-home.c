/* page-home.c: the landing page and the inbox shell. The inbox lists the categories and an
 * empty message list until accounts and mail sync exist; choosing a category swaps the list
 * through HTMX (the "list" fragment of the same template). */
#include "config.h"

#include <string.h>

#include "page.h"
#include "routes.h"

int
page_home_landing(struct http_ctx *c)
{
	return page_render(c, 200, "pages/landing.html", NULL, "home", NULL,
	    json_pack("{s:o}", "categories", page_categories_json()));
}

int
page_home_inbox(struct http_ctx *c)
{
	const char *want = kvlist_get(&c->req->query, "category");
	const struct page_category *current = &page_categories[0];
	json_t *cats;

	if (want != NULL) {
		current = NULL;
		for (size_t i = 0; i < page_categories_count; i++) {
			if (strcmp(want, page_categories[i].slug) == 0)
				current = &page_categories[i];
		}
		if (current == NULL)
			return http_fail(c->res, 404, "not_found", "There is no such category.",
			    NULL);
	}
	cats = json_array();
	for (size_t i = 0; i < page_categories_count; i++) {
		const struct page_category *pc = &page_categories[i];

		json_array_append_new(cats, json_pack("{s:s, s:s, s:s, s:i, s:b}", "slug",
		    pc->slug, "name", pc->name, "url",
		    arena_printf(c->arena, "/inbox?category=%s", pc->slug), "count", 0,
		    "current", pc == current));
	}
	return page_render(c, 200, "pages/inbox.html", "Inbox", "inbox", "list",
	    json_pack("{s:o, s:{s:s, s:i, s:[], s:s}}", "categories", cats, "list", "title",
	    current->name, "count", 0, "messages", "empty",
	    "No mailbox is connected: connecting mailboxes is not available in this version, "
	    "so every category is empty."));
}
