-- Basket assessments: 50 lines each over 1,000 SKUs, 5,000 customers, fresh eventIds.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("TALLY_BENCH_KEY") or "bench-key")
local urandom = io.open("/dev/urandom", "rb")
local bytes = urandom:read(4)
urandom:close()
math.randomseed(bytes:byte(1) * 16777216 + bytes:byte(2) * 65536 + bytes:byte(3) * 256 + bytes:byte(4))
local counter = 0
request = function()
  counter = counter + 1
  local lines = {}
  local total = 0
  for i = 1, 50 do
    local price = math.random(1, 40)
    local qty = math.random(1, 3)
    total = total + price * qty
    lines[i] = '{"sku":"SKU-' .. math.random(0, 999) .. '","quantity":' .. qty .. ',"itemPrice":' .. price ..
      ',"totalPrice":' .. (price * qty) .. ',"vendor":"V' .. (i % 7) .. '","tags":["t' .. (i % 11) .. '"]}'
  end
  local customer = string.format("3fa85f64-5717-4562-b3fc-%012x", counter % 5000)
  local id = string.format("%08x-%04x-4000-8000-%012x", math.random(0, 0x7fffffff), math.random(0, 0xffff), counter)
  local body = '{"eventId":"' .. id .. '","customerId":"' .. customer .. '","basket":{"basketId":"b' .. counter ..
    '","currencyCode":"EUR","basketTotal":' .. total .. ',"taxTotal":0,"shippingTotal":5,"basketItems":[' .. table.concat(lines, ",") .. ']}}'
  return wrk.format(nil, nil, nil, body)
end
