-- POST /v1/opt-outs, one new address per request, so each request is a real write.
-- The address is made of HUSH_RUN (set it differently for each run against the same database),
-- the wrk thread's number and a per-thread counter: no two requests name the same address.
local key = os.getenv("HUSH_KEY")
local run = os.getenv("HUSH_RUN") or "0"
local threads = 0
local counter = 0

function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end

request = function()
    counter = counter + 1
    local body = '{"address":"w' .. run .. "-" .. tostring(tid) .. "-" .. counter .. '@example.com","channel":"email"}'
    return wrk.format("POST", "/v1/opt-outs",
        { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }, body)
end
