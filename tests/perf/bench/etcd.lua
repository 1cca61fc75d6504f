-- wrk script for etcd 3.4's v3 JSON gateway (tests/perf/bench.sh); the
-- same OPs and arguments as nsxd.lua:
--   put       POST /v3/kv/put
--   get       POST /v3/kv/range (linearizable, etcd's default)
--   get_stale POST /v3/kv/range with "serializable": true (local read)
--   preload   as in nsxd.lua
local tid = 0
function setup (thread)
    thread:set ("id", tid)
    tid = tid + 1
end

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64 (s)
    return ((s:gsub (".", function (x)
        local r, b = "", x:byte ()
        for j = 8, 1, -1 do r = r .. (b % 2 ^ j - b % 2 ^ (j - 1) > 0 and "1" or "0") end
        return r
    end) .. "0000"):gsub ("%d%d%d?%d?%d?%d?", function (x)
        if #x < 6 then return "" end
        local c = 0
        for j = 1, 6 do c = c + (x:sub (j, j) == "1" and 2 ^ (6 - j) or 0) end
        return b64chars:sub (c + 1, c + 1)
    end) .. ({"", "==", "="})[#s % 3 + 1])
end

local op, keys, value, step, i = "put", 10000, string.rep ("x", 100), 1, 0
local kcache = {}
local function key (k)
    local e = kcache[k]
    if not e then e = b64 ("key" .. k); kcache[k] = e end
    return e
end

function init (args)
    op = args[1] or op
    keys = tonumber (args[2]) or keys
    value = b64 (string.rep ("x", tonumber (args[3]) or 100))
    step = tonumber (args[4]) or 1
    i = id or 0
    math.randomseed ((id or 0) * 7919 + 17)
end

local hdr = {["Content-Type"] = "application/json"}
local function put (k)
    return wrk.format ("POST", "/v3/kv/put", hdr,
                       '{"key":"' .. key (k) .. '","value":"' .. value .. '"}')
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
    local body = '{"key":"' .. key (k) .. '"'
    if op == "get_stale" then body = body .. ',"serializable":true' end
    return wrk.format ("POST", "/v3/kv/range", hdr, body .. "}")
end

-- preload: a thread stops once its share and the repeat of its first key
-- have been answered (wrk then idles until -d; bench.sh stops it when the
-- commit index stops moving)
function response (status, headers, body)
    if op == "preload" and i >= keys + 2 * step then
        wrk.thread:stop ()
    end
end
