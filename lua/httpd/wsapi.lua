-- The `httpd.wsapi` connector of mod_lwt (mod_lwt.md §6), written for the
-- sidecar against WSAPI 1.6.1: it hands the request to wsapi.common.run and
-- turns the CGI-style output WSAPI writes back into status, type and headers.
-- WSAPI is Debian's, found on the Lua 5.1 path (/usr/share/lua/5.1/wsapi;
-- /usr/share/lua/5.2/wsapi holds symlinks to the same files). Under fengari
-- _VERSION is "Lua 5.3", so wsapi.common skips coxpcall and uses the native
-- pcall/xpcall, which yield across coroutines as coxpcall emulated on 5.1.

-- wsapi.common tries `require "wsapi.ringer"` in a pcall; ringer needs the C
-- module `rings`. Answering from preload skips a path search on every request.
if package.preload["wsapi.ringer"] == nil then
  package.preload["wsapi.ringer"] = function ()
    error("module 'wsapi.ringer' needs the C module 'rings', which cannot load in the sidecar", 0)
  end
end

local httpd = require "httpd"
local common = require "wsapi.common"

local type, tostring, tonumber, select, error, loadfile = type, tostring, tonumber, select, error, loadfile
local string, table, package = string, table, package

-- mod_lwt's connector used the globals `wsapi.common` and `wsapi.app_path`,
-- which only WSAPI <= 1.5 created. Keep them, on WSAPI's own shared module.
local wsapi = require "wsapi"
wsapi.common = common
_G.wsapi = wsapi

-- WSAPI's require_file calls loadfile(file)(modname), so a syntax error
-- surfaces as "attempt to call a nil value". Same steps, real message.
common.require_file = function (filename, modname)
  package.loaded[modname] = true
  local chunk, msg = loadfile(filename)
  if not chunk then error(msg, 0) end
  local res = chunk(modname)
  if res then package.loaded[modname] = res end
  return package.loaded[modname]
end

local M = {}

local function concat(...)
  local n = select("#", ...)
  if n == 1 then return tostring((...)) end
  local parts = {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  return table.concat(parts)
end

local function on_header(name, value)
  local lname = string.lower(name)
  if lname == "status" then
    httpd.set_status(tonumber(string.match(value, "^%d+")))
  elseif lname == "content-type" then
    httpd.set_content_type(value)
  else
    httpd.add_header(name, value)
  end
end

-- mod_lwt.md §6.4: header lines are removed wherever they match (unanchored);
-- a leftover that starts with CRLF ends the block, anything else waits.
local function output_pipe()
  local in_headers, rest = true, ""
  local pipe = {}
  function pipe:write(...)
    if not in_headers then
      return httpd.write(...)
    end
    local text = string.gsub(rest .. concat(...), "([%w%-]+):%s+([^\r\n]*)\r\n", function (name, value)
      on_header(name, value)
      return ""
    end)
    if string.sub(text, 1, 2) == "\r\n" then
      in_headers, rest = false, ""
      local body = string.sub(text, 3)
      if body ~= "" then httpd.write(body) end
    else
      rest = text
    end
  end
  return pipe
end

local error_pipe = {}
function error_pipe:write(...)
  httpd.err(concat(...))
end

-- mod_lwt passed wsapi_env.request.filename, which WSAPI's env resolves to
-- nil, so WSAPI finds the script from SCRIPT_FILENAME; pass nil directly.
local function loader(wsapi_env)
  local path, file, modname = common.find_module(wsapi_env, nil, "lwt.wsapi")
  if not path then
    error({ 404, "Resource '" .. wsapi_env.SCRIPT_NAME .. "' not found" })
  end
  wsapi.app_path = path
  -- The extension is forced to "lua": the script loads as a module named
  -- after its base name, which is why `module(...)` works in it.
  local app = common.load_wsapi(path, file, modname, "lua")
  wsapi_env.APP_PATH = path
  return app(wsapi_env)
end

function M.run(request)
  local env = request.env
  common.run(loader, {
    input = httpd.input,
    output = output_pipe(),
    error = error_pipe,
    env = function (k) return env[k] end,
    request = request,
  })
end

package.loaded["httpd.wsapi"] = M
httpd.wsapi = M
return M
