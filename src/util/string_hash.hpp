#pragma once
// A transparent hash for maps keyed by std::string, so that they can be searched with a
// std::string_view without building a string: std::unordered_map<std::string, T,
// string_hash, std::equal_to<>>.

#include <cstddef>
#include <functional>
#include <string_view>

namespace webhookd {

struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace webhookd
