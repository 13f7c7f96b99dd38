// torch.text.Vocab: building (torchtext's order: frequency descending, ties in string order,
// specials first, minFreq, maxSize counting the specials), encode / decode, JSON and files, errors.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { expectError, expectExact } from '../helpers';

const { Vocab } = torch.text;

const texts = [
  ['the', 'cat', 'sat'],
  ['the', 'dog', 'sat'],
  ['a', 'cat', 'ran'],
  ['the', 'zebra'],
];

describe('torch.text.Vocab', () => {
  it('builds in torchtext order: specials, then frequency descending, ties in string order', () => {
    const v = Vocab.build(texts);
    expect(v.getItos()).to.deep.equal([
      '<pad>',
      '<unk>',
      '<bos>',
      '<eos>',
      'the',
      'cat',
      'sat',
      'a',
      'dog',
      'ran',
      'zebra',
    ]);
    expect(v.length).to.equal(11);
    expect([v.padId, v.unkId, v.bosId, v.eosId]).to.deep.equal([0, 1, 2, 3]);
    expect([v.pad, v.unk, v.bos, v.eos]).to.deep.equal(['<pad>', '<unk>', '<bos>', '<eos>']);
    expect(v.getStoi().get('cat')).to.equal(5);
    // the same texts in another order give the same vocabulary
    expect(Vocab.build([...texts].reverse()).getItos()).to.deep.equal(v.getItos());
    // string order is by code point, as Python's (an astral character sorts after U+FFFF)
    expect(
      Vocab.build([['\u{1F600}', '\uFFFF']], { specials: { pad: null, unk: null, bos: null, eos: null } }).getItos(),
    ).to.deep.equal(['\uFFFF', '\u{1F600}']);
    // a generator is an iterable of texts too
    function* lines() {
      yield ['x', 'y'];
      yield ['y'];
    }
    expect(torch.text.buildVocabFromIterator(lines()).getItos().slice(4)).to.deep.equal(['y', 'x']);
  });

  it('minFreq, maxSize (specials included), custom and absent specials', () => {
    expect(Vocab.build(texts, { minFreq: 2 }).getItos().slice(4)).to.deep.equal(['the', 'cat', 'sat']);
    expect(Vocab.build(texts, { maxSize: 6 }).getItos()).to.deep.equal([
      '<pad>',
      '<unk>',
      '<bos>',
      '<eos>',
      'the',
      'cat',
    ]);
    const v = Vocab.build(texts, {
      specials: { pad: '[PAD]', unk: '[UNK]', bos: null, eos: '[SEP]', extra: ['[MASK]'] },
    });
    expect(v.getItos().slice(0, 4)).to.deep.equal(['[PAD]', '[UNK]', '[SEP]', '[MASK]']);
    expect(v.bosId).to.equal(undefined);
    expect(v.bos).to.equal(null);
    // a special that also appears in the texts keeps its special id
    const w = Vocab.build([['<unk>', 'a']]);
    expect(w.indexOf('<unk>')).to.equal(1);
    expect(w.length).to.equal(5);
  });

  it('encode: ids as an int64 tensor or an array, bos / eos, unknown tokens to unk', () => {
    const v = Vocab.build(texts);
    expectExact(v.encode(['the', 'cat', 'bird']), [4, 5, 1], 'int64');
    expectExact(v.encode(['the'], { addBos: true, addEos: true }), [2, 4, 3], 'int64');
    expect(v.encode(['sat', 'a'], { addEos: true, as: 'array' })).to.deep.equal([6, 7, 3]);
    expect(v.encode([], { as: 'array' })).to.deep.equal([]);
    expect(v.indexOf('zebra')).to.equal(10);
    expect(v.indexOf('nope')).to.equal(1);
    expect(v.has('dog')).to.equal(true);
    expect(v.has('nope')).to.equal(false);
    expect(v.token(4)).to.equal('the');
  });

  it('decode: tensors, numbers, bigints; skipSpecial; stopAtEos', () => {
    const v = Vocab.build(texts);
    const ids = v.encode(['the', 'dog', 'ran'], { addBos: true, addEos: true });
    expect(v.decode(ids)).to.deep.equal(['<bos>', 'the', 'dog', 'ran', '<eos>']);
    expect(v.decode(ids, { skipSpecial: true })).to.deep.equal(['the', 'dog', 'ran']);
    expect(v.decode([4, 3, 5, 0], { stopAtEos: true })).to.deep.equal(['the']);
    expect(v.decode([4n, 0n, 5n], { skipSpecial: true })).to.deep.equal(['the', 'cat']);
    expect(v.decode(torch.tensor([4, 5], { dtype: 'int32' }))).to.deep.equal(['the', 'cat']);
  });

  it('toJSON / fromJSON / save / load round-trip', () => {
    const v = Vocab.build(texts, { specials: { bos: null } });
    const again = Vocab.fromJSON(JSON.parse(JSON.stringify(v)));
    expect(again.getItos()).to.deep.equal(v.getItos());
    expect(again.toJSON()).to.deep.equal(v.toJSON());
    expect(Vocab.fromJSON(JSON.stringify(v)).bosId).to.equal(undefined);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vocab-'));
    try {
      const file = path.join(dir, 'vocab.json');
      v.save(file);
      const loaded = Vocab.load(file);
      expect(loaded.toJSON()).to.deep.equal(v.toJSON());
      expect(String(loaded)).to.match(/^Vocab\(length=10, pad=<pad>/);
      fs.writeFileSync(file, '{"tokens": 5}');
      expectError(() => Vocab.load(file), TypeError, 'Vocab.fromJSON', 'tokens');
      fs.writeFileSync(file, 'not json');
      expectError(() => Vocab.load(file), TypeError, 'Vocab.fromJSON', 'not JSON');
      expectError(
        () => Vocab.fromJSON({ tokens: ['a'], specials: 5 } as never),
        TypeError,
        'Vocab.fromJSON',
        'specials',
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('error paths', () => {
    const v = Vocab.build(texts);
    expectError(() => new Vocab(['a', 'a']), RangeError, 'Vocab', 'appears twice');
    expectError(() => new Vocab(['a', 1] as never), TypeError, 'Vocab', 'tokens[1]');
    expectError(() => new Vocab('ab' as never), TypeError, 'Vocab', 'tokens');
    expectError(() => new Vocab(['a'], { unk: 'b' }), RangeError, 'Vocab', 'unk token "b"');
    expectError(() => new Vocab(['a'], { sep: 'a' } as never), TypeError, 'Vocab', 'sep');
    expectError(() => Vocab.build(5 as never), TypeError, 'Vocab.build', 'texts');
    expectError(() => Vocab.build(['ab'] as never), TypeError, 'Vocab.build', 'texts[0]');
    expectError(() => Vocab.build([['a', 3]] as never), TypeError, 'Vocab.build', 'texts[0][1]');
    expectError(() => Vocab.build(texts, { minFreq: 0 }), RangeError, 'Vocab.build', 'minFreq');
    expectError(() => Vocab.build(texts, { maxSize: 3 }), RangeError, 'Vocab.build', 'maxSize (3)');
    expectError(() => Vocab.build(texts, { specials: { pad: 'x', unk: 'x' } }), RangeError, 'must differ');
    expectError(() => Vocab.build(texts, { specials: { extra: 'x' } } as never), TypeError, 'specials.extra');
    expectError(() => Vocab.build(texts, { specials: { pad: 1 } } as never), TypeError, 'specials.pad');
    expectError(() => Vocab.build(texts, { min: 1 } as never), TypeError, 'Vocab.build', 'min');
    expectError(() => v.encode('the' as never), TypeError, 'Vocab.encode', 'tokens');
    expectError(() => v.encode([1] as never), TypeError, 'Vocab.encode', 'tokens[0]');
    expectError(() => v.encode(['a'], { as: 'list' } as never), TypeError, 'Vocab.encode', "'tensor' or 'array'");
    expectError(() => v.encode(['a'], { addBos: 1 } as never), TypeError, 'Vocab.encode', 'addBos');
    const bare = new Vocab(['a', 'b']);
    expectError(() => bare.encode(['c']), RangeError, 'Vocab.encode', 'tokens[0]', 'no unk');
    expectError(() => bare.encode(['a'], { addBos: true }), RangeError, 'Vocab.encode', 'addBos');
    expectError(() => bare.encode(['a'], { addEos: true }), RangeError, 'Vocab.encode', 'addEos');
    expectError(() => bare.indexOf('c'), RangeError, 'Vocab.indexOf', 'no unk');
    expectError(() => bare.indexOf(3 as never), TypeError, 'Vocab.indexOf', 'token');
    expectError(() => bare.token(2), RangeError, 'Vocab.token', 'out of range');
    expectError(() => v.decode([99]), RangeError, 'Vocab.decode', 'ids[0] = 99');
    expectError(() => v.decode([1.5]), RangeError, 'Vocab.decode', 'ids[0]');
    expectError(() => v.decode(torch.zeros(2)), TypeError, 'Vocab.decode', 'integer tensor');
    expectError(() => v.decode(torch.zeros([1, 2], { dtype: 'int64' })), TypeError, 'Vocab.decode', '1-D');
    expectError(() => v.decode('ab' as never), TypeError, 'Vocab.decode', 'ids');
    expectError(() => v.decode([1], { skip: true } as never), TypeError, 'Vocab.decode', 'skip');
    expectError(() => v.save(5 as never), TypeError, 'Vocab.save', 'path');
    expectError(() => Vocab.load(5 as never), TypeError, 'Vocab.load', 'path');
  });
});
