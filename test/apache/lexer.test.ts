import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { getWord, logicalLines, quoteWord, splitWords } from '../../src/apache/lexer';

describe('apache lexer: logical lines', () => {
  const cases: Array<{ name: string; text: string; want: Array<[number, string]> }> = [
    { name: 'trims leading and trailing white space', text: '  ServerName  a  \t\n', want: [[1, 'ServerName  a']] },
    { name: 'skips blank lines and counts them', text: '\n\n  \nA\n', want: [[4, 'A']] },
    { name: 'a # at the start of a line is a comment', text: '# c\n   # indented\nA # not a comment\n', want: [[3, 'A # not a comment']] },
    { name: 'joins a line ending in a backslash, without inserting a space', text: 'Alias /a \\\n/b\nB\n', want: [[1, 'Alias /a /b'], [3, 'B']] },
    { name: 'joins across CR LF', text: 'A x\\\r\ny\r\nB\r\n', want: [[1, 'A xy'], [3, 'B']] },
    { name: 'reports the first physical line of a continued line', text: '\nA \\\n b \\\n c\nD\n', want: [[2, 'A  b  c'], [5, 'D']] },
    { name: 'a backslash followed by spaces does not continue', text: 'A x\\  \nB\n', want: [[1, 'A x\\'], [2, 'B']] },
    { name: 'a backslash on the last line without newline stays', text: 'A x\\', want: [[1, 'A x\\']] },
    { name: 'a continued comment swallows the next line (as httpd)', text: '# comment \\\nServerName a\nB\n', want: [[3, 'B']] },
    { name: 'a continued line at end of file is kept', text: 'A b\\\n', want: [[1, 'A b']] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(logicalLines(c.text).map((l) => [l.line, l.text]), c.want);
    });
  }
});

describe('apache lexer: words (ap_getword_conf)', () => {
  const cases: Array<[string, string[]]> = [
    ['a b  c', ['a', 'b', 'c']],
    ['"a b" c', ['a b', 'c']],
    ["'a b' c", ['a b', 'c']],
    ['"a \\" b"', ['a " b']],
    ["'it\\'s'", ["it's"]],
    ['"keeps \\n and \\\' inside double quotes"', ["keeps \\n and \\' inside double quotes"]],
    ['"a\\\\b"', ['a\\b']],
    ['a\\\\b c\\d', ['a\\b', 'c\\d']],
    ['a"b c"', ['a"b', 'c"']],
    ['"ab"cd', ['ab', 'cd']],
    ['""', ['']],
    ['"unterminated quote', ['unterminated quote']],
    ['  lead', ['lead']],
    ['', []],
  ];
  for (const [input, want] of cases) {
    it(`splits ${JSON.stringify(input)}`, () => {
      assert.deepEqual(splitWords(input), want);
    });
  }

  it('returns the position after a word and its trailing space', () => {
    assert.deepEqual(getWord('<Directory "/a b">', 0), { word: '<Directory', next: 11 });
  });
});

describe('apache lexer: properties', () => {
  const word = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '\t', '"', "'", '\\', '$', '{', '}', '>', '#', 'é') });

  it('round-trips any list of words through quoteWord and splitWords', () => {
    fc.assert(fc.property(fc.array(word, { maxLength: 6 }), (words) => {
      const line = words.map(quoteWord).join(' ');
      assert.deepEqual(splitWords(line), words);
    }));
  });

  it('a line split by backslash continuations reads as the joined line', () => {
    const piece = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '"', '=') });
    fc.assert(fc.property(fc.array(piece, { minLength: 1, maxLength: 5 }), (pieces) => {
      const joined = pieces.join('');
      fc.pre(joined.trim() !== '' && !joined.trim().startsWith('#'));
      const text = pieces.join('\\\n') + '\nNext\n';
      const lines = logicalLines(text);
      assert.deepEqual(lines.map((l) => l.text), [joined.trim(), 'Next']);
      assert.equal(lines[0]!.line, 1);
      assert.equal(lines[1]!.line, pieces.length + 1);
    }));
  });

  it('never throws on arbitrary text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (text) => {
      for (const l of logicalLines(text)) splitWords(l.text);
    }));
  });
});
