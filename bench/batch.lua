-- POST /v1/check with 10 000 addresses, half of them seeded (blocked).
local key = os.getenv("HUSH_KEY")
local entries = tonumber(os.getenv("HUSH_ENTRIES") or "1000000")
local parts = {}
for i = 1, 10000 do
    parts[i] = '"person' .. ((i * 104729) % (entries * 2)) .. '@example.com"'
end
wrk.method = "POST"
wrk.path = "/v1/check"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.body = '{"channel":"email","addresses":[' .. table.concat(parts, ",") .. ']}'
