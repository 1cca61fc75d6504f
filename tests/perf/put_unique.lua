-- wrk script: POST /kv/put with unique keys "<p>t<thread>_<n>" and values
-- "v<thread>_<n>" padded with x to 100 bytes. Each thread stops once it
-- has had answers for its share (wrk ... -- SHARE [PREFIX]); wrk itself
-- then waits out -d, so callers stop it when the writes are in.
local counter, limit, prefix = 0, 1000, "k"
local tid = 0

function setup (thread)
    thread:set ("id", tid)
    tid = tid + 1
end

function init (args)
    limit = tonumber (args[1]) or limit
    prefix = args[2] or prefix
end

function request ()
    counter = counter + 1
    local v = "v" .. id .. "_" .. counter
    v = v .. string.rep ("x", 100 - #v)
    local body = '{"key":"' .. prefix .. 't' .. id .. '_' .. counter ..
                 '","value":"' .. v .. '"}'
    return wrk.format ("POST", "/kv/put",
                       {["Content-Type"] = "application/json"}, body)
end

function response (status, headers, body)
    if counter >= limit then
        wrk.thread:stop ()
    end
end
