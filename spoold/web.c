/*
 * web: the page at GET / and its static files (issue 14). The files live in
 * web/ (index.html, app.js, app.css) and Chart.js is Debian's
 * (libjs-chart.js); the Makefile turns each into a C array (xxd -i,
 * obj/web_assets.c) linked into spoold, so the daemon serves the page with
 * nothing from the network and no file read at run time.
 *
 * The page holds no data: with --token-file it is served without the token
 * (as are its static files), and its script asks for the token once when
 * the API answers 401. The Content-Security-Policy allows scripts, styles
 * and fetches from this origin only, and no inline script or style.
 *
 * Layer: 4 handler
 */
#include <string.h>

#include "handler.h"

/* made by the Makefile from web/ and Chart.js (obj/web_assets.c) */
extern const unsigned char web_index_html[], web_app_js[], web_app_css[],
	web_chart_js[];
extern const unsigned int web_index_html_len, web_app_js_len, web_app_css_len,
	web_chart_js_len;

struct asset {
	const char *name;
	const char *ctype;
	const unsigned char *data;
	const unsigned int *len;
};

static const struct asset assets[] = {
	{ "app.js", "text/javascript; charset=utf-8", web_app_js, &web_app_js_len },
	{ "app.css", "text/css; charset=utf-8", web_app_css, &web_app_css_len },
	{ "chart.js", "text/javascript; charset=utf-8", web_chart_js, &web_chart_js_len },
};

#define WEB_HEADERS \
	"Content-Security-Policy: default-src 'none'; script-src 'self'; " \
	"style-src 'self'; img-src 'self'; connect-src 'self'; " \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n" \
	"X-Content-Type-Options: nosniff\r\n" \
	"Referrer-Policy: no-referrer\r\n" \
	"Cache-Control: no-cache\r\n"

void web_index(struct conn *c)
{
	http_reply(c, 200, "text/html; charset=utf-8", (const char *)web_index_html,
		   web_index_html_len, WEB_HEADERS);
}

void web_static(struct conn *c)
{
	size_t i;
	for (i = 0; i < sizeof(assets) / sizeof(assets[0]); i++)
		if (!strcmp(c->req.seg[1], assets[i].name)) {
			http_reply(c, 200, assets[i].ctype,
				   (const char *)assets[i].data, *assets[i].len,
				   WEB_HEADERS);
			return;
		}
	http_error(c, 404, "no such file");
}

int web_public(const struct request *req)
{
	return req->nseg == 0 ||
	       (req->nseg == 2 && !strcmp(req->seg[0], "static"));
}
