#pragma once
// Connection strings in logs and --check-config output, without their passwords.

#include <string>
#include <string_view>

namespace webhookd {

// `url` with any password replaced by "***": the URI form's user:password@, its
// ?password= parameter, and the key=value form's password=...
std::string redact_url(std::string_view url);

}  // namespace webhookd
