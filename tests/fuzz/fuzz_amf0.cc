// Fuzzes AMF0 decoding. Invariants: no crash or sanitizer report on any input; a decoded
// sequence re-encodes to bytes that decode to a sequence with the same encoding.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "ingest/proto/Amf0.h"

using namespace bloomcast::ingest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> input(data, size);

  auto single = decodeAmf0(input);
  if (auto* parsed = std::get_if<Parsed<Amf0>>(&single)) {
    if (parsed->consumed == 0 || parsed->consumed > size) std::abort();
  }

  auto decoded = decodeAmf0Sequence(input);
  if (auto* values = std::get_if<std::vector<Amf0>>(&decoded)) {
    const std::vector<uint8_t> encoded = encodeAmf0Sequence(*values);
    auto again = decodeAmf0Sequence(encoded);
    auto* values_again = std::get_if<std::vector<Amf0>>(&again);
    if (values_again == nullptr) std::abort();  // what we encode we must read back
    if (encodeAmf0Sequence(*values_again) != encoded) std::abort();
  }
  return 0;
}
