-- GET a random hub reference from refs.txt with the bearer token in TOKEN.
local refs = {}
for line in io.lines(os.getenv("REFS_FILE")) do refs[#refs + 1] = line end
local token = os.getenv("TOKEN")
math.randomseed(os.time())
request = function()
  local ref = refs[math.random(#refs)]
  return wrk.format("GET", "/api/v1/victims/" .. ref, {["Authorization"] = "Bearer " .. token})
end
