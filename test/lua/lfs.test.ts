import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IO_FIXTURES as FIXTURES, execLua, newIoState, PRINT, viaC, viaFengari } from '../helpers/lua-io';

const PRELUDE = `require 'lfs'
${PRINT}function dump(t)
  if type(t) ~= 'table' then return tostring(t) end
  local ks = {}
  for k, v in pairs(t) do ks[#ks + 1] = k .. '=' .. tostring(v) end
  table.sort(ks)
  return table.concat(ks, ' ')
end
`;

/** Each run gets a fresh copy of the tree, so neither sees the other's side effects (touch, mkdir, atime). */
function sameAsC(code: string, makeTree: (dir: string) => void): string {
  const [a, b] = [mkTree(makeTree), mkTree(makeTree)];
  try {
    const expected = viaC(PRELUDE + code, a);
    if (process.env.SHOW_ORACLE) console.log(expected);
    assert.equal(viaFengari(PRELUDE + code, b).split(b).join('<dir>'), expected.split(a).join('<dir>'));
    return expected;
  } finally {
    fs.rmSync(a, { recursive: true, force: true });
    fs.rmSync(b, { recursive: true, force: true });
  }
}

function mkTree(makeTree: (dir: string) => void): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-lfs-'));
  makeTree(dir);
  return dir;
}

/** A file, a subdirectory, links (good, dangling, to a directory) and a named pipe. */
function tree(dir: string): void {
  fs.writeFileSync(path.join(dir, 'file.txt'), 'hello\n');
  fs.mkdirSync(path.join(dir, 'd'));
  fs.writeFileSync(path.join(dir, 'd', 'inner.txt'), 'inner\n');
  fs.symlinkSync('file.txt', path.join(dir, 'link'));
  fs.symlinkSync('nowhere', path.join(dir, 'dangling'));
  fs.symlinkSync('d', path.join(dir, 'dlink'));
  spawnSync('mkfifo', [path.join(dir, 'fifo')]);
}

/** Fields that differ between two copies of a tree by construction (inode, times); dev/uid/gid/mode/size/... stay. */
const SAME_TREE_ONLY = `
function dump2(t)
  if type(t) ~= 'table' then return tostring(t) end
  t.ino, t.access, t.modification, t.change = nil, nil, nil, nil
  return dump(t)
end
`;

