-- wrk script for bench/orders/room.sh: the viewers of one room polling it as live.js does —
-- GET /api/streams/ID every 5 s and GET /api/streams/ID/products every 15 s, so three stream
-- reads to one products read — each connection waiting DELAY_MS between its requests.
--   STREAM=id DELAY_MS=ms wrk -t1 -c20 -d10s -s viewers.lua URL
-- Prints one "WRK key=value ..." line (latencies in µs).

local n = 0
local stream_path, products_path, delay_ms

function init(args)
  stream_path = "/api/streams/" .. os.getenv("STREAM")
  products_path = stream_path .. "/products"
  delay_ms = tonumber(os.getenv("DELAY_MS"))
end

function request()
  n = n + 1
  return wrk.format("GET", n % 4 == 0 and products_path or stream_path)
end

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  io.write(string.format("WRK requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status))
end
