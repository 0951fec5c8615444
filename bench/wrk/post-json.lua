-- wrk script of bench/compare.sh: every request creates one quick-start
-- widget, {"name":"w<n>","color":"red"}, with a name of its own.
-- AUTH is the whole Authorization header: "Bearer <token>" for appkernel,
-- the bare token for PocketBase.
local authorization = os.getenv("AUTH")
local n = 0

request = function()
  n = n + 1
  local headers = { ["Content-Type"] = "application/json" }
  if authorization then
    headers["Authorization"] = authorization
  end
  return wrk.format("POST", nil, headers, string.format('{"name":"w%d","color":"red"}', n))
end
