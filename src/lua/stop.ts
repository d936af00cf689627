/**
 * The stop sentinel: how os.exit and the CPU limit end a request. A light
 * userdata holding a `SandboxStop` that the sandbox's pcall/xpcall/
 * coroutine.resume re-raise, so a script cannot catch its own termination;
 * the runner recognises it with `sandboxStop(L, idx)`.
 */

import { lua, type LuaState } from './fengari';

export class SandboxStop {
  constructor(
    readonly kind: 'exit' | 'cpu',
    /** os.exit's status (0 for `os.exit()` / `os.exit(true)`); 0 for cpu. */
    readonly code: number,
  ) {}
}

/** The stop sentinel at `idx` (e.g. the error value lua_pcall left), or null. */
export function sandboxStop(L: LuaState, idx: number): SandboxStop | null {
  if (lua.lua_type(L, idx) !== lua.LUA_TLIGHTUSERDATA) return null;
  const v: unknown = lua.lua_touserdata(L, idx);
  return v instanceof SandboxStop ? v : null;
}

/** Same test on a value already taken off the stack (e.g. a JS exception's payload). */
export function isExitSentinel(v: unknown): v is SandboxStop {
  return v instanceof SandboxStop;
}

export function raiseStop(L: LuaState, stop: SandboxStop): never {
  lua.lua_pushlightuserdata(L, stop);
  lua.lua_error(L);
  throw new Error('lua_error returned');
}
