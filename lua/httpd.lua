-- The `httpd` module of mod_lwt (mod_lwt.md §5), written for the sidecar.
-- The request-bound primitives live in `httpd.core` (TypeScript); this file
-- copies them and adds the functions mod_lwt wrote in Lua.

local core = require "httpd.core"

local type, tostring, tonumber, select, error = type, tostring, tonumber, select, error
local string, table, os = string, table, os
local gpairs, unpack = pairs, table.unpack or unpack

-- mod_lwt on Lua 5.1 reused the global `httpd` that registering httpd.core
-- created, so `httpd.core` is a field and scripts may use the global.
local M = type(_G.httpd) == "table" and _G.httpd or {}
_G.httpd = M
M.core = core

for _, name in ipairs { "pairs", "set_abort", "set_status", "set_content_type",
    "add_header", "escape_uri", "escape_xml", "escape_js", "defer", "input",
    "output", "debug", "notice", "err", "stat" } do
  M[name] = core[name]
end

M.gpairs = gpairs

function M.read(...)
  return M.input:read(...)
end

function M.write(...)
  return M.output:write(...)
end

-- mod_lwt.md §5.2: no file (or false) renders to httpd.output, `true` returns
-- the output as a string (the core returns it when its file is nil).
function M.write_template(filename, flags, file)
  return core.write_template(filename, flags, not file and M.output or file ~= true and file or nil)
end

-- RFC 1123 in UTC with English names (os.date's names are the C locale's).
function M.date(t)
  if t == nil then return nil end
  return os.date("!%a, %d %b %Y %H:%M:%S GMT", t)
end

local MONTHS = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6,
  jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12 }

local function to_time(day, mon, year, hour, min, sec)
  local month = MONTHS[string.lower(mon)]
  if not month then return nil end
  year = tonumber(year)
  if year < 100 then
    year = year >= 70 and 1900 + year or 2000 + year
  end
  return core.time { year = year, month = month, day = tonumber(day),
    hour = tonumber(hour), min = tonumber(min), sec = tonumber(sec) }
end

-- The three HTTP date forms of RFC 2616 §3.3.1, tried in order.
function M.time(s)
  if s == nil then return nil end
  local d, mo, y, h, mi, se = string.match(s,
    "^%s*%a+, (%d%d) (%a+) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT%s*$")
  if d then return to_time(d, mo, y, h, mi, se) end
  d, mo, y, h, mi, se = string.match(s,
    "^%s*%a+, (%d%d)%-(%a+)%-(%d%d) (%d%d):(%d%d):(%d%d) GMT%s*$")
  if d then return to_time(d, mo, y, h, mi, se) end
  mo, d, h, mi, se, y = string.match(s,
    "^%s*%a+ (%a+) +(%d%d?) (%d%d):(%d%d):(%d%d) (%d%d%d%d)%s*$")
  if mo then return to_time(d, mo, y, h, mi, se) end
  return nil
end

-- RFC 6265: a cookie name is an HTTP token, a value is cookie-octets.
local TOKEN = "[^%c\127-\255%(%)<>@,;:\\\"/%[%]%?={} \t]"
-- (`]` is written %] so it does not close the set.)
local OCTET = "[\33\35-\43\45-\58\60-\91%]\94-\126]"

function M.add_cookie(name, value, expires, path, domain, secure, httponly)
  if type(name) ~= "string" or name == "" or not string.match(name, "^" .. TOKEN .. "+$") then
    error("bad name")
  end
  if value ~= nil and (type(value) ~= "string" or not string.match(value, "^" .. OCTET .. "+$")) then
    error("bad value")
  end
  local parts = { name .. "=" .. (value or "") }
  if type(expires) == "number" and expires >= 0 then
    parts[#parts + 1] = "; Expires=" .. M.date(expires)
  end
  if path ~= nil then parts[#parts + 1] = "; Path=" .. path end
  if domain ~= nil then parts[#parts + 1] = "; Domain=" .. domain end
  if secure then parts[#parts + 1] = "; Secure" end
  if httponly then parts[#parts + 1] = "; HttpOnly" end
  core.add_header("Set-Cookie", table.concat(parts), true)
end

function M.cookie(request, name)
  for k, v in core.pairs(request.headers_in) do
    if string.lower(k) == "cookie" then
      for n, q, val in string.gmatch(v, "(" .. TOKEN .. "+)=(\"?)(" .. OCTET .. "+)%2") do
        if n == name then return val end
      end
    end
  end
  return nil
end

function M.redirect(request, uri, status)
  local host = request.headers_in["Host"] or request.hostname
  request.err_headers_out["Location"] = "http://" .. host .. uri
  return status
end

local function is_apr_table(v)
  return type(v) == "userdata" and string.sub(tostring(v), 1, 10) == "APR table "
end

local function dump(v, seen)
  local out = M.output
  if type(v) == "table" or is_apr_table(v) then
    if seen[v] then
      out:write("(recursion)")
      return
    end
    seen[v] = true
    out:write("<table><tablebody>\r\n")
    local iter = is_apr_table(v) and core.pairs or gpairs
    for k, val in iter(v) do
      out:write("<tr><td>", core.escape_xml(k), "</td><td>")
      dump(val, seen)
      out:write("<td></tr>\r\n")
    end
    out:write("</tablebody></table>\r\n")
  elseif type(v) == "string" then
    out:write("\"", core.escape_xml(v), "\"")
  else
    out:write(core.escape_xml(tostring(v)))
  end
end

function M.dump(v)
  dump(v, {})
end

-- The first pattern whose first capture is non-nil wins; position captures
-- become nil so that `()` can hold a place (mod_lwt.md §5.2).
function M.match(s, ...)
  s = s or ""
  local n = select("#", ...)
  if n == 0 then
    local missing
    return missing.pattern
  end
  for i = 1, n do
    local caps = { string.match(s, (select(i, ...))) }
    if caps[1] ~= nil then
      local count = #caps
      for j = 1, count do
        if type(caps[j]) == "number" then caps[j] = nil end
      end
      return unpack(caps, 1, count)
    end
  end
  return nil
end

package.loaded.httpd = M
return M
