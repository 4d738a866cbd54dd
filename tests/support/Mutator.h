#pragma once
// A small deterministic input mutator for the GCC builds (plain and ASan+UBSan). libFuzzer
// fuzzes the same parsers in the clang build (tests/fuzz); these mutation tests run them as GCC
// compiles them, against the libraries the server links (Debian's libtomlplusplus for the
// configuration). Seeded, so a failure replays; each mutation is one of libFuzzer's basic moves
// (flip, insert, erase, duplicate, splice a token).
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace bloomcast::test {

class Mutator {
 public:
  Mutator(std::vector<std::string> seeds, std::vector<std::string> tokens, uint32_t seed = 1)
      : seeds_(std::move(seeds)), tokens_(std::move(tokens)), rng_(seed) {}

  // A seed with 1..8 mutations applied.
  std::string next() {
    std::string s = seeds_[pick(seeds_.size())];
    int n = 1 + static_cast<int>(pick(8));
    for (int i = 0; i < n; ++i) mutate(s);
    return s;
  }

 private:
  std::size_t pick(std::size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  void mutate(std::string& s) {
    std::size_t at = pick(s.size() + 1);
    switch (pick(6)) {
      case 0:
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1u << pick(8));
        break;
      case 1: s.insert(at, 1, static_cast<char>(pick(256))); break;
      case 2:
        if (!s.empty()) s.erase(pick(s.size()), 1 + pick(8));
        break;
      case 3:
        if (!s.empty()) {
          std::size_t from = pick(s.size());
          s.insert(at, s.substr(from, 1 + pick(16)));
        }
        break;
      case 4:
        if (!tokens_.empty()) s.insert(at, tokens_[pick(tokens_.size())]);
        break;
      default:
        if (!s.empty()) s.resize(pick(s.size()));  // truncate
        break;
    }
  }

  std::vector<std::string> seeds_;
  std::vector<std::string> tokens_;
  std::mt19937 rng_;
};

}  // namespace bloomcast::test
