-- GET /v1/check pipelined DEPTH deep (default 16) on each connection: the same mix of blocked
-- and allowed addresses as check.lua, DEPTH requests written at once and their answers read
-- in order (HTTP/1.1 pipelining; wrk counts each answer).
local key = os.getenv("HUSH_KEY")
local entries = tonumber(os.getenv("HUSH_ENTRIES") or "1000000")
local depth = tonumber(os.getenv("DEPTH") or "16")
local counter = 0

request = function()
    local batch = {}
    for j = 1, depth do
        counter = counter + 1
        local i = (counter * 7919) % (entries * 2)
        batch[j] = wrk.format("GET", "/v1/check?address=person" .. i .. "%40example.com&channel=email",
            { ["Authorization"] = "Bearer " .. key })
    end
    return table.concat(batch)
end