describe('lfs (against C LuaFileSystem 1.8.0 under Lua 5.1)', () => {
  it('gives the same attributes for a committed fixture file and directory, every field', () => {
    const code = `
      for _, p in ipairs{ 'sample.txt', 'sub', '.', 'sub/local.txt' } do print(p, dump(lfs.attributes(p))) end`;
    assert.equal(viaFengari(PRELUDE + code, FIXTURES), viaC(PRELUDE + code, FIXTURES));
  });

  it('describes files, links, dangling links, directories, pipes and devices like lfs', () => {
    sameAsC(
      SAME_TREE_ONLY +
        `for _, p in ipairs{ 'file.txt', 'link', 'dangling', 'd', 'dlink', 'fifo', '/dev/null', '.', 'missing', '' } do
          print(p, dump2(lfs.attributes(p)), select(2, lfs.attributes(p)))
          print(p, dump2(lfs.symlinkattributes(p)), select(2, lfs.symlinkattributes(p)))
          print(lfs.attributes(p, 'mode'), lfs.symlinkattributes(p, 'target'))
        end`,
      tree,
    );
  });

  it('answers a single attribute, fills a given table, and rejects unknown names', () => {
    sameAsC(
      `print(lfs.attributes('file.txt', 'size'), lfs.attributes('file.txt', 'permissions'), lfs.attributes('d', 'nlink'))
       local t = { keep = 1 }
       print(lfs.attributes('file.txt', t) == t, t.size, t.keep)
       print(pcall(function() local r = lfs.attributes('file.txt', 'bogus') return r end))
       print(pcall(function() local r = lfs.attributes('file.txt', 7) return r end))
       print(pcall(function() local r = lfs.attributes() return r end))`,
      tree,
    );
  });

  it('lists a directory with . and .., ends and closes the iterator like lfs', () => {
    sameAsC(
      `local t = {} for n in lfs.dir('.') do t[#t + 1] = n end table.sort(t) print(table.concat(t, ' '))
       print(select('#', lfs.dir('.')))
       local it, d = lfs.dir('d')
       local seen = {} for i = 1, 3 do seen[#seen + 1] = tostring(it(d)) end table.sort(seen) print(table.concat(seen, ' '))
       print(it(d), pcall(it, d))
       it, d = lfs.dir('d') print(type(d:next())) d:close() print(pcall(d.next, d)) print(d:close())
       print(pcall(lfs.dir, 'missing'))
       print(pcall(lfs.dir, 'file.txt'))`,
      tree,
    );
  });

  it('creates and removes directories, touches and links files with lfs results', () => {
    sameAsC(
      `print(lfs.mkdir('d'), lfs.mkdir('new'), lfs.attributes('new', 'permissions'))
       print(lfs.mkdir('missing/sub'))
       print(lfs.rmdir('new'), lfs.rmdir('new'), lfs.rmdir('d'), lfs.rmdir('.'), lfs.rmdir('file.txt'))
       print(lfs.touch('file.txt', 1000, 2000), lfs.attributes('file.txt', 'access'), lfs.attributes('file.txt', 'modification'))
       print(lfs.touch('file.txt', 5000), lfs.attributes('file.txt', 'access'), lfs.attributes('file.txt', 'modification'))
       print(lfs.touch('file.txt', nil), lfs.attributes('file.txt', 'modification'))
       print(lfs.touch('missing'))
       print(lfs.touch('file.txt'), os.time() - lfs.attributes('file.txt', 'modification') < 5)
       print(lfs.link('file.txt', 'hard'), lfs.attributes('hard', 'nlink'), lfs.attributes('file.txt', 'nlink'))
       print(lfs.link('file.txt', 'soft', true), lfs.symlinkattributes('soft', 'target'), lfs.attributes('soft', 'size'))
       print(lfs.link('missing', 'hard2'), lfs.link('file.txt', 'hard'), lfs.link('x', 'soft', true))`,
      tree,
    );
  });

  it('changes the state directory like chdir(2): errors, relative paths, physical path through links', () => {
    sameAsC(
      `print(lfs.chdir('file.txt'))
       print(lfs.chdir('missing'))
       print(lfs.chdir('d'), lfs.currentdir(), io.open('inner.txt'):read('*l'), lfs.attributes('inner.txt', 'size'))
       print(lfs.chdir('..'), lfs.currentdir())
       print(lfs.chdir('dlink'), lfs.currentdir())
       print(lfs.chdir('../d/../d'), lfs.currentdir())`,
      tree,
    );
  });

  it('locks, unlocks and sets the mode of files as lfs reports it', () => {
    sameAsC(
      `local f = io.open('file.txt')
       print(lfs.lock(f, 'r'), lfs.lock(f, 'w'))
       print(lfs.unlock(f), lfs.lock(f, 'r', 0, 2), lfs.unlock(f, 0, 2))
       print(pcall(lfs.lock, f, 'x'))
       print(lfs.setmode(f, 'binary')) print(lfs.setmode(f, 'text'))
       print(pcall(function() local r = lfs.setmode(f, 'bogus') return r end))
       local w = io.open('file.txt', 'a') print(lfs.lock(w, 'w')) print(lfs.lock(w, 'r')) w:close()
       print(pcall(lfs.lock, w, 'r'))
       print(pcall(lfs.unlock, w))
       print(pcall(lfs.setmode, w, 'binary'))`,
      tree,
    );
  });

  it('locks a directory with lockfile.lfs and frees it', () => {
    sameAsC(
      `local l = lfs.lock_dir('d')
       print(type(l), lfs.symlinkattributes('d/lockfile.lfs', 'target'))
       print(lfs.lock_dir('d'))
       l:free() l:free()
       print(lfs.attributes('d/lockfile.lfs', 'mode'))
       print(lfs.lock_dir('missing'))`,
      tree,
    );
  });

  it('is required as lfs 1.8.0: same fields, global lfs set', () => {
    const out = sameAsC(
      `print(lfs._VERSION, lfs._DESCRIPTION, lfs._COPYRIGHT)
       local ks = {} for k in pairs(lfs) do ks[#ks + 1] = k end table.sort(ks) print(table.concat(ks, ' '))
       print(rawget(_G, 'lfs') == lfs, package.loaded.lfs == lfs, require('lfs') == lfs)`,
      () => undefined,
    );
    assert.match(out, /^LuaFileSystem 1\.8\.0\t/);
  });

  it('keeps the directory metatable when required again in one state, as luaL_newmetatable does', () => {
    sameAsC(
      `local _, d1 = lfs.dir('.')
       local mt = getmetatable(d1)
       package.loaded.lfs = nil
       local lfs2 = require 'lfs'
       local _, d2 = lfs2.dir('.')
       print(getmetatable(d2) == mt, rawget(_G, 'lfs') == lfs2, lfs2._VERSION, d2:next(), d1:next())`,
      () => undefined,
    );
  });
});

describe('lfs working directory (sidecar rule: per state, never the process)', () => {
  it('keeps interleaved states in their own directories and leaves process.cwd alone', () => {
    const before = process.cwd();
    const a = newIoState(FIXTURES);
    const b = newIoState(FIXTURES);
    execLua(a, PRELUDE);
    execLua(b, PRELUDE);
    execLua(a, `require 'lfs' print(lfs.chdir('sub'))`);
    execLua(b, `require 'lfs' print(lfs.currentdir() == '${FIXTURES}', lfs.attributes('local.txt', 'size'))`);
    execLua(a, `print(lfs.currentdir() == '${path.join(FIXTURES, 'sub')}', lfs.attributes('local.txt', 'size'))`);
    execLua(b, `print(lfs.chdir('/'), lfs.currentdir(), lfs.attributes('local.txt'))`);
    execLua(a, `print(lfs.currentdir() == '${path.join(FIXTURES, 'sub')}')`);
    assert.equal(a.out, 'true\ntrue\t19\ntrue\n');
    assert.equal(b.out, `true\t26\ntrue\t/\tnil\tcannot obtain information from file 'local.txt': No such file or directory\t2\n`);
    assert.equal(process.cwd(), before);
    assert.equal(a.ctx.cwd, path.join(FIXTURES, 'sub'));
  });
});
