#pragma once
// Router: maps (method, path) to a handler, with path parameters.
//
// Patterns are split on '/': a segment ":name" matches one non-empty segment and binds it; a
// final segment "*name" matches the rest of the path (possibly empty) and binds it. Routes are
// tried in the order added. A path that matches some route but not under this method yields
// MethodNotAllowed with the methods that would match (for the Allow header); none -> NotFound.
// HEAD is answered by GET routes.
//
// Pure: no I/O. Thread: built before serving, then read-only.
#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace bloomcast {

using PathParams = std::map<std::string, std::string>;

template <class Handler>
class Router {
 public:
  struct Match {
    const Handler* handler;
    PathParams params;
  };
  struct NotFound {};
  struct MethodNotAllowed {
    std::vector<std::string> allowed;
  };
  using Result = std::variant<Match, NotFound, MethodNotAllowed>;

  void add(std::string method, std::string_view pattern, Handler handler) {
    std::vector<std::string_view> views;
    split(pattern, views);
    // "*name" takes the rest of the path, so it can only come last.
    for (std::size_t i = 0; i + 1 < views.size(); ++i)
      if (views[i].starts_with('*'))
        throw std::invalid_argument("route " + std::string(pattern) + ": '*' only as the last segment");
    bool tail = !views.empty() && views.back().starts_with('*');
    auto group = std::find_if(by_method_.begin(), by_method_.end(),
                              [&](const auto& g) { return g.first == method; });
    if (group == by_method_.end()) group = by_method_.insert(by_method_.end(), {method, {}});
    std::size_t index = routes_.size();
    routes_.push_back(Route{method, {views.begin(), views.end()}, tail, std::move(handler)});
    // A route without parameters is also found by its path, in one lookup, unless a route of
    // this method added before it matches the same path (the first added wins).
    bool fixed = std::none_of(views.begin(), views.end(),
                              [](std::string_view v) { return v.starts_with(':') || v.starts_with('*'); });
    bool shadowed = false;
    for (std::size_t i : group->second) {
      PathParams ignored;
      shadowed |= matchSegments(routes_[i], views, ignored);
    }
    group->second.push_back(index);
    if (fixed && !shadowed) {
      std::string path;
      for (auto v : views) path.append("/").append(v);
      if (path.empty()) path = "/";
      fixed_[std::move(path)].push_back({std::move(method), index});
    }
  }

  Result match(std::string_view method, std::string_view path) const {
    // Most requests name a route without parameters, spelled as it was added.
    if (method != "HEAD") {
      if (auto it = fixed_.find(path); it != fixed_.end())
        for (const auto& [m, index] : it->second)
          if (m == method) return Match{&routes_[index].handler, {}};
    }
    // Views of `path`, in one vector per thread that keeps its storage: no allocation per
    // request. Nothing below calls back into a router, so one vector serves every match.
    thread_local std::vector<std::string_view> segments;
    segments.clear();
    split(path, segments);
    // Only the routes of this method are matched against the path (HEAD: GET's too, in the
    // order added); the others only when none matches, for the Allow header.
    auto tryRoute = [&](const Route& route, Match& found) {
      PathParams params;
      if (!matchSegments(route, segments, params)) return false;
      found = Match{&route.handler, std::move(params)};
      return true;
    };
    Match found{nullptr, {}};
    if (method == "HEAD") {
      for (const auto& route : routes_)
        if ((route.method == "HEAD" || route.method == "GET") && tryRoute(route, found)) return found;
    } else {
      for (const auto& [group_method, indices] : by_method_) {
        if (group_method != method) continue;
        for (std::size_t i : indices)
          if (tryRoute(routes_[i], found)) return found;
      }
    }
    std::vector<std::string> allowed;
    for (const auto& route : routes_) {
      PathParams params;
      if (matchSegments(route, segments, params)) allowed.push_back(route.method);
    }
    if (allowed.empty()) return NotFound{};
    return MethodNotAllowed{std::move(allowed)};
  }

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    bool tail;  // the last segment is "*name"
    Handler handler;
  };

  static void split(std::string_view path, std::vector<std::string_view>& out) {
    std::size_t i = 0;
    while (i < path.size()) {
      if (path[i] == '/') {
        ++i;
        continue;
      }
      std::size_t j = path.find('/', i);
      if (j == std::string_view::npos) j = path.size();
      out.emplace_back(path.substr(i, j - i));
      i = j;
    }
  }

  // Heterogeneous lookup: a request's path is found without being copied into a string.
  struct PathHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  static bool matchSegments(const Route& route, const std::vector<std::string_view>& path,
                            PathParams& params) {
    const std::vector<std::string>& pattern = route.segments;
    // Without a "*" tail, only a path of as many segments can match.
    if (route.tail ? path.size() + 1 < pattern.size() : path.size() != pattern.size()) return false;
    std::size_t i = 0;
    for (; i < pattern.size(); ++i) {
      const std::string& p = pattern[i];
      if (!p.empty() && p[0] == '*') {
        std::string rest;
        for (std::size_t k = i; k < path.size(); ++k) {
          if (k > i) rest += '/';
          rest += path[k];
        }
        params[p.substr(1)] = rest;
        return true;
      }
      if (i >= path.size()) return false;
      if (!p.empty() && p[0] == ':') params[p.substr(1)] = std::string(path[i]);
      else if (p != path[i]) return false;
    }
    return i == path.size();
  }

  std::vector<Route> routes_;
  // Each method's routes (indices into routes_), in the order added.
  std::vector<std::pair<std::string, std::vector<std::size_t>>> by_method_;
  // Routes without parameters by their canonical path ("/a/b"): (method, index into routes_).
  std::unordered_map<std::string, std::vector<std::pair<std::string, std::size_t>>, PathHash,
                     std::equal_to<>>
      fixed_;
};

}  // namespace bloomcast
