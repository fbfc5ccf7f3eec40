-- GET /health generated the same way as check.lua's requests, so wrk spends the same on both.
local counter = 0
request = function()
    counter = counter + 1
    return wrk.format("GET", "/health", { ["Authorization"] = "Bearer " .. (os.getenv("HUSH_KEY") or "") })
end
