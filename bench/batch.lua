-- POST /v1/check with 10 000 addresses, half of them seeded (blocked): a JSON body, or with
-- FORM=lines the compact form (an address a line, text/plain; a verdict a line back).
local key = os.getenv("HUSH_KEY")
local entries = tonumber(os.getenv("HUSH_ENTRIES") or "1000000")
local lines = os.getenv("FORM") == "lines"
local parts = {}
for i = 1, 10000 do
    local address = 'person' .. ((i * 104729) % (entries * 2)) .. '@example.com'
    parts[i] = lines and address or ('"' .. address .. '"')
end
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. key
if lines then
    wrk.path = "/v1/check?channel=email"
    wrk.headers["Content-Type"] = "text/plain"
    wrk.body = table.concat(parts, "\n") .. "\n"
else
    wrk.path = "/v1/check"
    wrk.headers["Content-Type"] = "application/json"
    wrk.body = '{"channel":"email","addresses":[' .. table.concat(parts, ",") .. ']}'
end
