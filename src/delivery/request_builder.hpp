#pragma once
// The HTTP request an endpoint receives for one attempt (docs/api.md, What an endpoint receives): body,
// webhookd's headers, the operator's custom headers, and the signatures. Used by the
// dispatcher for deliveries and by the admin API for test events, so both are identical.

#include <cstdint>
#include <string_view>

#include "delivery/delivery_client.hpp"
#include "store/outbox_store.hpp"

namespace webhookd {

// True for headers an endpoint's custom headers may not set: webhookd's own (ids,
// timestamps, signatures, the endpoint's signature header) and those of HTTP framing
// (Host, Content-Length, Connection and the other hop-by-hop headers).
bool is_reserved_header(std::string_view name, std::string_view signature_header);

// The request for attempt d.attempt of delivery d to ep, signed at unix_seconds with every
// secret of ep (ep.secrets must not be empty).
delivery_request build_request(const endpoint_record& ep, const claimed_delivery& d, std::int64_t unix_seconds);

}  // namespace webhookd
