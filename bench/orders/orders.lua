-- wrk script for bench/orders: POST /api/orders, each request with an idempotency key used
-- nowhere else (so every request is a new order, never a replay) and the next session token of
-- a rotation (so orders spread over many buyers, as in a flash sale).
--   TOKENS=file STREAM=id SKU=sku NONCE=unique-per-run wrk -t2 -c50 -d10s -s orders.lua URL
-- Prints one "WRK key=value ..." line (latencies in µs) that run.sh reads.

local next_thread = 0

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end

local tokens = {}
local counter = 0
local stream, sku, prefix

function init(args)
  for line in io.lines(os.getenv("TOKENS")) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  stream = os.getenv("STREAM")
  sku = os.getenv("SKU")
  -- NONCE-THREAD-COUNTER is unique within and across runs (keys are at most 64 characters).
  prefix = os.getenv("NONCE") .. "-" .. thread_id .. "-"
end

function request()
  counter = counter + 1
  -- Threads start at different offsets so they do not walk the tokens in step.
  local token = tokens[(counter + thread_id * 7919) % #tokens + 1]
  local body = '{"stream":"' .. stream .. '","sku":"' .. sku .. '","qty":1,"idempotency_key":"' ..
               prefix .. counter .. '"}'
  return wrk.format("POST", "/api/orders",
                    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d non2xx=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
