-- Runs one case and describes its results as one line of text. The same
-- chunk runs in real Redis (EVAL) to record the expected line and in magpie's
-- tests to compare. The word in capitals at the end is replaced by the case's
-- function.
-- Each case starts from cjson's default settings (they persist in the VM).
cjson.encode_sparse_array(false, 2, 10) cjson.encode_max_depth(1000)
cjson.decode_max_depth(1000) cjson.encode_number_precision(14)
cjson.encode_keep_buffer(true) cjson.encode_invalid_numbers(false)
cjson.decode_invalid_numbers(true)
local function pk(...) return {n = select('#', ...), ...} end
local function hex(s)
  return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end))
end
local function str(s)
  if s:find('^[%w%p ]*$') and not s:find('[|"]') then return '"' .. s .. '"' end
  return 'x' .. hex(s)
end
local ser
ser = function(v, d)
  local t = type(v)
  if t == 'string' then return str(v)
  elseif t == 'number' then return string.format('%.17g', v)
  elseif t == 'boolean' then return tostring(v)
  elseif t == 'nil' then return 'nil'
  elseif t == 'userdata' then
    if v == cjson.null then return 'null' end
    return 'userdata'
  elseif t == 'table' then
    if d > 8 then return '{...}' end
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = ser(k, d + 1) .. '=' .. ser(x, d + 1) end
    table.sort(parts)
    local mt = getmetatable(v) and 'mt' or ''
    return '{' .. table.concat(parts, ',') .. '}' .. mt
  end
  return t
end
local function show(ok, ...)
  if not ok then
    local e = ...
    if type(e) ~= 'string' then return 'E(' .. type(e) .. ')' end
    return 'E:' .. str(e)
  end
  local n = select('#', ...)
  local out = {}
  for i = 1, n do out[i] = ser((select(i, ...)), 0) end
  return n .. '|' .. table.concat(out, ' ')
end
return show(pcall(CASE))
