/**
 * httpd.write_template, mod_lwt's template engine. There is no C oracle for
 * templates here: mod_lwt.md §9 (and the §5.2 table) is the truth, and each
 * test names the rule it checks.
 */

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bytesToBinary } from '../../src/lua/fengari';
import { templateCacheStats } from '../../src/lua/template';
import * as fc from 'fast-check';
import { jobFor, runSidecar } from '../helpers/oracle';
import { runInRequest } from '../helpers/httpd-state';

const FIXTURES = path.resolve(__dirname, '..', '..', '..', 'fixtures', 'lua', 'templates');
interface Outcome {
  ok: boolean;
  /** The chunk's results through tostring, or the error message. */
  values: string[];
  error: string;
  /** What reached httpd.output. */
  out: string;
  /** The error was the sandbox's stop sentinel (os.exit, CPU limit). */
  stop: boolean;
}

/**
 * Run `code` (receiving `request`, `httpd`) in a request state whose working
 * directory is `cwd`. Strings are binary (one char per byte).
 */
function run(cwd: string, code: string, register = true): Outcome {
  const r = runInRequest(code, { cwd, register });
  const values = (r.error === null ? r.values : [r.error]).map(bytesToBinary);
  return { ok: r.ok, values, error: r.ok ? '' : values[0]!, out: r.out, stop: r.stop };
}

let dir = '';
let serial = 0;

