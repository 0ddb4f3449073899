#pragma once
// result<T>: the value of an operation that can fail with a client- or operator-visible
// error. Storage and config return it; exceptions stay at start-up and in main.

#include <string>
#include <utility>
#include <variant>

namespace webhookd {

// A failure with a stable machine-readable code (for example "invalid_field",
// "storage_unavailable") and a human-readable message.
struct error {
    std::string code;
    std::string message;
};

template <class T>
class result {
public:
    result(T value) : v_(std::move(value)) {}           // NOLINT(google-explicit-constructor)
    result(error err) : v_(std::move(err)) {}           // NOLINT(google-explicit-constructor)

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    // Precondition: ok().
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    // Precondition: !ok().
    const error& err() const { return std::get<1>(v_); }

private:
    std::variant<T, error> v_;
};

// result<void>: success carries nothing.
struct ok_t {};
inline constexpr ok_t ok_v{};
using status = result<ok_t>;

}  // namespace webhookd
