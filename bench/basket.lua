-- Basket assessments: 50 lines each over 1,000 SKUs, 5,000 customers, fresh eventIds.
-- The baskets themselves (1,000 distinct ones) are built once at start-up: building a 5 KB body in Lua per request cost
-- wrk about a third of a core, taken from the server under test on this 2-core machine. Each request stamps a fresh
-- eventId and the next customer into one of them.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("TALLY_BENCH_KEY") or "bench-key")
local urandom = io.open("/dev/urandom", "rb")
local bytes = urandom:read(4)
urandom:close()
math.randomseed(bytes:byte(1) * 16777216 + bytes:byte(2) * 65536 + bytes:byte(3) * 256 + bytes:byte(4))

local baskets = {}
for b = 1, 1000 do
  local lines = {}
  local total = 0
  for i = 1, 50 do
    local price = math.random(1, 40)
    local qty = math.random(1, 3)
    total = total + price * qty
    lines[i] = '{"sku":"SKU-' .. math.random(0, 999) .. '","quantity":' .. qty .. ',"itemPrice":' .. price ..
      ',"totalPrice":' .. (price * qty) .. ',"vendor":"V' .. (i % 7) .. '","tags":["t' .. (i % 11) .. '"]}'
  end
  baskets[b] = '","basket":{"basketId":"b' .. b .. '","currencyCode":"EUR","basketTotal":' .. total ..
    ',"taxTotal":0,"shippingTotal":5,"basketItems":[' .. table.concat(lines, ",") .. ']}}'
end

local counter = 0
local thread_id = math.random(0, 0xffff)
request = function()
  counter = counter + 1
  local customer = string.format("3fa85f64-5717-4562-b3fc-%012x", counter % 5000)
  local id = string.format("%08x-%04x-4000-8000-%012x", math.random(0, 0x7fffffff), thread_id, counter)
  local body = '{"eventId":"' .. id .. '","customerId":"' .. customer .. baskets[counter % 1000 + 1]
  return wrk.format(nil, nil, nil, body)
end
