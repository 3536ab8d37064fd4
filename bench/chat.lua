-- wrk script for bench/run.sh: POSTs one JSON body over and over, counts
-- responses outside 2xx, and prints one machine-readable result line.
--
-- Usage: wrk ... -s chat.lua -H 'Authorization: Bearer ...' URL -- BODY_FILE
--
-- The result is a single line on stdout, starting with "BENCH_RESULT " and
-- followed by a JSON object; latencies are integers in microseconds.

-- Per-thread counters (each wrk thread has its own Lua state); done() adds
-- them up through thread:get().
non2xx = 0
first_bad_status = 0
first_bad_body = ""

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local path = args[1]
   if path == nil then
      error("chat.lua: pass the request body file after --")
   end
   local file = assert(io.open(path, "rb"))
   wrk.body = file:read("*a")
   file:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if first_bad_status == 0 then
         first_bad_status = status
         first_bad_body = string.sub(body or "", 1, 300)
      end
   end
end

-- Minimal JSON string escaping for the diagnostic body snippet.
local function json_string(s)
   s = string.gsub(s, '[%c"\\]', function(c)
      if c == '"' then return '\\"' end
      if c == "\\" then return "\\\\" end
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. s .. '"'
end

function done(summary, latency, requests)
   local bad, bad_status, bad_body = 0, 0, ""
   for _, thread in ipairs(threads) do
      bad = bad + (thread:get("non2xx") or 0)
      local s = thread:get("first_bad_status") or 0
      if bad_status == 0 and s ~= 0 then
         bad_status = s
         bad_body = thread:get("first_bad_body") or ""
      end
   end
   local seconds = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"rps":%.2f,"bytes":%d,'
         .. '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"p50":%d,"p90":%d,'
         .. '"p99":%d,"p999":%d,"max":%d},'
         .. '"non2xx":%d,"first_bad_status":%d,"first_bad_body":%s,'
         .. '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d}}\n',
      summary.requests, summary.duration, summary.requests / seconds, summary.bytes,
      latency.min, latency.mean, latency.stdev,
      latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9), latency.max,
      bad, bad_status, json_string(bad_body),
      e.connect, e.read, e.write, e.timeout))
end
