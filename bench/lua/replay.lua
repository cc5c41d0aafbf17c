-- Replays pre-signed raw HTTP requests from a file (one per line, CRLF written as TAB), in order,
-- cycling; counts every response that is not 2xx. Usage: wrk -s replay.lua URL -- FILE THREADS
local reqs, n, i = {}, 0, 0
local threads = {}
non2xx, sample_status, sample_body = 0, 0, ""

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  for line in f:lines() do
    n = n + 1
    reqs[n] = (line:gsub("\t", "\r\n"))
  end
  f:close()
  assert(n > 0, "no requests in " .. args[1])
  -- each thread starts at its own slice so threads do not replay each other's requests
  local nthreads = tonumber(args[2]) or 1
  i = (id * math.floor(n / nthreads)) % n
end

function request()
  i = i % n + 1
  return reqs[i]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if sample_status == 0 then
      sample_status, sample_body = status, (body or ""):sub(1, 300)
    end
  end
end

function done(summary, latency, requests)
  local bad, sstatus, sbody = 0, 0, ""
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    if sstatus == 0 and (t:get("sample_status") or 0) ~= 0 then
      sstatus, sbody = t:get("sample_status"), t:get("sample_body")
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"non2xx":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"mean_us":%.1f}\n',
    summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
  if sstatus ~= 0 then
    io.write("BENCH_SAMPLE " .. sstatus .. " " .. sbody:gsub("[\r\n]", " ") .. "\n")
  end
end
