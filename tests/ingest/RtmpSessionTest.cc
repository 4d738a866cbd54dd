// RtmpSession: a scripted encoder talks to the session; the events and the replies (decoded
// with ChunkDecoder) are checked against what OBS and ffmpeg expect.
#include <gtest/gtest.h>

#include "RtmpTestClient.h"
#include "ingest/proto/FlvTag.h"
#include "ingest/proto/RtmpSession.h"

namespace bloomcast::ingest {
namespace {

using namespace testing;

// One line per event, so a whole session reads as a list.
std::string describe(const RtmpEvent& event) {
  if (const auto* e = std::get_if<PublishRequested>(&event)) {
    return "PublishRequested app=" + e->app + " name=" + e->stream_name + " query=" + e->query +
           " tc_url=" + e->tc_url + " type=" + e->publish_type;
  }
  if (const auto* e = std::get_if<MetaData>(&event)) {
    return "MetaData width=" + std::to_string(int(e->metadata.find("width")->asNumber()));
  }
  if (const auto* e = std::get_if<Media>(&event)) {
    return std::string(e->is_video ? "Video" : "Audio") + " ts=" + std::to_string(e->timestamp_ms) +
           " bytes=" + std::to_string(e->payload.size());
  }
  if (std::holds_alternative<Unpublished>(event)) return "Unpublished";
  return "ProtocolError " + std::get<ProtocolError>(event).why;
}

std::vector<std::string> describe(const std::vector<RtmpEvent>& events) {
  std::vector<std::string> out;
  for (const auto& event : events) out.push_back(describe(event));
  return out;
}

uint32_t be32(const Bytes& b, size_t at) {
  return uint32_t{b[at]} << 24 | uint32_t{b[at + 1]} << 16 | uint32_t{b[at + 2]} << 8 | b[at + 3];
}

// One line per server message: control messages by name, commands as name, transaction id and
// arguments (objects shown by their "code").
std::string describe(const RtmpMessage& message) {
  switch (message.type_id) {
    case RtmpType::kWindowAckSize:
      return "WindowAckSize " + std::to_string(be32(message.payload, 0));
    case RtmpType::kSetChunkSize: return "SetChunkSize " + std::to_string(be32(message.payload, 0));
    case RtmpType::kAcknowledgement: return "Ack " + std::to_string(be32(message.payload, 0));
    case RtmpType::kSetPeerBandwidth:
      return "SetPeerBandwidth " + std::to_string(be32(message.payload, 0)) + " limit " +
             std::to_string(message.payload[4]);
    case RtmpType::kUserControl:
      return "UserControl " + std::to_string(message.payload[1]) + " " +
             std::to_string(be32(message.payload, 2));
    default: break;
  }
  std::string out;
  for (const Amf0& value : commandValues(message)) {
    if (!out.empty()) out += ' ';
    switch (value.type()) {
      case Amf0::Type::kString: out += value.asString(); break;
      case Amf0::Type::kNumber: out += std::to_string(int64_t(value.asNumber())); break;
      case Amf0::Type::kNull: out += "null"; break;
      case Amf0::Type::kUndefined: out += "undefined"; break;
      case Amf0::Type::kObject: out += value.find("code") ? value.stringAt("code") : "{}"; break;
      default: out += "?"; break;
    }
  }
  return out + " (msid " + std::to_string(message.msg_stream_id) + ")";
}

std::vector<RtmpEvent> feed(RtmpSession& session, const Bytes& bytes, bool byte_at_a_time = false) {
  if (!byte_at_a_time) return session.onBytes(bytes);
  std::vector<RtmpEvent> events;
  for (uint8_t b : bytes) {
    for (auto& e : session.onBytes(Bytes{b})) events.push_back(std::move(e));
  }
  return events;
}

// Reads what the server sends, across takeOutput() calls: skips S0 S1 S2 once, then decodes
// chunks with one decoder (so the server's Set Chunk Size is honoured).
class ServerReader {
 public:
  std::vector<RtmpMessage> messages(Bytes output) {
    if (!handshake_skipped_) {
      EXPECT_GE(output.size(), 3073u);
      output.erase(output.begin(), output.begin() + 3073);
      handshake_skipped_ = true;
    }
    auto result = decoder_.feed(output);
    EXPECT_TRUE(std::holds_alternative<std::vector<RtmpMessage>>(result));
    if (auto* messages = std::get_if<std::vector<RtmpMessage>>(&result)) return *messages;
    return {};
  }
  std::vector<std::string> says(Bytes output) {
    std::vector<std::string> out;
    for (const auto& message : messages(std::move(output))) out.push_back(describe(message));
    return out;
  }

