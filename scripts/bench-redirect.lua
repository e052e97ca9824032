-- wrk script for scripts/bench-redirect.mjs. The same script drives the baseline and the redirect, so both pay
-- the same load-generator cost: a random link code per request, a browser User-Agent, and a JSON summary at the end.
-- Env: BENCH_LINKS (codes bn0000000 .. bn{N-1}), BENCH_DELAY_MS (per-connection pause between requests; 0 = flat out).
local links = tonumber(os.getenv("BENCH_LINKS") or "1000") or 1000
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0") or 0
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + (seed or 0))
end

wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"

function request()
  return wrk.format("GET", string.format("/bn%07d", math.random(0, links - 1)))
end

if pause > 0 then
  function delay()
    return pause
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"errors":%d,"bad_status":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
