#pragma once
// One pass over an ingest request body that checks it is JSON (RFC 8259: syntax, strings
// of valid UTF-8 with no raw control character and no lone surrogate escape, numbers as
// the grammar writes them) within the bounds every route shares (util/json_parse.hpp: not
// empty, no NUL byte, no byte order mark, at most max_json_depth levels). It builds
// nothing and allocates nothing: ingest then reads the few members it needs from the text
// (json_scan.hpp), and an event's `data` is never taken apart at all.
//
// It accepts what nlohmann's parser accepts (tests/ingest/json_check_test.cpp and the
// ingest fuzz target compare the two); its messages are its own.

#include <string_view>

#include "webhookd/result.hpp"

namespace webhookd {

// ok, or an invalid_json error that says why and where (a byte offset).
status check_json_body(std::string_view body);

}  // namespace webhookd
