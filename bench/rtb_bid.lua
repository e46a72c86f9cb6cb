-- wrk -t2 -c64 -d30s --latency -s bench/rtb_bid.lua http://127.0.0.1:8080/openrtb2/bid -- bodies.jsonl
-- POSTs the OpenRTB BidRequests of bodies.jsonl (bench/rtb_bodies.py: one JSON a line, its id
-- "rtb-bench-request-id") in turn, each with a unique id; counts 200 (bid), 204 (no bid) and others.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-openrtb-version"] = "2.6"
local SLOT = '"rtb-bench-request-id"'
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
  table.insert(threads, thread)
end

function init(args)
  bids, nobids, others = 0, 0, 0
  heads, tails = {}, {}
  local file = assert(io.open(args[1] or "bodies.jsonl", "r"))
  for line in file:lines() do
    local at = line:find(SLOT, 1, true)
    if at then
      table.insert(heads, line:sub(1, at))
      table.insert(tails, line:sub(at + #SLOT - 1))
    end
  end
  file:close()
  assert(#heads > 0, "no bodies")
  counter = 0
end

function request()
  counter = counter + 1
  local i = counter % #heads + 1
  return wrk.format(nil, nil, nil, string.format("%sb%d-%d%s", heads[i], tid, counter, tails[i]))
end

function response(status, headers, body)
  if status == 200 then
    bids = bids + 1
  elseif status == 204 then
    nobids = nobids + 1
  else
    others = others + 1
  end
end

function done(summary, latency, requests)
  local b, n, o = 0, 0, 0
  for _, t in ipairs(threads) do
    b = b + t:get("bids")
    n = n + t:get("nobids")
    o = o + t:get("others")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format("answers: %d  bids: %d  no-bids: %d  other: %d  answers/s: %.1f\n", b + n, b, n, o,
    (b + n) / seconds))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%s: %.2f ms\n", p, latency:percentile(p) / 1000))
  end
end
