-- Requests the services could not decode, refused at the gateway with 400 (Envoy's local
-- reply, which local_reply_config turns into JSON): percent escapes in the path or query
-- that do not decode to UTF-8 (a proto string must be UTF-8, and the service's parser
-- would fail the call), and JSON nested deeper than protobuf's parser accepts (it stops
-- at 100 levels of messages; a google.protobuf.Struct costs two per JSON level).
-- Rendered into the gateway's config by gateway/render.py.

local MAX_DEPTH = tonumber("${max_json_depth}")

-- Whether `s` is well-formed UTF-8: no overlong forms, surrogates or code points past
-- U+10FFFF (the same rule protobuf applies to string fields).
local function utf8_ok(s)
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    local extra
    if c < 0x80 then extra = 0
    elseif c >= 0xC2 and c <= 0xDF then extra = 1
    elseif c >= 0xE0 and c <= 0xEF then extra = 2
    elseif c >= 0xF0 and c <= 0xF4 then extra = 3
    else return false end
    local low, high = 0x80, 0xBF
    if c == 0xE0 then low = 0xA0 elseif c == 0xED then high = 0x9F
    elseif c == 0xF0 then low = 0x90 elseif c == 0xF4 then high = 0x8F end
    for k = 1, extra do
      local b = s:byte(i + k)
      if b == nil or b < low or b > high then return false end
      low, high = 0x80, 0xBF
    end
    i = i + extra + 1
  end
  return true
end

local function unescape(s)
  return (s:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

-- Whether no array or object in the JSON text nests deeper than MAX_DEPTH (strings are
-- skipped; the text need not be valid JSON, the transcoder judges that).
local function depth_ok(body)
  local depth, i, in_string = 0, 1, false
  while true do
    local j = body:find(in_string and '["\\]' or '[%[{%]}"]', i)
    if j == nil then return true end
    local c = body:sub(j, j)
    if in_string then
      if c == "\\" then i = j + 2 else in_string = false; i = j + 1 end
    else
      if c == '"' then
        in_string = true
      elseif c == "[" or c == "{" then
        depth = depth + 1
        if depth > MAX_DEPTH then return false end
      else
        depth = depth - 1
      end
      i = j + 1
    end
  end
end

-- The verified token's roles claim (a list, or one space- or comma-separated string) as
-- x-user-roles, the comma-separated names services.common.caller reads. Names of other
-- characters than these are dropped, so none can smuggle a separator or a header.
local function set_roles(handle, headers)
  local verified = handle:streamInfo():dynamicMetadata():get("envoy.filters.http.jwt_authn")
  local payload = verified and verified["jwt_payload"]
  local claim = payload and payload["roles"]
  if claim == nil then return end
  if type(claim) == "string" then
    local split = {}
    for role in claim:gmatch("[^%s,]+") do split[#split + 1] = role end
    claim = split
  end
  if type(claim) ~= "table" then return end
  local roles = {}
  for _, role in ipairs(claim) do
    if type(role) == "string" and #role <= 64 and role:match("^[%w_.:-]+$") then
      roles[#roles + 1] = role
    end
    if #roles == 32 then break end
  end
  if #roles > 0 then headers:replace("x-user-roles", table.concat(roles, ",")) end
end

function envoy_on_request(handle)
  local headers = handle:headers()
  set_roles(handle, headers)
  -- The CORS filter has answered the preflights it allows; no API takes OPTIONS.
  if headers:get(":method") == "OPTIONS" then
    handle:respond({[":status"] = "405"}, "OPTIONS: no API method takes it")
    return
  end
  local path = headers:get(":path") or ""
  -- Only an escape of a byte past ASCII can break UTF-8.
  if path:find("%%[89a-fA-F]%x") and not utf8_ok(unescape(path)) then
    handle:respond({[":status"] = "400"}, "path or query: percent escapes that are not UTF-8")
    return
  end
  -- Native gRPC bodies are protobuf. Any other body the transcoder reads as JSON,
  -- whatever its content-type says (text/plain, or none), so each one is checked: a
  -- body sent as text/plain went past this check, and a Struct nested 60 deep reached a
  -- service's decoder, past protobuf's depth limit.
  local content_type = headers:get("content-type") or ""
  if content_type:find("^application/grpc") then
    return
  end
  local body = handle:body()
  if body ~= nil and body:length() > 0 and not depth_ok(body:getBytes(0, body:length())) then
    handle:respond({[":status"] = "400"}, "body: JSON nested deeper than "
      .. MAX_DEPTH .. " levels")
  end
end
