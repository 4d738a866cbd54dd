#pragma once
// Error: what went wrong, as a stable machine-readable code plus a human message that gains
// context as it travels up ("redis: connect: Connection refused").
//
// Code uses std::expected<T, Error> at its boundaries; that includes the pure parsers the fuzz
// build compiles with clang 16 (see the top-level CMakeLists.txt for how it gets <expected>).
#include <string>
#include <utility>

namespace bloomcast {

struct Error {
  std::string code;     // stable, snake_case: "store_unavailable", "bad_request", ...
  std::string message;  // for people and logs

  // Returns a copy whose message is prefixed by `context` ("context: message").
  [[nodiscard]] Error withContext(std::string_view context) const {
    return Error{code, std::string(context) + ": " + message};
  }
};

}  // namespace bloomcast
