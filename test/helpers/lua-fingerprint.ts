/**
 * A Lua state's contents as text, for comparing two states: what a copied
 * state must equal.
 */

import * as assert from 'node:assert/strict';
import { lua, lauxlib, toLuaString, toJsString } from '../../src/lua/fengari';

/**
 * Everything reachable from the registry and the string metatable, walked in
 * `next` order: keys, value types, primitive values, what kind of function
 * with how many upvalues of which type, which table is which. No addresses.
 */
export const FINGERPRINT = `
local out, seen, names = {}, {}, {}
local getupvalue, getinfo = debug.getupvalue, debug.getinfo
local function desc(v)
  local t = type(v)
  if t == 'function' then
    local ups = {}
    for n = 1, 255 do
      local nm, uv = getupvalue(v, n)
      if nm == nil then break end
      ups[#ups + 1] = type(uv) .. (names[uv] and ('=' .. names[uv]) or '')
    end
    return 'function ' .. getinfo(v, 'S').what .. ' [' .. table.concat(ups, ',') .. ']'
  elseif t == 'table' then return 'table' .. (names[v] and ('=' .. names[v]) or '')
  elseif t == 'string' or t == 'number' or t == 'boolean' then return t .. ':' .. tostring(v)
  else return t end
end
local queue, qi = {{debug.getregistry(), 'REG'}, {getmetatable(''), 'STRMETA'}}, 1
while queue[qi] do
  local t, name = queue[qi][1], queue[qi][2]
  qi = qi + 1
  if not seen[t] then
    seen[t] = true
    names[t] = names[t] or name
    local mt = getmetatable(t)
    if mt and not names[mt] then names[mt] = name .. '<meta>'; queue[#queue + 1] = {mt, names[mt]} end
    out[#out + 1] = '== ' .. name .. (mt and (' meta=' .. names[mt]) or '')
    for k, v in next, t do
      local ks = type(k) == 'string' and k or ('<' .. type(k) .. ':' .. (type(k) == 'number' and tostring(k) or '') .. '>')
      if type(v) == 'table' and not names[v] then names[v] = name .. '.' .. ks; queue[#queue + 1] = {v, names[v]} end
      if type(v) == 'function' then
        for n = 1, 255 do
          local nm, uv = getupvalue(v, n)
          if nm == nil then break end
          if type(uv) == 'table' and not names[uv] then names[uv] = name .. '.' .. ks .. '^' .. n; queue[#queue + 1] = {uv, names[uv]} end
        end
      end
      out[#out + 1] = '  ' .. ks .. ' = ' .. desc(v)
    end
  end
end
return table.concat(out, '\\n')
`;

/** Run `code` in L and return its result as a string; fails the test on a Lua error. */
export function evalIn(L: unknown, code: string): string {
  assert.equal(lauxlib.luaL_loadstring(L, toLuaString(code)), lua.LUA_OK);
  const status = lua.lua_pcall(L, 0, 1, 0);
  const s = toJsString(lauxlib.luaL_tolstring(L, -1));
  lua.lua_pop(L, 2);
  assert.equal(status, lua.LUA_OK, s);
  return s;
}