 private:
  ChunkDecoder decoder_;
  bool handshake_skipped_ = false;
};

const std::vector<std::string> kMediaEvents = {
    "Video ts=0 bytes=" + std::to_string(avcSequenceHeaderTag(kSps720p, kPps720p).size()),
    "Audio ts=0 bytes=4",
    "Video ts=0 bytes=3009",
    "Audio ts=23 bytes=302",
    "Video ts=33 bytes=509",
    "Audio ts=46 bytes=302"};

class RtmpSessionTest : public ::testing::TestWithParam<bool> {};

TEST_P(RtmpSessionTest, AFullPublishFromHandshakeToDeleteStream) {
  const bool byte_at_a_time = GetParam();
  RtmpSession session;
  ScriptedEncoder encoder;

  EXPECT_TRUE(feed(session,
                   concat({encoder.handshake(), encoder.w.setChunkSize(4096), encoder.connect(),
                           encoder.prepare()}),
                   byte_at_a_time)
                  .empty());
  EXPECT_EQ(describe(feed(session, encoder.publish(), byte_at_a_time)),
            std::vector<std::string>{"PublishRequested app=live name=KEY query=token=abc "
                                     "tc_url=rtmp://127.0.0.1:1935/live type=live"});
  EXPECT_EQ(session.state(), RtmpSession::State::kPublishPending);
  EXPECT_TRUE(session.acceptPublish().empty());

  std::vector<std::string> expected = {"MetaData width=1280"};
  expected.insert(expected.end(), kMediaEvents.begin(), kMediaEvents.end());
  EXPECT_EQ(describe(feed(session, concat({encoder.metadata(), encoder.media()}), byte_at_a_time)),
            expected);
  EXPECT_EQ(describe(feed(session, encoder.unpublish(), byte_at_a_time)),
            std::vector<std::string>{"Unpublished"});
  EXPECT_EQ(session.state(), RtmpSession::State::kEnded);

  ServerReader server;
  EXPECT_EQ(server.says(session.takeOutput()),
            (std::vector<std::string>{
                "WindowAckSize 2500000",
                "SetPeerBandwidth 2500000 limit 2",
                "SetChunkSize 4096",
                "_result 1 {} NetConnection.Connect.Success (msid 0)",
                "_result 2 null undefined (msid 0)",
                "_result 3 null undefined (msid 0)",
                "_result 4 null 1 (msid 0)",
                "onStatus 0 null NetStream.Publish.Start (msid 1)",
                "onStatus 0 null NetStream.Unpublish.Success (msid 1)",
            }));
  EXPECT_TRUE(session.takeOutput().empty()) << "output is handed out once";
}

INSTANTIATE_TEST_SUITE_P(WholeOrByteByByte, RtmpSessionTest, ::testing::Bool());

TEST(RtmpSession, TheConnectReplyCarriesWhatEncodersLookFor) {
  RtmpSession session;
  ScriptedEncoder encoder;
  feed(session, concat({encoder.handshake(), encoder.connect(3)}));
  ServerReader server;
  const auto messages = server.messages(session.takeOutput());
  ASSERT_EQ(messages.size(), 4u);
  const auto values = commandValues(messages[3]);
  ASSERT_EQ(values.size(), 4u);
  EXPECT_EQ(values[2].stringAt("fmsVer"), "FMS/3,0,1,123");
  EXPECT_EQ(values[2].find("capabilities")->asNumber(), 31);
  EXPECT_EQ(values[3].stringAt("level"), "status");
  EXPECT_EQ(values[3].find("objectEncoding")->asNumber(), 3) << "echoed";
}

TEST(RtmpSession, TheHandshakeAnswerComesFirstAndDependsOnTheC1Kind) {
  for (bool digest : {true, false}) {
    RtmpSession session;
    ScriptedEncoder encoder;
    const Bytes c0c1 = digest ? digestC0C1(1) : plainC0C1();
    feed(session, c0c1);
    const Bytes output = session.takeOutput();
    ASSERT_EQ(output.size(), 1u + 2 * 1536);
    EXPECT_EQ(output[5] != 0, digest) << "S1 version is set only for a digest handshake";
  }
}

TEST(RtmpSession, MediaSentBeforeTheAnswerIsHeldAndReturnedByAcceptPublish) {
  RtmpSession session;
  ScriptedEncoder encoder;
  feed(session,
       concat({encoder.handshake(), encoder.connect(), encoder.prepare(), encoder.publish()}));
  EXPECT_TRUE(feed(session, concat({encoder.metadata(), encoder.media()})).empty());
  std::vector<std::string> expected = {"MetaData width=1280"};
  expected.insert(expected.end(), kMediaEvents.begin(), kMediaEvents.end());
  EXPECT_EQ(describe(session.acceptPublish()), expected);
  EXPECT_EQ(session.state(), RtmpSession::State::kPublishing);
}

TEST(RtmpSession, PastTheHoldLimitOnlyCodecConfigurationIsKept) {
  RtmpSessionConfig config;
  config.max_held_bytes = 3500;
  RtmpSession session(config);
  ScriptedEncoder encoder;
  feed(session,
       concat({encoder.handshake(), encoder.connect(), encoder.prepare(), encoder.publish()}));
  feed(session, concat({encoder.video(0, avcFrameTag(true, 0, Bytes(3000, 1))),
                        encoder.video(33, avcFrameTag(false, 0, Bytes(3000, 2))),  // over the limit
                        encoder.audio(0, aacSequenceHeaderTag()),                  // config: kept
                        encoder.video(66, avcFrameTag(false, 0, Bytes(10, 3)))}));  // after a gap
  EXPECT_EQ(describe(session.acceptPublish()),
            (std::vector<std::string>{"Video ts=0 bytes=3009", "Audio ts=0 bytes=4"}));
}

TEST(RtmpSession, ManyTinyMessagesAreHeldOnlyUpToTheMessageLimit) {
  // Regression: holding was bounded by bytes only, so a flood of 1-byte media messages cost a
  // heap allocation each, far more memory than max_held_bytes suggests.
  RtmpSessionConfig config;
  config.max_held_messages = 10;
  RtmpSession session(config);
  ScriptedEncoder encoder;
  feed(session,
       concat({encoder.handshake(), encoder.connect(), encoder.prepare(), encoder.publish()}));
  Bytes flood;
  for (uint32_t i = 0; i < 1000; ++i) flood = concat({flood, encoder.audio(i, bytesOf({0xAF}))});
  feed(session, concat({flood, encoder.audio(0, aacSequenceHeaderTag())}));
  const auto held = session.acceptPublish();
  ASSERT_EQ(held.size(), 11u) << "10 frames, then only the sequence header";
  EXPECT_EQ(describe(held.back()), "Audio ts=0 bytes=4");
}

TEST(RtmpSession, ARefusedPublishGetsAnErrorStatusAndItsMediaIsDropped) {
  RtmpSession session;
  ScriptedEncoder encoder;
  feed(session,
       concat({encoder.handshake(), encoder.connect(), encoder.prepare(), encoder.publish()}));
  ServerReader server;
  server.messages(session.takeOutput());
  session.refusePublish("unknown stream key");
  EXPECT_EQ(session.state(), RtmpSession::State::kRefused);
  const auto messages = server.messages(session.takeOutput());
  ASSERT_EQ(messages.size(), 1u);
  const auto values = commandValues(messages[0]);
  ASSERT_EQ(values.size(), 4u);
  EXPECT_EQ(values[0].asString(), "onStatus");
  EXPECT_EQ(values[3].stringAt("level"), "error");
  EXPECT_EQ(values[3].stringAt("code"), "NetStream.Publish.BadName");
  EXPECT_EQ(values[3].stringAt("description"), "unknown stream key");
  EXPECT_TRUE(feed(session, encoder.media()).empty());
  EXPECT_TRUE(session.acceptPublish().empty()) << "too late to accept";
}

TEST(RtmpSession, MediaBeforePublishOrOnAnotherStreamIsDropped) {
  RtmpSession session;
  ScriptedEncoder encoder;
  EXPECT_TRUE(
      feed(session, concat({encoder.handshake(), encoder.connect(), encoder.media()})).empty());
  feed(session, concat({encoder.prepare(), encoder.publish()}));
  session.acceptPublish();
  const Bytes other_stream =
      encoder.w.message(6, RtmpType::kVideo, 7, 0, avcFrameTag(true, 0, Bytes(9, 1)));
  EXPECT_TRUE(feed(session, other_stream).empty());
}

TEST(RtmpSession, TheEncoderGivingUpWhileTheKeyIsCheckedEndsThePublish) {
  RtmpSession session;
  ScriptedEncoder encoder;
  feed(session,
       concat({encoder.handshake(), encoder.connect(), encoder.prepare(), encoder.publish()}));
  EXPECT_EQ(describe(feed(session, encoder.unpublish())), std::vector<std::string>{"Unpublished"});
  EXPECT_TRUE(session.acceptPublish().empty());
  EXPECT_EQ(session.state(), RtmpSession::State::kEnded);
}

TEST(RtmpSession, ASecondPublishOnTheSameConnectionIsAProtocolError) {
  RtmpSession session;
  ScriptedEncoder encoder;
  ServerReader server;
  feed(session,
       concat({encoder.handshake(), encoder.connect(), encoder.prepare(), encoder.publish()}));
  session.acceptPublish();
  server.messages(session.takeOutput());
  EXPECT_EQ(describe(feed(session, concat({encoder.publish("OTHER"), encoder.media()}))),
            std::vector<std::string>{"ProtocolError second publish on one connection"});
  EXPECT_EQ(server.says(session.takeOutput()),
            std::vector<std::string>{"onStatus 0 null NetStream.Publish.BadName (msid 1)"});
  EXPECT_TRUE(feed(session, encoder.media()).empty()) << "a failed session ignores input";
}

TEST(RtmpSession, PlayIsRefusedBecauseThisServerOnlyIngests) {
  RtmpSession session;
  ScriptedEncoder encoder;
  ServerReader server;
  feed(session, concat({encoder.handshake(), encoder.connect(), encoder.prepare()}));
  server.messages(session.takeOutput());
  const auto events = feed(session, encoder.w.command(1, {Amf0::string("play"), Amf0::number(5),
                                                          Amf0::null(), Amf0::string("KEY")}));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_NE(describe(events[0]).find("only accepts publishers"), std::string::npos);
  EXPECT_EQ(server.says(session.takeOutput()),
            std::vector<std::string>{"onStatus 0 null NetStream.Play.Failed (msid 1)"});
}

TEST(RtmpSession, ACommandBeforeConnectIsAProtocolError) {
  RtmpSession session;
  ScriptedEncoder encoder;
  EXPECT_EQ(describe(feed(session, concat({encoder.handshake(), encoder.publish()}))),
            std::vector<std::string>{"ProtocolError command 'publish' before connect"});
}

TEST(RtmpSession, APublishWithoutAStreamKeyIsRefused) {
  RtmpSession session;
  ScriptedEncoder encoder;
  feed(session, concat({encoder.handshake(), encoder.connect(), encoder.prepare()}));
  EXPECT_EQ(describe(feed(session, encoder.publish("?token=1"))),
            std::vector<std::string>{"ProtocolError publish without a stream name"});
}

TEST(RtmpSession, UnknownCommandsAreIgnored) {
  RtmpSession session;
  ScriptedEncoder encoder;
  ServerReader server;
  feed(session, concat({encoder.handshake(), encoder.connect()}));
  server.messages(session.takeOutput());
  EXPECT_TRUE(feed(session, encoder.w.command(0, {Amf0::string("getStreamLength"), Amf0::number(9),
                                                  Amf0::null()}))
                  .empty());
  EXPECT_TRUE(session.takeOutput().empty());
  EXPECT_EQ(session.state(), RtmpSession::State::kConnected);
}

TEST(RtmpSession, AnAmf3CommandIsAnAmf0CommandAfterOneByte) {
  RtmpSession session;
  ScriptedEncoder encoder;
  feed(session, encoder.handshake());
  Bytes body = concat({Bytes{0}, encodeAmf0Sequence(std::vector<Amf0>{
                                     Amf0::string("connect"), Amf0::number(1),
                                     Amf0::object({{"app", Amf0::string("live/")}})})});
  EXPECT_TRUE(feed(session, encoder.w.message(3, RtmpType::kCommandAmf3, 0, 0, body)).empty());
  EXPECT_EQ(session.state(), RtmpSession::State::kConnected);
}

TEST(RtmpSession, BrokenInputEndsTheSessionWithAProtocolError) {
  {
    RtmpSession session;
    const auto events = session.onBytes(bytesOf({6}));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_NE(describe(events[0]).find("version 6"), std::string::npos);
  }
  {
    RtmpSession session;
    ScriptedEncoder encoder;
    const auto events =
        feed(session, concat({encoder.handshake(),
                              bytesOf({0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0})}));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_NE(describe(events[0]).find("Set Chunk Size 0"), std::string::npos);
    EXPECT_TRUE(feed(session, encoder.connect()).empty());
    EXPECT_EQ(session.state(), RtmpSession::State::kFailed);
  }
  {
    RtmpSession session;
    ScriptedEncoder encoder;
    const auto events = feed(
        session, concat({encoder.handshake(), encoder.w.message(3, RtmpType::kCommandAmf0, 0, 0,
                                                                bytesOf({0x02, 0, 9, 'x'}))}));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_NE(describe(events[0]).find("truncated"), std::string::npos);
  }
}

TEST(RtmpSession, BytesReceivedAreAcknowledgedPerTheEncodersWindow) {
  RtmpSession session;
  ScriptedEncoder encoder;
  ServerReader server;
  feed(session,
       concat({encoder.handshake(), encoder.connect(),
               encoder.w.message(2, RtmpType::kWindowAckSize, 0, 0, bytesOf({0, 0, 0x10, 0}))}));
  server.messages(session.takeOutput());
  const Bytes filler = encoder.w.command(0, {Amf0::string("noop"), Amf0::number(0), Amf0::null(),
                                             Amf0::string(std::string(5000, 'x'))});
  feed(session, filler);
  const auto messages = server.messages(session.takeOutput());
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(describe(messages[0]).substr(0, 4), "Ack ");
}

TEST(RtmpSession, PingRequestsGetPingResponses) {
  RtmpSession session;
  ScriptedEncoder encoder;
  ServerReader server;
  feed(session, concat({encoder.handshake(), encoder.connect()}));
  server.messages(session.takeOutput());
  feed(session,
       encoder.w.message(2, RtmpType::kUserControl, 0, 0, bytesOf({0, 6, 0, 0, 0x30, 0x39})));
  EXPECT_EQ(server.says(session.takeOutput()), std::vector<std::string>{"UserControl 7 12345"});
}

TEST(RtmpSession, AggregateMessagesAreSplitIntoMediaWithRebasedTimestamps) {
  RtmpSession session;
  ScriptedEncoder encoder;
  feed(session,
       concat({encoder.handshake(), encoder.connect(), encoder.prepare(), encoder.publish()}));
  session.acceptPublish();
  // Two FLV tags stamped 5000 and 5040; the aggregate itself is stamped 100.
  const Bytes aggregate =
      concat({bytesOf({9, 0, 0, 3, 0, 0x13, 0x88, 0, 0, 0, 0}), bytesOf({0x27, 1, 0}),
              bytesOf({0, 0, 0, 14}), bytesOf({8, 0, 0, 2, 0, 0x13, 0xB0, 0, 0, 0, 0}),
              bytesOf({0xAF, 1}), bytesOf({0, 0, 0, 13})});
  EXPECT_EQ(describe(feed(session, encoder.w.message(6, RtmpType::kAggregate, 1, 100, aggregate))),
            (std::vector<std::string>{"Video ts=100 bytes=3", "Audio ts=140 bytes=2"}));
}

TEST(RtmpSession, MediaPayloadsAreFlvTagBodies) {
  RtmpSession session;
  ScriptedEncoder encoder;
  feed(session,
       concat({encoder.handshake(), encoder.connect(), encoder.prepare(), encoder.publish()}));
  session.acceptPublish();
  const auto events = feed(session, encoder.media());
  ASSERT_EQ(events.size(), 6u);
  const auto& media = std::get<Media>(events[4]);
  const auto tag = parseFlvTag(MediaKind::kVideo, media.timestamp_ms, media.payload);
  ASSERT_TRUE(std::holds_alternative<MediaTag>(tag));
  EXPECT_EQ(std::get<MediaTag>(tag).pts_ms, 66);
}

}  // namespace
}  // namespace bloomcast::ingest
