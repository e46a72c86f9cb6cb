-- wrk script of tests/faults/test_overload.py:
--   wrk -t2 -cN -dS -s overload.lua http://127.0.0.1:<port>/bid -- <prefix> <out-dir>
-- POSTs simple-form bid requests (one impression each) with a unique request_id
-- "<prefix><thread>-<n>". done() writes the request ids answered 202 to <out-dir>/accepted.txt and
-- prints one line "RESULT <json>": counts per status, and how many 503 answers lacked Retry-After.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1] or "ov-"
  out_dir = args[2] or "."
  counter = 0
  statuses = {}
  no_retry_after = 0
  accepted = {}
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"request_id":"%s%d-%d","user_id":"user-%03d","site":{"domain":"news.com"},' ..
    '"ad_slots":[{"id":"slot-1","min_bid":0.3}]}',
    prefix, tid, counter, counter % 20 + 1)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status == 202 then
    accepted[#accepted + 1] = string.match(body, '"request_id":"([^"]+)"')
  elseif status == 503 and headers["retry-after"] == nil and headers["Retry-After"] == nil then
    no_retry_after = no_retry_after + 1
  end
end

function done(summary, latency, requests)
  local totals = {}
  local missing = 0
  local out = nil
  for _, t in ipairs(threads) do
    if out == nil then out = io.open(t:get("out_dir") .. "/accepted.txt", "w") end
    for _, id in ipairs(t:get("accepted")) do
      out:write(id, "\n")
    end
    for code, n in pairs(t:get("statuses")) do
      totals[code] = (totals[code] or 0) + n
    end
    missing = missing + t:get("no_retry_after")
  end
  if out ~= nil then out:close() end
  local parts = {}
  for code, n in pairs(totals) do
    table.insert(parts, string.format('"%s": %d', code, n))
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"statuses": {%s}, "no_retry_after": %d, "socket_errors": {"connect": %d, "read": %d, ' ..
    '"write": %d, "timeout": %d}, "duration_s": %.3f, "latency_p99_ms": %.1f, "latency_max_ms": %.1f}\n',
    table.concat(parts, ", "), missing, e.connect, e.read, e.write, e.timeout, summary.duration / 1e6,
    latency:percentile(99) / 1e3, latency.max / 1e3))
end
