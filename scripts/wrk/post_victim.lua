-- POST new victims with unique names (no date of birth, so no duplicate check applies).
local token = os.getenv("TOKEN")
local counter = 0
local thread_id = 0
local threads = {}
setup = function(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end
request = function()
  counter = counter + 1
  local body = string.format('{"given_name":"Bench","family_name":"Load%d x%d","contact":{"phone":"07700 900123"},"language":"en"}', counter, thread_id)
  return wrk.format("POST", "/api/v1/victims", {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
