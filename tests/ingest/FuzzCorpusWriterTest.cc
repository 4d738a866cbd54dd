// The seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/) comes from the same scripted
// encoder the session tests use. The test regenerates it and fails when the committed seeds
// differ, so a protocol change cannot leave the fuzzers starting from stale inputs. To rewrite
// the committed seeds after such a change:
//   BLOOMCAST_FUZZ_CORPUS_DIR=tests/fuzz/corpus build/tests/ingest/ingest_proto_test
//     --gtest_filter='FuzzCorpus.*'
// The input layouts below must match the fuzz targets in tests/fuzz/.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include "RtmpTestClient.h"

namespace bloomcast::ingest {
namespace {

using namespace testing;

void write(const std::filesystem::path& dir, const std::string& name, const Bytes& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// Everything a publisher sends after the handshake, from connect to deleteStream.
Bytes publishSessionAfterHandshake() {
  ScriptedEncoder encoder;
  return concat({encoder.w.setChunkSize(4096), encoder.connect(), encoder.prepare(),
                 encoder.publish(), encoder.metadata(), encoder.media(), encoder.unpublish()});
}

void writeCorpus(const std::filesystem::path& root) {
  // fuzz_amf0: one message body of AMF0 values.
  ScriptedEncoder encoder;
  write(root / "amf0", "connect",
        encodeAmf0Sequence(std::vector<Amf0>{Amf0::string("connect"), Amf0::number(1),
                                             Amf0::object({{"app", Amf0::string("live")},
                                                           {"tcUrl", Amf0::string("rtmp://h/live")},
                                                           {"objectEncoding", Amf0::number(0)}})}));
  write(root / "amf0", "metadata",
        encodeAmf0Sequence(
            std::vector<Amf0>{Amf0::string("@setDataFrame"), Amf0::string("onMetaData"),
                              Amf0::ecmaArray({{"width", Amf0::number(1280)},
                                               {"stereo", Amf0::boolean(true)},
                                               {"encoder", Amf0::string("obs-output module")}})}));
  write(root / "amf0", "all_types",
        encodeAmf0Sequence(std::vector<Amf0>{
            Amf0::null(), Amf0::undefined(), Amf0::date(1.7e12, 0), Amf0::longString("long"),
            Amf0::strictArray({Amf0::number(1), Amf0::object({{"k", Amf0::string("v")}})})}));

  // fuzz_rtmp_chunk: byte 0 = split step for the piecewise decode, then the chunk stream.
  write(root / "rtmp_chunk", "publish_session",
        concat({bytesOf({7}), publishSessionAfterHandshake()}));
  ChunkWriter writer;
  write(root / "rtmp_chunk", "extended_timestamps",
        concat({bytesOf({1}), writer.message(4, 8, 1, 0x01000000, Bytes(300, 1)),
                writer.message(320, 9, 1, 0xFFFFFF, Bytes(10, 2))}));

  // fuzz_flv_tag: byte 0 = bit 0 video/audio, bits 1-2 NALU length size; then the tag body.
  write(root / "flv_tag", "avc_sequence_header",
        concat({bytesOf({0}), avcSequenceHeaderTag(kSps720p, kPps720p)}));
  write(root / "flv_tag", "avc_frame",
        concat({bytesOf({0}), avcFrameTag(true, 40, Bytes(30, 0x65))}));
  write(root / "flv_tag", "aac_sequence_header", concat({bytesOf({1}), aacSequenceHeaderTag()}));
  write(root / "flv_tag", "aac_frame", concat({bytesOf({1}), aacFrameTag(Bytes(20, 7))}));
  write(root / "flv_tag", "sps", concat({bytesOf({0}), kSps720p}));

  // fuzz_rtmp_session: byte 0 = split step and accept/refuse choice; then what follows the
  // handshake (the target does the handshake itself).
  write(root / "rtmp_session", "publish_accepted",
        concat({bytesOf({64}), publishSessionAfterHandshake()}));
  write(root / "rtmp_session", "publish_refused",
        concat({bytesOf({3}), publishSessionAfterHandshake()}));
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(FuzzCorpus, CommittedSeedsMatchTheScriptedEncoder) {
  namespace fs = std::filesystem;
  if (const char* dir = std::getenv("BLOOMCAST_FUZZ_CORPUS_DIR")) writeCorpus(dir);
  fs::path fresh = fs::temp_directory_path() / ("bloomcast-corpus-" + std::to_string(::getpid()));
  writeCorpus(fresh);
  fs::path committed = fs::path(__FILE__).parent_path() / ".." / "fuzz" / "corpus";
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(fresh)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    fs::path rel = fs::relative(entry.path(), fresh);
    EXPECT_EQ(slurp(entry.path()), slurp(committed / rel)) << "stale seed: " << rel;
  }
  EXPECT_EQ(files, 12);
  fs::remove_all(fresh);
}

}  // namespace
}  // namespace bloomcast::ingest
