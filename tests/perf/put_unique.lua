-- wrk script: POST /kv/put with unique keys "k<thread>_<n>" and 100-byte
-- values; each thread stops after args[1] requests (wrk ... -- N).
local counter, limit = 0, 1000
local value = string.rep("x", 100)
local tid = 0

function setup (thread)
    thread:set ("id", tid)
    tid = tid + 1
end

function init (args)
    limit = tonumber (args[1]) or limit
end

function request ()
    counter = counter + 1
    local body = '{"key":"k' .. id .. '_' .. counter .. '","value":"' .. value .. '"}'
    return wrk.format ("POST", "/kv/put", {["Content-Type"] = "application/json"}, body)
end

function response (status, headers, body)
    if counter >= limit then
        wrk.thread:stop ()
    end
end
