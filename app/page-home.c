/* page-home.c: the landing page. The inbox is page-mail.c's. */
#include "config.h"

#include "page.h"
#include "routes.h"

int
page_home_landing(struct http_ctx *c)
{
	return page_render(c, 200, "pages/landing.html", NULL, "home", NULL,
	    json_pack("{s:o}", "categories", page_categories_json()));
}
