-- wrk script for bench/run, driven by environment variables (every wrk Lua state sees them, and
-- wrk decides at load time whether request() and delay() exist, so they are defined only when used):
--   REPLAY_FILE=PATH  replay the requests written by gen_requests.py, in order; thread k of N sends
--                     requests k, k+N, k+2N, ... so no two threads send the same one
--   REPLAY_THREADS=N  wrk's -t (a thread cannot see it)
--   REPLAY_RATE=R     pace the whole run at about R requests/s, with REPLAY_CONNS=C (wrk's -c)
-- Without REPLAY_FILE wrk sends its own prebuilt GET of the URL.
-- done() prints one line "BENCH {json}" that bench/run parses; "sent" counts the requests started
-- (answered or not: at the end of the run some are still on their way), only with REPLAY_FILE.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local file = os.getenv("REPLAY_FILE")
local rate = tonumber(os.getenv("REPLAY_RATE") or "")
wraps = 0
sent = 0

if file and file ~= "" then
  local requests, count, index = {}, 0, 0

  function init(args)
    -- The file holds ready-made requests separated by NUL (gen_requests.py): no formatting while
    -- measuring (that CPU would come out of the server's share of the cores), and a fast init.
    local nthreads = tonumber(os.getenv("REPLAY_THREADS") or "1")
    local handle = assert(io.open(file, "rb"))
    local data = handle:read("*a")
    handle:close()
    local n, start = 0, 1
    while true do
      local stop = data:find("\0", start, true)
      if not stop then break end
      if n % nthreads == id then table.insert(requests, data:sub(start, stop - 1)) end
      n = n + 1
      start = stop + 1
    end
    count = #requests
    if count == 0 then error("no requests for thread " .. id .. " in " .. file) end
  end

  function request()
    sent = sent + 1
    index = index + 1
    if index > count then
      -- Out of distinct requests: start over, and say so in the result (bench/run warns).
      index = 1
      wraps = wraps + 1
    end
    return requests[index]
  end
end

if rate then
  -- Each connection waits between requests so the whole run sends about REPLAY_RATE/s. wrk waits
  -- the delay after each response, so a connection's cycle is delay + latency; once a second the
  -- delay is corrected by the cycle actually observed (connections per thread / requests per
  -- second), which takes the latency out without knowing it. wrk takes whole milliseconds, so the
  -- fraction is dithered (floor or ceil at random).
  local conns = tonumber(os.getenv("REPLAY_CONNS")) / tonumber(os.getenv("REPLAY_THREADS") or "1")
  local target = conns / (rate / tonumber(os.getenv("REPLAY_THREADS") or "1")) * 1000
  local pause = target
  local second, sent, started = os.time(), 0, false
  function delay()
    sent = sent + 1
    local now = os.time()
    if now ~= second then
      if started then  -- the first second is partial: skip it
        local observed = conns * 1000 * (now - second) / sent
        pause = math.max(0, pause + target - observed)
      end
      second, sent, started = now, 0, true
    end
    local whole = math.floor(pause)
    if math.random() < pause - whole then whole = whole + 1 end
    return whole
  end
end

function done(summary, latency, requests)
  local wrapped, started = 0, 0
  for _, thread in ipairs(threads) do
    wrapped = wrapped + (thread:get("wraps") or 0)
    started = started + (thread:get("sent") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"non2xx":%d,"socket_errors":%d,"wraps":%d,"sent":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout, wrapped, started))
end