/** Write `text` as a new template file in the test directory; returns its (relative) name. */
function file(text: string | Buffer, name = `t${++serial}.html`): string {
  fs.writeFileSync(path.join(dir, name), typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
  return name;
}

/** Lua string literal for a binary string. */
function lit(s: string): string {
  return `"${[...s].map((c) => `\\${c.charCodeAt(0)}`).join('')}"`;
}

/** Render `text` with `flags` (nil = default) into a string, after running `setup`. */
function render(text: string, flags: string | null = null, setup = ''): string {
  const r = run(dir, `${setup}\nreturn httpd.write_template("${file(text)}", ${flags === null ? 'nil' : lit(flags)}, true)`);
  assert.equal(r.ok, true, r.error);
  return r.values[0]!;
}

/** The error message write_template raises for `text`. */
function failure(text: string, flags: string | null = null, setup = ''): string {
  const r = run(dir, `${setup}\nreturn httpd.write_template("${file(text)}", ${flags === null ? 'nil' : lit(flags)}, true)`);
  assert.equal(r.ok, false, `expected an error, got ${JSON.stringify(r.values)}`);
  return r.error;
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lwt-template-'));
  for (const f of fs.readdirSync(FIXTURES)) {
    if (f.endsWith('.html')) fs.copyFileSync(path.join(FIXTURES, f), path.join(dir, f));
  }
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('httpd.write_template', () => {
  describe('§9 syntax: substitutions', () => {
    const setup = 's = "str"; n = 42; f = 1.5; half = 10 / 2; t = { 1, "x" }; b = true; fn = print';
    const cases: Array<[string, string, string]> = [
      ['${expr} prints strings and numbers as they are', '${s} ${n} ${f} ${half}', 'str 42 1.5 5'],
      ['nil prints as (nil)', '[${nothing}]', '[(nil)]'],
      ['other types print as (type)', '${t} ${b} ${fn}', '(table) (boolean) (function)'],
      ['$$ is a literal $', 'a$$b $$${s}', 'a$b $str'],
      ['a $ followed by anything else is literal', '$x $ $', '$x $ $'],
      ['braces nest', '${ ({ k = { 7 } }).k[1] } ${ #{ 1, 2, 3 } }', '7 3'],
      ['braces inside "…" and \'…\' strings are ignored', `\${"}{" .. '}'}`, '}{}'],
      ['an escaped quote does not end the string', '${"a\\"}" .. \'b\\\'}\'}', 'a&quot;}b\'}'],
      ['the four entities are decoded inside ${…}', `$[]{1 &lt; 2 and '&quot;&amp;&gt;' or 'no'} \${"&apos;"}`, '"&> &amp;apos;'],
      ['$[flags]{expr} replaces the current flags', '$[u]{"a b<"} $[]{"<"} ${"<"}', 'a%20b%3C < &lt;'],
      ['an expression is `return <expr>`: multiple values print the first', '${1, 2}', '1'],
    ];
    for (const [name, text, want] of cases) {
      it(name, () => assert.equal(render(text, null, setup), want));
    }

    it('expressions see only globals: locals and module() variables of the caller are invisible', () => {
      assert.equal(render('${hidden} ${shown}', null, 'local hidden = 1; shown = 2'), '(nil) 2');
      const name = file('${inmodule}|${mod.inmodule}');
      const r = run(dir, `
        local function body() module("mod"); inmodule = "m"; return httpd.write_template("${name}", nil, true) end
        return body()`);
      assert.equal(r.ok, true, r.error);
      assert.equal(r.values[0], '(nil)|m');
    });
  });

  describe('§9 flags (default "px"; unknown letters ignored)', () => {
    const v = 'v = "a b<\\"\'&\\n"';
    const cases: Array<[string | null, string]> = [
      [null, 'a b&lt;&quot;\'&amp;\n'],
      ['px', 'a b&lt;&quot;\'&amp;\n'],
      ['p', 'a b<"\'&\n'],
      ['pu', 'a%20b%3C%22%27%26%0A'],
      ['pj', 'a b<\\"\\\'&\\n'],
      // Escaping order: URI first, then XML, then JS.
      ['pxj', 'a b&lt;&quot;\\\'&amp;\\n'],
      ['pjx', 'a b&lt;&quot;\\\'&amp;\\n'],
      ['pux', 'a%20b%3C%22%27%26%0A'],
      ['pzq!', 'a b<"\'&\n'],
    ];
    for (const [flags, want] of cases) {
      it(`${flags === null ? 'nil' : `"${flags}"`} renders ${JSON.stringify(want)}`, () => assert.equal(render('${v}', flags, v), want));
    }

    it('without p the file is copied verbatim, whatever it contains', () => {
      const text = '<l:if cond="x">${v} $$</l:if> <l:nope/> ${\0tail';
      assert.equal(render(text, 'x'), text);
      assert.equal(render(text, ''), text);
    });

    it('n renders nil as empty, and only nil', () => {
      assert.equal(render('[${nothing}][${false}]', 'pn'), '[][(boolean)]');
      assert.equal(render('[$[n]{nothing}][${nothing}]'), '[][(nil)]');
    });

    it('e renders a runtime error in a substitution as empty and goes on', () => {
      assert.equal(render('a${nope.x}b${error("boom")}c', 'pe'), 'abc');
      assert.equal(render('a$[e]{nope.x}b'), 'ab');
    });

    it('e never swallows the end of the request (os.exit in a substitution)', () => {
      const r = run(dir, `httpd.write_template("${file('a$[e]{os.exit(3)}b')}")`);
      assert.deepEqual([r.stop, r.out], [true, 'a']);
    });

    it('e does not cover conditions, loops or sets', () => {
      assert.match(failure('<l:if cond="nope.x">x</l:if>', 'pe'), /^Error rendering template: Lua runtime error: /);
    });

    it('substitution output stops at a NUL byte, before escaping', () => {
      assert.equal(render('[${"a<\\0b"}][$[u]{"x y\\0z"}]'), '[a&lt;][x%20y]');
    });

    it('parsing stops at a NUL byte in the template (a C string)', () => {
      assert.equal(render('a${1}\0b${2}'), 'a1');
    });
  });

  describe('§9 elements', () => {
    it('if / elseif / else follow Lua truthiness', () => {
      const text = '<l:if cond="a == 1">one<l:elseif cond="a == 2"/>two<l:elseif cond="a"/>other<l:else/>none</l:if>';
      const name = file(text);
      const got = [1, 2, 0, 'nil', 'false'].map((a) => {
        const r = run(dir, `a = ${a}; return httpd.write_template("${name}", nil, true)`);
        assert.equal(r.ok, true, r.error);
        return r.values[0];
      });
      assert.deepEqual(got, ['one', 'two', 'other', 'none', 'none']);
    });

    it('if nests, and a self-closing if is empty', () => {
      assert.equal(render('<l:if cond="true">a<l:if cond="false">b<l:else />c</l:if>d</l:if><l:if cond="true"/>e'), 'acde');
    });

    it('for runs a generic for over the iterator triple and assigns the names as globals', () => {
      const r = run(dir, `
        list = { "p", "q" }
        local s = httpd.write_template("${file('<l:for names="i, v" in="ipairs(list)">[${i}=${v}]</l:for>')}", nil, true)
        return s, i, v`);
      assert.equal(r.ok, true, r.error);
      assert.deepEqual(r.values, ['[1=p][2=q]', '2', 'q']);
    });

    it('for loops nest and accept names separated by commas, spaces and tabs', () => {
      assert.equal(render('<l:for names="a\t,b" in="ipairs({ 1, 2 })"><l:for names="_ c" in="ipairs({ \'x\', \'y\' })">${b}${c} </l:for></l:for>'),
        '1x 1y 2x 2y ');
    });

    it('for over an empty iteration renders nothing; a stateful iterator works', () => {
      assert.equal(render('[<l:for names="x" in="pairs({})">${x}</l:for>]'), '[]');
      assert.equal(render('<l:for names="w" in="string.gmatch(\'a b c\', \'%a\')">${w}.</l:for>'), 'a.b.c.');
    });

    it('set is a multiple assignment to globals; missing values are nil', () => {
      const r = run(dir, `
        local s = httpd.write_template("${file('<l:set names="a, b, c" expressions="1, \'two\'"/>${a} ${b} ${c}')}", nil, true)
        return s, a, b, c`);
      assert.equal(r.ok, true, r.error);
      assert.deepEqual(r.values, ['1 two (nil)', '1', 'two', 'nil']);
    });

    it('attribute values are double-quoted only and decode &quot; &lt; &gt; &amp;', () => {
      assert.equal(render('<l:if cond="s == &quot;&lt;&amp;&gt;&quot;">yes</l:if>', null, 's = "<&>"'), 'yes');
      assert.match(failure("<l:if cond='true'>x</l:if>"), /, line 1: '"' expected following 'cond'$/);
    });

    it('include takes a Lua expression for the file name, relative to the state\'s cwd', () => {
      assert.equal(render('<${"x"}><l:include filename="\'outer.html\'"/>', null, 'prefix = ""; v = "<v>"'), '<x>outer(inner &lt;v&gt;)');
    });

    it('include flags default to px and are not inherited', () => {
      assert.equal(render('${v}|<l:include filename="\'inner.html\'"/>', 'p', 'v = "<"'), '<|inner &lt;');
      assert.equal(render('${v}|<l:include filename="\'inner.html\'" flags="pu"/>', null, 'v = "<"'), '&lt;|inner %3C');
      assert.equal(render('<l:include filename="\'inner.html\'" flags=""/>'), 'inner ${v}');
    });

    it('each included file is parsed once per render call (cached by name)', () => {
      const inc = file('first');
      const text = `<l:include filename="'${inc}'"/>\${rewrite()}<l:include filename="'${inc}'" flags=""/>`;
      const setup = `function rewrite() local f = io.open("${inc}", "w"); f:write("second \${1}"); f:close(); return "|" end`;
      assert.equal(render(text, null, setup), 'first|first');
      assert.equal(render(`<l:include filename="'${inc}'"/>`), 'second 1');
    });

    it('nesting is limited to depth 8 (the top template and 7 includes)', () => {
      assert.equal(render('<l:include filename="\'self.html\'"/>', null, 'level = 1; limit = 8'), '[2][3][4][5][6][7][8]');
      assert.equal(failure('<l:include filename="\'self.html\'"/>', null, 'level = 1; limit = 9'),
        'Error rendering template: template depth exceeds 8');
      const r = run(dir, 'level = 0; limit = 100; return httpd.write_template("self.html")');
      assert.equal(r.error, 'Error rendering template: template depth exceeds 8');
      assert.equal(r.out, '[1][2][3][4][5][6][7][8]', 'what was rendered before the error was already written');
    });
  });

  describe('§9 errors', () => {
    it('any text either renders or fails with one of the two messages (fuzz)', () => {
      const piece = fc.constantFrom('$', '{', '}', '[', ']', '<', '>', '<l:', '</l:', '/', '"', "'", '\\', '&quot;', ' ', '\n', '\r',
        'a', '1', 'if', 'for', 'set', 'else', 'cond=', 'names=', 'in=', 'x', '=', 'p', 'nil', '..');
      fc.assert(fc.property(fc.array(piece, { maxLength: 24 }), fc.constantFrom(null, '', 'p', 'pxujne'), (parts, flags) => {
        const r = run(dir, `return httpd.write_template("${file(parts.join(''))}", ${flags === null ? 'nil' : `"${flags}"`}, true)`);
        assert.ok(r.ok || /^Error (parsing|rendering) template: /.test(r.error), r.error);
      }), { numRuns: 150 });
    });

    const parseErrors: Array<[string, string, string]> = [
      ['unknown element', 'a\n<l:x/>', "line 2: unknown element 'x'"],
      ['missing cond', '\n\n<l:if>', "line 3: missing attribute 'cond'"],
      ['missing cond on elseif', '<l:if cond="1">\n<l:elseif/></l:if>', "line 2: missing attribute 'cond'"],
      ['missing in', '<l:for names="x">', "line 1: missing attribute 'in'"],
      ['missing names', '<l:for in="pairs({})">', "line 1: missing attribute 'names'"],
      ['empty names', '<l:set names=" , " expressions="1"/>', "line 1: empty 'names'"],
      ['missing expressions', '<l:set names="a"/>', "line 1: missing attribute 'expressions'"],
      ['missing filename', '<l:include/>', "line 1: missing attribute 'filename'"],
      ['for closed without for', 'x\r\ny\r</l:for>', "line 3: no 'for' to close"],
      ['if closed by for', '<l:if cond="1">\n</l:for>', "line 2: no 'for' to close"],
      ['if closed without if', '</l:if>', "line 1: no 'if' to close"],
      ['else without if', '<l:else/>', "line 1: no 'if' to continue"],
      ['elseif after else', '<l:if cond="1"><l:else/><l:elseif cond="2"/></l:if>', "line 1: no 'if' to continue"],
      ['unclosed substitution (reported at the end)', '${ {\n\n', "line 3: '}' expected"],
      ['unclosed flags', '$[px', "line 1: ']' expected"],
      ['flags without an expression', '\n$[x]y', "line 2: '{' expected"],
      ['open elements at the end', '<l:if cond="1"><l:for names="a" in="pairs({})">\n', 'line 2: 2 open elements at end of template'],
      ['attribute without a value', '<l:if cond="1" x', "line 1: '=' expected following 'x'"],
      ['no > after /', '<l:if cond="1" / >', "line 1: '>' expected following 'if'"],
      ['attribute without a name', '<l:if ="1">', "line 1: attribute expected following 'if'"],
    ];
    for (const [name, text, want] of parseErrors) {
      it(`parse: ${name} → "<filename>, ${want}"`, () => {
        const f = file(text);
        const r = run(dir, `return httpd.write_template("${f}", nil, true)`);
        assert.equal(r.error, `Error parsing template: ${f}, ${want}`);
      });
    }

    it('parse: a Lua syntax error in an expression, with the template line', () => {
      const f = file('ok\n<l:if cond="x ==">\n</l:if>');
      assert.match(run(dir, `httpd.write_template("${f}")`).error,
        new RegExp(`^Error parsing template: ${f}, line 2: \\[string "x =="\\]:1: .+`));
    });

    it('parse: a missing file, a directory', () => {
      assert.equal(run(dir, 'httpd.write_template("nope.html")').error, "Error parsing template: file 'nope.html' does not exist");
      fs.mkdirSync(path.join(dir, 'adir'), { recursive: true });
      assert.equal(run(dir, 'httpd.write_template("adir")').error, "Error parsing template: file 'adir' cannot be read");
    });

    it('render: runtime errors in expressions are "Lua runtime error: <msg>"', () => {
      for (const text of ['${nope.x}', '<l:if cond="nope.x"/>', '<l:for names="a" in="nope.x"></l:for>', '<l:set names="a" expressions="nope.x"/>']) {
        assert.match(failure(text), /^Error rendering template: Lua runtime error: \[string "nope\.x"\]:1: .*nope/);
      }
      assert.match(failure('<l:for names="a" in="1"></l:for>'), /^Error rendering template: Lua runtime error: /);
    });

    it('render: an include that fails to parse is a render error of the including template', () => {
      assert.equal(failure('<l:include filename="\'badinc.html\'"/>'), "Error rendering template: badinc.html, line 3: unknown element 'bogus'");
      assert.equal(failure('<l:include filename="nil"/>'), "Error rendering template: file '(nil)' does not exist");
    });
  });

  describe('§5.2 output destination', () => {
    it('no file (or false) renders to httpd.output and returns nothing', () => {
      const f = file('a${1}b');
      const r = run(dir, `httpd.write_template("${f}"); httpd.write_template("${f}", "px", false); return select("#", httpd.write_template("${f}"))`);
      assert.deepEqual([r.values, r.out], [['0'], 'a1ba1ba1b']);
    });

    it('file == true returns the output as a string and writes nothing', () => {
      const r = run(dir, `return httpd.write_template("${file('a\0${1}')}", "p", true)`);
      assert.deepEqual([r.values, r.out], [['a'], '']);
      const raw = run(dir, `return httpd.write_template("${file('a\0b')}", "", true)`);
      assert.equal(raw.values[0], 'a\0b', 'a verbatim copy keeps NUL bytes');
    });

    it('any other value is the output file handle', () => {
      const r = run(dir, `
        x = 3
        local f = io.open("out.txt", "w")
        httpd.write_template("${file('x=${x}')}", nil, f)
        f:close()
        return io.open("out.txt"):read("*a")`);
      assert.deepEqual(r.values, ['x=3']);
      assert.match(run(dir, `httpd.write_template("${file('x')}", nil, "nope")`).error, /bad argument #3 .*FILE\* expected/);
    });

    it('output and a substitution\'s own writes stay in order', () => {
      const r = run(dir, `httpd.write_template("${file('a${(httpd.write("B") and "")}c')}")`);
      assert.equal(r.out, 'aBc');
    });

    it('a render error leaves what was written to httpd.output, and nothing when returning a string', () => {
      const f = file('before${error("stop", 0)}after');
      const direct = run(dir, `httpd.write_template("${f}")`);
      // mod_lwt's error function (lwt_util_traceback) appends a traceback to the message.
      assert.ok(direct.error.startsWith('Error rendering template: Lua runtime error: stop\nstack traceback:\n'), direct.error);
      assert.equal(direct.out, 'before');
      const mem = run(dir, `return httpd.write_template("${f}", nil, true)`);
      assert.deepEqual([mem.ok, mem.out], [false, '']);
    });

    it('needs the request record', () => {
      assert.equal(run(dir, `httpd.write_template("${file('x')}")`, false).error, 'no request record');
    });

    it('relative names follow the state\'s working directory (lfs.chdir), never the process\'s', () => {
      fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'sub', 'in-sub.html'), 'from sub');
      const r = run(dir, 'require("lfs").chdir("sub"); return httpd.write_template("in-sub.html", nil, true)');
      assert.deepEqual(r.values, ['from sub']);
      assert.match(run('/', 'return httpd.write_template("in-sub.html", nil, true)').error, /file 'in-sub.html' does not exist/);
    });

    it('a parsed template is reused across states until the file changes', () => {
      const f = file('v${1}');
      render('', null, `httpd.write_template("${f}", nil, true)`);
      const hits = templateCacheStats.hits;
      assert.equal(run(dir, `return httpd.write_template("${f}", nil, true)`).values[0], 'v1');
      assert.equal(templateCacheStats.hits, hits + 1);
      file('v${2}!', f);
      assert.equal(run(dir, `return httpd.write_template("${f}", nil, true)`).values[0], 'v2!');
    });
  });

  describe('through runRequest and the WSAPI connector', () => {
    const job = (script: string, query = '') => {
      const filename = path.join(FIXTURES, script);
      return jobFor({ script, query, env: { SCRIPT_FILENAME: filename, DOCUMENT_ROOT: FIXTURES, CONTEXT_DOCUMENT_ROOT: FIXTURES } });
    };

    it('renders mod_lwt\'s guess sample to a string, relative to the script directory', () => {
      const r = runSidecar(job('wsapi/guess.lua', 'found'));
      assert.equal(r.status, 200, r.body);
      const text = r.body.replace(/\n+/g, '\n');
      assert.equal(text, '<h1>Guess the Number</h1>\n<ul>\n<li>500 &ndash; too high</li>\n<li>250 &ndash; too low</li>\n</ul>\n'
        + '<input type="hidden" name="game_id" value="g&lt;1&gt;" />\n<p>You found the number with 2 guesses.</p>\n');
      assert.match(runSidecar(job('wsapi/guess.lua')).body, /<h2>Make a Guess<\/h2>/);
    });

    it('renders straight to httpd.output, committing the status set before it', () => {
      const r = runSidecar(job('wsapi/direct.lua'));
      assert.deepEqual([r.status, r.body, r.logs], [201, 'hello &lt;direct&gt;', []]);
    });
  });
});
