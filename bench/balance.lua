-- GET /api/v1/customers/{id}/balance over the customers bench/Tally.Load writes orders for (TALLY_LOAD_CUSTOMERS of them).
local customers = tonumber(os.getenv("TALLY_LOAD_CUSTOMERS") or "5000")
wrk.headers["Authorization"] = "Bearer bench-key"
request = function()
  local path = string.format("/api/v1/customers/3fa85f64-5717-4562-b3fc-%012x/balance", math.random(0, customers - 1))
  return wrk.format("GET", path)
end
