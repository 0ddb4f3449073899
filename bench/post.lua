-- wrk script: POST the body in $WRK_BODY_FILE as JSON; print a summary line at the end.
-- With $WRK_TENANTS = N, the body is an event and each request sends it for the next of
-- tenants "t0" .. "t<N-1>" in turn (the same request builder for N = 1, so that rates
-- compare).
local f = assert(io.open(os.getenv("WRK_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local tenants = tonumber(os.getenv("WRK_TENANTS") or "")
if tenants then
  local rest = wrk.body:gsub("^%s*{", "", 1)
  local n = 0
  function request()
    n = n + 1
    return wrk.format(nil, nil, nil, '{"tenant":"t' .. (n % tenants) .. '",' .. rest)
  end
end

function done(summary, latency, requests)
  local s = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
               + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT rate=%.0f p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f max_ms=%.3f requests=%d errors=%d non2xx=%d\n",
    summary.requests / s, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.requests, errors, summary.errors.status))
end
