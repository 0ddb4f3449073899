#pragma once
// The web console: one page (console/index.html) and its assets, compiled into the binary
// by cmake/embed_console.cmake, served by the admin listener under /console/. The page
// talks to the admin API like any client, with the bearer token a person gives it; its
// files need no token. Every /console/... path that is not an asset answers the page, so
// the console's own links (/console/endpoints/ep_...) work when opened directly.

#include <string_view>
#include <vector>

#include "http/router.hpp"
#include "webhookd/config.hpp"

namespace webhookd::admin {

// One embedded file: its path under /console/ ("index.html", "assets/app.1a2b3c4d5e.js").
struct console_file {
    std::string_view path;
    std::string_view content_type;
    std::string_view body;
};

namespace detail {
// Every file, the page first (generated at build time).
const std::vector<console_file>& console_files();
}  // namespace detail

// The Content-Security-Policy of every console response: only this origin's scripts,
// styles and connections, nothing inline, framed only by `frame_ancestors`.
std::string console_csp(std::string_view frame_ancestors);

// GET /console/* (and /console itself), open to anyone. Assets are
// served with a year's cache lifetime (their names change with their content), the page
// with none; an unknown /console/assets/ path is 404. Not called when the console is
// disabled (admin.console.enabled).
void add_console_routes(http::router& r, const console_config& cfg);

}  // namespace webhookd::admin
