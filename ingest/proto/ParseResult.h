#pragma once
// The result vocabulary of every pure parser in ingest/proto: a parser looks at bytes and says
// "not enough yet" (NeedMore, nothing consumed), "here is one value and how many bytes it took"
// (Parsed<T>), or "these bytes can never be valid" (ParseError, the connection should close).
//
// A std::variant rather than std::expected: NeedMore is a third outcome, neither value nor error.
#include <cstddef>
#include <string>
#include <variant>

namespace bloomcast::ingest {

struct NeedMore {};

template <class T>
struct Parsed {
  T value;
  size_t consumed = 0;  // bytes taken from the front of the input
};

struct ParseError {
  std::string why;  // for logs: what was wrong, with the offending number when there is one
};

template <class T>
using ParseResult = std::variant<NeedMore, Parsed<T>, ParseError>;

}  // namespace bloomcast::ingest
