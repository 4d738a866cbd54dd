#pragma once
// PublishGate: what ingest asks of the rest of the system about publishers — is this stream
// key valid, and which stream is live. app/ wires it to the catalog (orders part).
// Thread: loop thread; answers may come later (after a Redis reply), also on the loop thread.
#include <expected>
#include <functional>
#include <string>

#include "infra/Error.h"

namespace bloomcast::ingest {

class PublishGate {
 public:
  using Answer = std::function<void(std::expected<std::string /*stream_id*/, Error>)>;
  virtual ~PublishGate() = default;
  // Resolves a stream key to its stream id; an unknown key is an error with code "unknown_key".
  virtual void authorize(const std::string& stream_key, Answer answer) = 0;
  virtual void onLive(const std::string& stream_id) = 0;
  virtual void onOffline(const std::string& stream_id) = 0;
};

}  // namespace bloomcast::ingest
