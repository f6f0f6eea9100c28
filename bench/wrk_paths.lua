-- wrk script for bench/api_bench.py: rotate through the request paths in the file named by
-- PATHS (one per line), send the key in X-API-Key, and print one machine-readable RESULT line.
local paths = {}
for line in io.lines(os.getenv("PATHS")) do
  paths[#paths + 1] = line
end
local key = os.getenv("HUNTER_KEY")
local i = 0

request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["X-API-Key"] = key })
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "RESULT requests=%d non2xx=%d errors=%d p50=%.3f p95=%.3f p99=%.3f max=%.3f seconds=%.3f\n",
    summary.requests, errors.status, errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.duration / 1e6))
end
