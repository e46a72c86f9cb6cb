-- wrk -t2 -c64 -d20s --latency -s bid.lua http://127.0.0.1:8080/bid
-- POSTs Helios simple-form bid requests with a unique request_id each; counts non-202 answers.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
  table.insert(threads, thread)
end

function init(args)
  failed = 0
  accepted = 0
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"request_id":"bench-%d-%d","user_id":"user-%03d","site":{"domain":"news.com","page":"https://news.com/a"},' ..
    '"device":{"ip":"192.0.2.1","user_agent":"Mozilla/5.0"},"ad_slots":[{"id":"slot-1","min_bid":0.5,"format":["300x250"]}]}',
    tid, counter, counter % 20 + 1)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 202 then accepted = accepted + 1 else failed = failed + 1 end
end

function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, t in ipairs(threads) do
    ok = ok + t:get("accepted")
    bad = bad + t:get("failed")
  end
  io.write(string.format("accepted: %d  not-202: %d  accepted/s: %.0f\n", ok, bad, ok / (summary.duration / 1e6)))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%s: %.2f ms\n", p, latency:percentile(p) / 1000))
  end
end
