-- wrk script for nsxd's HTTP API (tests/perf/bench.sh).
--   wrk ... -s nsxd.lua -- OP KEYS VALUE_BYTES [THREADS]
-- OP: put       POST /kv/put of a random key among KEYS (overwrites)
--     get       GET /kv/get?key=... (linearizable: ReadIndex)
--     get_stale GET /kv/get?key=...&stale=true (local read)
--     preload   writes key0..key(KEYS-1) once, split across THREADS
--               threads, then repeats the thread's first key (wrk builds
--               one request in its checking state that is never sent)
local tid = 0
function setup (thread)
    thread:set ("id", tid)
    tid = tid + 1
end

local op, keys, value, step, i = "put", 10000, string.rep ("x", 100), 1, 0
function init (args)
    op = args[1] or op
    keys = tonumber (args[2]) or keys
    value = string.rep ("x", tonumber (args[3]) or 100)
    step = tonumber (args[4]) or 1
    i = id or 0
    math.randomseed ((id or 0) * 7919 + 17)
end

local function put (k)
    return wrk.format ("POST", "/kv/put", {["Content-Type"] = "application/json"},
                       '{"key":"key' .. k .. '","value":"' .. value .. '"}')
end

function request ()
    if op == "preload" then
        local k = i
        if k >= keys then k = id or 0 end
        i = i + step
        return put (k)
    end
    local k = math.random (0, keys - 1)
    if op == "put" then return put (k) end
    if op == "get_stale" then
        return wrk.format ("GET", "/kv/get?key=key" .. k .. "&stale=true")
    end
    return wrk.format ("GET", "/kv/get?key=key" .. k)
end

-- preload: a thread stops once its share and the repeat of its first key
-- have been answered (wrk then idles until -d; bench.sh stops it when the
-- commit index stops moving)
function response (status, headers, body)
    if op == "preload" and i >= keys + 2 * step then
        wrk.thread:stop ()
    end
end
