-- GET /v1/check over a mix of blocked (seeded) and allowed addresses: emails on the email
-- channel, or with HUSH_CHECK=phone E.164 numbers on sms.
local key = os.getenv("HUSH_KEY")
local entries = tonumber(os.getenv("HUSH_ENTRIES") or "1000000")
local phones = os.getenv("HUSH_CHECK") == "phone"
local counter = 0

request = function()
    counter = counter + 1
    local i = (counter * 7919) % (entries * 2)
    local query = phones and ("%2B1" .. (2012000000 + i) .. "&channel=sms")
        or ("person" .. i .. "%40example.com&channel=email")
    return wrk.format("GET", "/v1/check?address=" .. query, { ["Authorization"] = "Bearer " .. key })
end
