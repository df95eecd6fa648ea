-- Seed-shaped action events over 5,000 customers, each with a fresh eventId.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("TALLY_BENCH_KEY") or "bench-key")
-- wrk's Lua does not seed its generator: without this, every run (and the warm-up) would send the same
-- eventIds again, and the server would answer replays instead of storing new events.
local urandom = io.open("/dev/urandom", "rb")
local bytes = urandom:read(4)
urandom:close()
math.randomseed(bytes:byte(1) * 16777216 + bytes:byte(2) * 65536 + bytes:byte(3) * 256 + bytes:byte(4))
local counter = 0
local thread_id = math.random(0, 0xffff)
local namespaces = { "Customer.Registration", "Page.View", "Survey.Completed", "Game.Completed", "Cart.Add" }
request = function()
  counter = counter + 1
  local customer = string.format("3fa85f64-5717-4562-b3fc-%012x", counter % 5000)
  local id = string.format("%08x-%04x-4000-8000-%012x", math.random(0, 0x7fffffff), thread_id, counter)
  local body = '{"action":{"amount":' .. (counter % 97) .. '.5,"count":1},"eventId":"' .. id ..
    '","customerId":"' .. customer .. '","nameSpace":"' .. namespaces[counter % 5 + 1] ..
    '","reference":"r' .. counter .. '","campaign":"spring","attributes":[{"key":"channel","value":"web"}]}'
  return wrk.format(nil, nil, nil, body)
end
