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
  -- Requests go out on a schedule: this thread's n-th at its start + n / (its share of REPLAY_RATE), so
  -- the run sends REPLAY_RATE/s, evenly, whatever the latency: a connection back early waits for the
  -- next free slot, one back late takes it at once. (A per-second correction of each connection's pause,
  -- before, overshot by up to 13 %.) Milliseconds from the monotonic clock through LuaJIT's FFI; wrk
  -- takes whole milliseconds, so the fraction is dithered (floor or ceil at random).
  local ffi = require("ffi")
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } replay_timespec;
    int clock_gettime(int clock, replay_timespec *now);
  ]]
  local clock = ffi.new("replay_timespec")
  local function now_ms()
    ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
    return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
  end
  local interval = 1000 / (rate / tonumber(os.getenv("REPLAY_THREADS") or "1"))
  local start, scheduled = nil, 0
  function delay()
    local now = now_ms()
    start = start or now
    local wait = start + scheduled * interval - now
    scheduled = scheduled + 1
    if wait <= 0 then return 0 end
    local whole = math.floor(wait)
    if math.random() < wait - whole then whole = whole + 1 end
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
