// The access policy of the admin routes and the tenant tokens it rests on: each route's
// declared policy applied before its handler, and the resolver that turns a tenant token
// into its tenant with one indexed read.

#include <boost/asio/post.hpp>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>

#include "admin/resources.hpp"
#include "admin/tenant_tokens.hpp"
#include "delivery/signer.hpp"

namespace webhookd::admin {

namespace asio = boost::asio;

namespace {

const char* kind_name(resource_kind k) {
    switch (k) {
    case resource_kind::endpoint: return "endpoint";
    case resource_kind::event: return "event";
    case resource_kind::delivery: return "delivery";
    case resource_kind::dead_letter: return "dead letter";
    }
    return "resource";
}

error other_tenant(const http::route_context& rc) {
    return error{error_code::forbidden, "this token belongs to tenant " + *rc.who.tenant + " and sees no other"};
}

}  // namespace

error missing(resource_kind kind, std::string_view id) {
    return error{error_code::not_found, std::string(kind_name(kind)) + " " + std::string(id) + " does not exist"};
}

result<std::optional<std::string>> tenant_scope(const http::route_context& rc, const std::optional<std::string>& asked) {
    if (!rc.who.tenant) return asked;
    if (asked && *asked != *rc.who.tenant) return other_tenant(rc);
    return rc.who.tenant;
}

void add_route(http::router& r, const std::shared_ptr<context>& ctx, http::verb method, std::string pattern, policy p,
               http::handler_fn fn) {
    using kind = policy::kind;
    auto who = p.k == kind::operators ? http::access::listener : http::access::scoped;
    if (p.k == kind::operators || p.k == kind::tenant) return r.add(method, std::move(pattern), who, std::move(fn));
    r.add(method, std::move(pattern), who,
          [ctx, p, fn](http::request&& req, const http::route_context& rc, http::responder respond) {
              if (!rc.who.tenant) return fn(std::move(req), rc, std::move(respond));
              const auto& id = rc.at("id");
              if (p.k == kind::own_tenant) {
                  if (id == *rc.who.tenant) return fn(std::move(req), rc, std::move(respond));
                  return respond(http::json_error(req, other_tenant(rc)));
              }
              // The name in the 404 is the one the handler and the store use for a missing one.
              resource_ref ref{p.resource, id, 0};
              if (p.resource == resource_kind::delivery || p.resource == resource_kind::dead_letter) {
                  auto n = parse_delivery_id(id);
                  if (!n) return fn(std::move(req), rc, std::move(respond));  // it answers 404 itself
                  ref.number = *n;
                  ref.id = delivery_name(*n);
              }
              // The owner is read first; the handler runs only for the caller's own rows.
              // Ownership never changes (an endpoint's tenant is fixed, a delivery's event too).
              auto held = std::make_shared<http::request>(std::move(req));
              auto out = make_reply(*held, respond);
              ctx->read(out, [ctx, out, ref, rc, fn, held, respond](outbox_store& s) {
                  auto owner = s.owner_of(ref);
                  if (!owner) return out.fail(owner.err());
                  if (!owner->exists || owner->tenant != rc.who.tenant) return out.fail(missing(ref.kind, ref.id));
                  asio::post(ctx->ioc, [rc, fn, held, respond] { fn(std::move(*held), rc, respond); });
              });
          });
}

std::string generate_tenant_token() {
    std::array<unsigned char, 32> raw{};
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) throw std::runtime_error("RAND_bytes failed");
    return std::string(tenant_token_prefix) + to_hex(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
}

std::string hash_tenant_token(std::string_view token) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int n = 0;
    if (EVP_Digest(token.data(), token.size(), digest.data(), &n, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("SHA-256 failed");
    }
    return to_hex(std::string_view(reinterpret_cast<const char*>(digest.data()), n));
}

bool context::resolve_token(std::string_view token,
                            std::function<void(result<std::optional<std::string>>)> done) {
    if (!token.starts_with(tenant_token_prefix)) return false;
    if (token.size() != tenant_token_length) {
        done(std::optional<std::string>());
        return true;
    }
    auto hash = hash_tenant_token(token);
    auto self = shared_from_this();
    bool queued = db_reader.submit([self, hash, done](outbox_store& s) {
        auto found = s.find_token(hash);
        auto now = self->clk.now_ms();
        asio::post(self->ioc, [found = std::move(found), now, done]() mutable {
            if (!found) return done(found.err());
            const auto& t = *found;
            // Unknown and revoked are the same (the row is gone); expired is refused too.
            if (!t || (t->expires_ms && *t->expires_ms <= now)) return done(std::optional<std::string>());
            done(std::optional<std::string>(t->tenant_id));
        });
    });
    if (!queued) done(error{error_code::overloaded, "too many admin reads are waiting; retry shortly"});
    return true;
}

}  // namespace webhookd::admin
