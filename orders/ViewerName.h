#pragma once
// ViewerName: the name a viewer chooses for a session (POST /api/sessions) and that session
// tokens carry — 1..32 code points of valid UTF-8, none a control character — and how others
// see it in "someone just bought" ("张**").
//
// Pure functions of bytes (the session body decoder and its fuzzer call them); thread-safe.
#include <cstddef>
#include <string>
#include <string_view>

namespace bloomcast::orders {

inline constexpr std::size_t kMaxViewerNameChars = 32;

// 1..32 code points of valid UTF-8 (no overlongs, surrogates or values above U+10FFFF), none
// a C0 or C1 control character, DEL, or a line/paragraph separator.
bool isValidViewerName(std::string_view name);

// The first character, then "**".
std::string maskedViewerName(std::string_view name);
// The same as a JSON string ("\"张**\""), as the place script puts it in the room's order frame.
// Equal to nlohmann::json(maskedViewerName(name)).dump() for every valid name (the fuzz target
// checks); written by hand because every order needs it and the dump costs three allocations.
std::string maskedViewerNameJson(std::string_view name);

}  // namespace bloomcast::orders
