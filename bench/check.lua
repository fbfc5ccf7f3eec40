-- GET /v1/check over a mix of blocked (seeded) and allowed addresses.
local key = os.getenv("HUSH_KEY")
local entries = tonumber(os.getenv("HUSH_ENTRIES") or "1000000")
local counter = 0

request = function()
    counter = counter + 1
    local i = (counter * 7919) % (entries * 2)
    return wrk.format("GET", "/v1/check?address=person" .. i .. "%40example.com&channel=email",
        { ["Authorization"] = "Bearer " .. key })
end
