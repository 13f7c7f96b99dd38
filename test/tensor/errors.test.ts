import { spawnSync } from 'node:child_process';
import { inspect } from 'node:util';
import { expect } from 'chai';

import * as torch from '../../lib';
import { checkOptions, suggestOption } from '../../lib/errors';
import { expectClose, expectError, MAX_PEAK_GROWTH, peakRssGrowth } from '../helpers';

type Case = [label: string, fn: () => unknown, ...patterns: (RegExp | string)[]];

/** One `it` per case: each must throw `cls` with a message matching the patterns (and no backtrace). */
function cases(cls: new (...a: never[]) => Error, list: Case[]): void {
  for (const [label, fn, ...patterns] of list) {
    it(label, () => {
      expectError(fn, cls, ...patterns);
    });
  }
}

/** Values of the wrong type, as a careless caller might pass them. */
const WRONG: [string, unknown][] = [
  ['a string', 'x'],
  ['an object', {}],
  ['undefined', undefined],
  ['null', null],
];

describe('errors', () => {
  const a = torch.ones(2, 3);
  const m = torch.tensor([true, false, true]);
  const any = (v: unknown) => v as never;

  describe('wrong types where a tensor is expected (TypeError naming function and argument)', () => {
    for (const [what, v] of WRONG) {
      const w = any(v);
      cases(TypeError, [
        [`Tensor.matmul(${what})`, () => a.matmul(w), 'Tensor.matmul', 'other'],
        [`Tensor.bmm(${what})`, () => a.bmm(w), 'Tensor.bmm', 'mat2'],
        [`Tensor.mm(${what})`, () => a.mm(w), 'Tensor.mm', 'mat2'],
        [`Tensor.maximum(${what})`, () => a.maximum(w), 'Tensor.maximum', 'other'],
        [`Tensor.minimum(${what})`, () => a.minimum(w), 'Tensor.minimum', 'other'],
        [`Tensor.logicalAnd(${what})`, () => m.logicalAnd(w), 'Tensor.logicalAnd', 'other'],
        [`Tensor.logicalOr(${what})`, () => m.logicalOr(w), 'Tensor.logicalOr', 'other'],
        [`Tensor.maskedFill(mask: ${what})`, () => a.maskedFill(w, 0), 'Tensor.maskedFill', 'mask'],
        [`Tensor.where(condition: ${what})`, () => a.where(w, 0), 'Tensor.where', 'condition'],
        [`torch.where(condition: ${what})`, () => torch.where(w, a, a), 'torch.where', 'condition'],
        [`Tensor.indexSelect(index: ${what})`, () => a.indexSelect(0, w), 'Tensor.indexSelect', 'index'],
        [`Tensor.gather(index: ${what})`, () => a.gather(0, w), 'Tensor.gather', 'index'],
        [`Tensor.copy_(${what})`, () => a.clone().copy_(w), 'Tensor.copy_', 'src'],
        [`Tensor.expandAs(${what})`, () => a.expandAs(w), 'Tensor.expandAs', 'other'],
        [`Tensor.allclose(${what})`, () => a.allclose(w), 'Tensor.allclose', 'other'],
        [`Tensor.equal(${what})`, () => a.equal(w), 'Tensor.equal', 'other'],
        [`torch.cat([t, ${what}])`, () => torch.cat([a, w]), 'torch.cat', 'tensors[1]'],
        [`torch.stack([${what}])`, () => torch.stack([w]), 'torch.stack', 'tensors[0]'],
        [`torch.add(${what}, 1)`, () => torch.add(w, 1), 'torch.add', 'input'],
        [`torch.sum(${what})`, () => torch.sum(w), 'torch.sum', 'input'],
      ]);
    }
    cases(TypeError, [
      ['torch.zerosLike(a string)', () => torch.zerosLike(any('x')), 'torch.zerosLike', 'input'],
      ['torch.onesLike(an object)', () => torch.onesLike(any({})), 'torch.onesLike', 'input'],
      ['torch.fullLike(a string)', () => torch.fullLike(any('x'), 1), 'torch.fullLike', 'input'],
      ['torch.randnLike(an object)', () => torch.randnLike(any({})), 'torch.randnLike', 'input'],
    ]);

    // The *Like factories check their input before reading its shape.
    it('torch.*Like(undefined / null) name the function and argument', () => {
      for (const w of [undefined, null]) {
        expectError(() => torch.zerosLike(any(w)), TypeError, 'torch.zerosLike', 'input');
        expectError(() => torch.onesLike(any(w)), TypeError, 'torch.onesLike', 'input');
        expectError(() => torch.fullLike(any(w), 1), TypeError, 'torch.fullLike', 'input');
        expectError(() => torch.randnLike(any(w)), TypeError, 'torch.randnLike', 'input');
        expectError(() => torch.randLike(any(w)), TypeError, 'torch.randLike', 'input');
        expectError(() => torch.emptyLike(any(w)), TypeError, 'torch.emptyLike', 'input');
      }
    });

    cases(TypeError, [
      ['Tensor.backward(gradient: a string)', () => a.backward(any('x')), 'Tensor.backward', 'gradient'],
      [
        'Tensor.grad = a string',
        () => {
          a.grad = any('x');
        },
        'Tensor.grad',
      ],
      ['Tensor.matmul(a number)', () => a.matmul(any(3)), 'Tensor.matmul', 'other', 'the number 3'],
      ['Tensor.maximum(a number)', () => a.maximum(any(2)), 'Tensor.maximum', 'other'],
      ['Tensor.index(an object)', () => a.index(any({})), 'Tensor.index', 'index'],
      ['Tensor.index(undefined)', () => a.index(any(undefined)), 'Tensor.index', 'index'],
      ['Tensor.index(a bad slice)', () => a.index('a:b'), 'Tensor.index', 'index', 'a:b'],
      ['torch.cat(a tensor)', () => torch.cat(any(a)), 'torch.cat', 'tensors'],
      ['torch.stack(a string)', () => torch.stack(any('x')), 'torch.stack', 'tensors'],
      ['torch.tensor(an existing Tensor)', () => torch.tensor(any(a)), 'torch.tensor', 'clone'],
    ]);
  });

  describe('wrong types where a number is expected', () => {
    for (const [what, v] of WRONG) {
      const w = any(v);
      cases(TypeError, [
        [`Tensor.add(${what})`, () => a.add(w), 'Tensor.add', 'other'],
        [`Tensor.sub(${what})`, () => a.sub(w), 'Tensor.sub', 'other'],
        [`Tensor.mul(${what})`, () => a.mul(w), 'Tensor.mul', 'other'],
        [`Tensor.div(${what})`, () => a.div(w), 'Tensor.div', 'other'],
        [`Tensor.pow(${what})`, () => a.pow(w), 'Tensor.pow', 'exponent'],
        [`Tensor.eq(${what})`, () => a.eq(w), 'Tensor.eq', 'other'],
        [`Tensor.lt(${what})`, () => a.lt(w), 'Tensor.lt', 'other'],
        [`Tensor.add_(${what})`, () => a.clone().add_(w), 'Tensor.add_', 'other'],
        [`Tensor.mul_(${what})`, () => a.clone().mul_(w), 'Tensor.mul_', 'other'],
        [`Tensor.fill_(${what})`, () => a.clone().fill_(w), 'Tensor.fill_', 'value'],
        [`torch.full(value: ${what})`, () => torch.full([2], w), 'torch.full', 'fillValue'],
        [`torch.linspace(start: ${what})`, () => torch.linspace(w, 1, 3), 'torch.linspace', 'start'],
        [`torch.eye(${what})`, () => torch.eye(w), 'torch.eye', 'n'],
      ]);
    }
    cases(TypeError, [
      ['Tensor.add(alpha: a string)', () => a.add(a, any('2')), 'Tensor.add', 'alpha'],
      ['Tensor.sub(alpha: an array)', () => a.sub(a, any([2])), 'Tensor.sub', 'alpha'],
      ['Tensor.sub({alpha: a string})', () => a.sub(a, { alpha: any('2') }), 'Tensor.sub', 'alpha'],
      ['Tensor.add(an array)', () => a.add(any([1, 2, 3])), 'Tensor.add', 'other', 'array'],
      ['Tensor.add(a function)', () => a.add(any(() => 1)), 'Tensor.add', 'other', 'function'],
      ['Tensor.add(a symbol)', () => a.add(any(Symbol('s'))), 'Tensor.add', 'other', 'symbol'],
      ['Tensor.add(a TypedArray)', () => a.add(any(new Float32Array(3))), 'Tensor.add', 'other', 'Float32Array'],
      ['Tensor.maskedFill(value: a string)', () => a.maskedFill(m, any('x')), 'Tensor.maskedFill', 'value'],
      ['Tensor.where(other: a string)', () => a.where(m, any('x')), 'Tensor.where', 'other'],
      ['torch.where(input: a string)', () => torch.where(m, any('x'), a), 'torch.where', 'input'],
      ['torch.where(other: an object)', () => torch.where(m, a, any({})), 'torch.where', 'other'],
      ['Tensor.clamp(min: a string)', () => a.clamp(any('x')), 'Tensor.clamp', 'min'],
      ['Tensor.clamp(max: an object)', () => a.clamp(0, any({})), 'Tensor.clamp', 'max'],
      ['Tensor.clamp() with neither bound', () => a.clamp(), 'Tensor.clamp', 'min', 'max'],
      ['Tensor.clamp_(min: a string)', () => a.clone().clamp_(any('x')), 'Tensor.clamp_', 'min'],
      ['Tensor.clamp_() with neither bound', () => a.clone().clamp_(), 'Tensor.clamp_'],
      ['Tensor.div(roundingMode: a bad string)', () => a.div(a, any('round')), 'Tensor.div', 'roundingMode'],
      [
        'Tensor.gelu(approximate: a bad string)',
        () => a.gelu({ approximate: any('fast') }),
        'Tensor.gelu',
        'approximate',
      ],
      ['Tensor.allclose(rtol: a string)', () => a.allclose(a, { rtol: any('x') }), 'Tensor.allclose', 'rtol'],
      ['torch.arange(end: a string)', () => torch.arange(any('5')), 'torch.arange', 'end'],
      ['torch.randint(high: a string)', () => torch.randint(0, any('9'), [2]), 'torch.randint', 'high'],
      ['torch.manualSeed(a string)', () => torch.manualSeed(any('1')), 'torch.manualSeed', 'seed'],
      ['torch.setNumThreads(a string)', () => torch.setNumThreads(any('1')), 'torch.setNumThreads', 'n'],
      [
        'Tensor.requiresGrad = a string',
        () => {
          a.requiresGrad = any('yes');
        },
        'Tensor.requiresGrad',
      ],
      ['Tensor.requiresGrad_(a number)', () => a.requiresGrad_(any(1)), 'Tensor.requiresGrad_', 'requiresGrad'],
      ['torch.noGrad(a number)', () => torch.noGrad(any(5)), 'torch.noGrad', 'fn'],
      ['torch.enableGrad(undefined)', () => torch.enableGrad(any(undefined)), 'torch.enableGrad', 'fn'],
      ['torch.setGradEnabled(a number)', () => torch.setGradEnabled(any(1)), 'torch.setGradEnabled', 'enabled'],
    ]);
  });

  describe('wrong types where a shape, dim or options are expected', () => {
    for (const [what, v] of WRONG) {
      const w = any(v);
      cases(TypeError, [
        [`torch.zeros(${what}, 3)`, () => torch.zeros(w, 3), 'torch.zeros', 'shape[0]'],
        [`torch.zeros([${what}])`, () => torch.zeros([w]), 'torch.zeros', 'shape[0]'],
        [`torch.ones([2, ${what}])`, () => torch.ones([2, w]), 'torch.ones', 'shape[1]'],
        [`torch.empty(2, ${what}, 3)`, () => torch.empty(2, w, 3), 'torch.empty', 'shape[1]'],
        [`torch.randn([${what}])`, () => torch.randn([w]), 'torch.randn', 'shape[0]'],
        [`torch.randint(0, 9, ${what})`, () => torch.randint(0, 9, w), 'torch.randint', 'shape'],
        [`Tensor.reshape(${what})`, () => a.reshape(w), 'Tensor.reshape', 'shape'],
        [`Tensor.view([6, ${what}])`, () => a.view([6, w]), 'Tensor.view', 'shape[1]'],
        [`Tensor.expand(${what}, 3)`, () => a.expand(w, 3), 'Tensor.expand', 'shape[0]'],
        [`Tensor.permute(${what})`, () => a.permute(w), 'Tensor.permute', 'shape'],
        [`Tensor.repeat(${what})`, () => a.repeat(w), 'Tensor.repeat', 'repeats'],
        [`Tensor.transpose(0, ${what})`, () => a.transpose(0, w), 'Tensor.transpose', 'dim1'],
        [`Tensor.softmax(${what})`, () => a.softmax(w), 'Tensor.softmax', 'dim'],
        [`Tensor.logSoftmax(${what})`, () => a.logSoftmax(w), 'Tensor.logSoftmax', 'dim'],
        [`Tensor.unsqueeze(${what})`, () => a.unsqueeze(w), 'Tensor.unsqueeze', 'dim'],
        [`Tensor.select(0, ${what})`, () => a.select(0, w), 'Tensor.select', 'index'],
        [`Tensor.narrow(${what}, 0, 1)`, () => a.narrow(w, 0, 1), 'Tensor.narrow', 'dim'],
        [`Tensor.chunk(${what})`, () => a.chunk(w), 'Tensor.chunk', 'chunks'],
        [`Tensor.split(${what})`, () => a.split(w), 'Tensor.split', 'splitSize'],
        [`Tensor.cumsum(${what})`, () => a.cumsum(w), 'Tensor.cumsum', 'dim'],
      ]);
    }
    cases(TypeError, [
      ['torch.cat([t], a string)', () => torch.cat([a], any('0')), 'torch.cat', 'dim'],
      ['torch.cat([t], null)', () => torch.cat([a], any(null)), 'torch.cat', 'dim'],
      ['torch.stack([t], an object)', () => torch.stack([a], any({})), 'torch.stack', 'dim'],
      ['Tensor.sum(dim: a string)', () => a.sum(any('0')), 'Tensor.sum', 'dim'],
      ['Tensor.sum(dim: [a string])', () => a.sum(any(['0'])), 'Tensor.sum', 'dim[0]'],
      ['Tensor.mean(keepdim: a string)', () => a.mean(0, any('yes')), 'Tensor.mean', 'keepdim'],
      ['Tensor.mean({keepdim: a string})', () => a.mean(0, { keepdim: any('yes') }), 'Tensor.mean', 'keepdim'],
      ['Tensor.max(dim: a string)', () => a.max(any('0')), 'Tensor.max', 'dim'],
      ['Tensor.max(0, keepdim: a string)', () => a.max(0, any('yes')), 'Tensor.max', 'keepdim'],
      ['Tensor.argmax(0, keepdim: a number)', () => a.argmax(0, any(1)), 'Tensor.argmax', 'keepdim'],
      ['Tensor.var({correction: a string})', () => a.var(0, { correction: any('1') }), 'Tensor.var', 'correction'],
      ['Tensor.std({unbiased: a number})', () => a.std(0, { unbiased: any(1) }), 'Tensor.std', 'unbiased'],
      ['Tensor.var(unbiased: a string)', () => a.var(0, any('x')), 'Tensor.var', 'unbiased'],
      ['Tensor.size(a string)', () => a.size(any('0')), 'Tensor.size', 'dim'],
      ['torch.zeros([2, 3], a string)', () => torch.zeros(any([2, 3]), any('float32')), 'torch.zeros'],
      ['torch.tensor(data, options: a string)', () => torch.tensor([1], any('float32')), 'torch.tensor', 'options'],
      [
        'torch.zeros({requiresGrad: a string})',
        () => torch.zeros([2], { requiresGrad: any('yes') }),
        'torch.zeros',
        'requiresGrad',
      ],
      ['Tensor.to(a number)', () => a.to(any(5)), 'Tensor.to', 'options'],
      ['Tensor.to(null)', () => a.to(any(null)), 'Tensor.to', 'options'],
      ['Tensor.to({copy: a string})', () => a.to({ copy: any('yes') }), 'Tensor.to', 'copy'],
      ['Tensor.backward(options: a string)', () => a.backward(null, any('x')), 'Tensor.backward', 'options'],
      [
        'Tensor.backward({retainGraph: a number})',
        () => a.backward(null, { retainGraph: any(1) }),
        'Tensor.backward',
        'retainGraph',
      ],
    ]);

    it('keepdim of all / any / var / std is checked in JS', () => {
      expectError(() => a.all(0, any('x')), TypeError, 'Tensor.all', 'keepdim');
      expectError(() => a.any(0, any(1)), TypeError, 'Tensor.any', 'keepdim');
      expectError(() => a.var(0, { keepdim: any('x') }), TypeError, 'Tensor.var', 'keepdim');
      expectError(() => a.std(0, { keepdim: any(1) }), TypeError, 'Tensor.std', 'keepdim');
      expectError(() => a.var(null, { keepdim: any('x') }), TypeError, 'Tensor.var', 'keepdim');
      expectError(() => a.std(0, { unbiased: any(1) }), TypeError, 'Tensor.std', 'unbiased');
    });
  });

  describe('NaN, Infinity, negative and fractional sizes and dims (RangeError)', () => {
    cases(RangeError, [
      ['torch.zeros(NaN)', () => torch.zeros(NaN), 'torch.zeros', 'shape[0]', 'NaN'],
      ['torch.zeros(Infinity)', () => torch.zeros(Infinity), 'torch.zeros', 'shape[0]', 'Infinity'],
      ['torch.zeros(-1)', () => torch.zeros(-1), 'torch.zeros', 'shape[0]', 'non-negative'],
      ['torch.zeros(2.5)', () => torch.zeros(2.5), 'torch.zeros', 'shape[0]', '2.5'],
      ['torch.ones([2, -3])', () => torch.ones([2, -3]), 'torch.ones', 'shape[1]', '-3'],
      ['torch.empty(2, NaN)', () => torch.empty(2, NaN), 'torch.empty', 'shape[1]'],
      ['torch.rand([1.5])', () => torch.rand([1.5]), 'torch.rand', 'shape[0]'],
      ['torch.randn(-Infinity)', () => torch.randn(-Infinity), 'torch.randn', 'shape[0]'],
      ['torch.full([-1], 0)', () => torch.full([-1], 0), 'torch.full', 'shape[0]'],
      ['torch.randint(0, 10, [-1])', () => torch.randint(0, 10, [-1]), 'torch.randint', 'shape[0]'],
      ['torch.randint(5, 2, [3]) (low >= high)', () => torch.randint(5, 2, [3]), 'torch.randint', 'low'],
      ['torch.randint(0.5, [3])', () => torch.randint(0.5, [3]), 'torch.randint', 'high'],
      ['torch.arange(NaN)', () => torch.arange(NaN), 'torch.arange', 'finite'],
      ['torch.arange(0, Infinity)', () => torch.arange(0, Infinity), 'torch.arange', 'finite'],
      ['torch.arange(0, 10, 0)', () => torch.arange(0, 10, 0), 'torch.arange', 'step'],
      ['torch.arange(0, 10, -1)', () => torch.arange(0, 10, -1), 'torch.arange', 'step'],
      ['torch.linspace(0, 1, -1)', () => torch.linspace(0, 1, -1), 'torch.linspace', 'steps'],
      ['torch.linspace(0, 1, 2.5)', () => torch.linspace(0, 1, 2.5), 'torch.linspace', 'steps'],
      ['torch.eye(-1)', () => torch.eye(-1), 'torch.eye', 'n'],
      ['torch.eye(2, 2.5)', () => torch.eye(2, 2.5), 'torch.eye', 'm'],
      ['torch.randperm(-2)', () => torch.randperm(-2), 'torch.randperm', 'n'],
      ['torch.manualSeed(1.5)', () => torch.manualSeed(1.5), 'torch.manualSeed', 'seed'],
      ['torch.manualSeed(NaN)', () => torch.manualSeed(NaN), 'torch.manualSeed', 'seed'],
      ['torch.manualSeed(2n ** 64n)', () => torch.manualSeed(2n ** 64n), 'torch.manualSeed', 'seed'],
      ['torch.manualSeed(-(2n ** 63n) - 1n)', () => torch.manualSeed(-(2n ** 63n) - 1n), 'torch.manualSeed', 'seed'],
      ['torch.setNumThreads(0)', () => torch.setNumThreads(0), 'torch.setNumThreads', 'n'],
      // libtorch starts every thread at once: 4096 took tens of seconds, 1e6 never returned
      [
        'torch.setNumThreads(4096)',
        () => torch.setNumThreads(4096),
        'torch.setNumThreads',
        /expected n to be at most \d+ \(4 threads per available CPU, at most 1024\), got 4096/,
      ],
      ['torch.setNumThreads(1e6)', () => torch.setNumThreads(1e6), 'torch.setNumThreads', 'at most'],
      ['torch.setNumThreads(1025)', () => torch.setNumThreads(1025), 'torch.setNumThreads', 'at most'],
      ['Tensor.reshape(NaN)', () => a.reshape(NaN), 'Tensor.reshape', 'shape[0]'],
      ['Tensor.reshape(2.5, 2)', () => a.reshape(2.5, 2), 'Tensor.reshape', 'shape[0]'],
      ['Tensor.view(-2, 3)', () => a.view(-2, 3), 'Tensor.view', 'shape[0]', '-1'],
      ['Tensor.expand(-2, 3)', () => a.expand(-2, 3), 'Tensor.expand', 'shape[0]'],
      ['Tensor.permute(0.5, 1)', () => a.permute(0.5, 1), 'Tensor.permute'],
      ['Tensor.sum(NaN)', () => a.sum(NaN), 'Tensor.sum', 'dim'],
      ['Tensor.sum([0, 1.5])', () => a.sum([0, 1.5]), 'Tensor.sum', 'dim[1]'],
      ['Tensor.mean(Infinity)', () => a.mean(Infinity), 'Tensor.mean', 'dim'],
      ['Tensor.softmax(1.5)', () => a.softmax(1.5), 'Tensor.softmax', 'dim'],
      ['Tensor.unsqueeze(Infinity)', () => a.unsqueeze(Infinity), 'Tensor.unsqueeze', 'dim'],
      ['Tensor.squeeze(0.5)', () => a.squeeze(0.5), 'Tensor.squeeze', 'dim'],
      ['Tensor.transpose(NaN, 0)', () => a.transpose(NaN, 0), 'Tensor.transpose', 'dim0'],
      ['Tensor.flatten(NaN)', () => a.flatten(NaN), 'Tensor.flatten', 'startDim'],
      ['Tensor.narrow(0, 0, -1)', () => a.narrow(0, 0, -1), 'Tensor.narrow', 'length'],
      ['Tensor.narrow(0, 0.5, 1)', () => a.narrow(0, 0.5, 1), 'Tensor.narrow', 'start'],
      ['Tensor.select(0, NaN)', () => a.select(0, NaN), 'Tensor.select', 'index'],
      ['Tensor.slice(0, 0, 2, 0)', () => a.slice(0, 0, 2, 0), 'Tensor.slice', 'step'],
      ['Tensor.chunk(0)', () => a.chunk(0), 'Tensor.chunk', 'chunks'],
      ['Tensor.chunk(1.5)', () => a.chunk(1.5), 'Tensor.chunk', 'chunks'],
      ['Tensor.split(0)', () => a.split(0), 'Tensor.split', 'splitSize'],
      ['Tensor.max(0.5)', () => a.max(0.5), 'Tensor.max', 'dim'],
      ['Tensor.argmin(NaN)', () => a.argmin(NaN), 'Tensor.argmin', 'dim'],
      ['Tensor.triu(0.5)', () => a.triu(0.5), 'Tensor.triu', 'diagonal'],
      ['Tensor.index(NaN)', () => a.index(NaN), 'Tensor.index', 'index'],
      ['Tensor.index(1.5)', () => a.index(1.5), 'Tensor.index', 'index'],
      ['Tensor.index("::0") (step 0)', () => a.index('::0'), 'Tensor.index', 'step'],
      ['Tensor.index("::-1") (negative step)', () => a.index('::-1'), 'Tensor.index', 'step'],
      ['Tensor.index(0, 0, 0) (too many indices)', () => a.index(0, 0, 0), 'Tensor.index', 'too many indices'],
      ['Tensor.index("...", "...")', () => a.index('...', '...'), 'Tensor.index', 'ellipsis'],
      ['Tensor.size(5)', () => a.size(5), 'Tensor.size', 'dim'],
      ['torch.cat([], 0)', () => torch.cat([]), 'torch.cat', 'non-empty'],
      ['torch.stack([])', () => torch.stack([]), 'torch.stack', 'non-empty'],
      ['torch.cat([t], 0.5)', () => torch.cat([a], 0.5), 'torch.cat', 'dim'],
    ]);

    describe('dims out of range', () => {
      cases(RangeError, [
        ['Tensor.sum(5)', () => a.sum(5), /Dimension out of range/],
        ['Tensor.squeeze(3)', () => a.squeeze(3), /Dimension out of range/],
        ['Tensor.unsqueeze(5)', () => a.unsqueeze(5), /Dimension out of range/],
        ['Tensor.flatten(3)', () => a.flatten(3), /Dimension out of range/],
        ['Tensor.softmax(-3)', () => a.softmax(-3), /Dimension out of range/],
        ['Tensor.transpose(0, 2)', () => a.transpose(0, 2), /Dimension out of range/],
        ['Tensor.max(2)', () => a.max(2), /Dimension out of range/],
        ['Tensor.cumsum(5)', () => a.cumsum(5), /Dimension out of range/],
        ['torch.cat([t], 5)', () => torch.cat([a], 5), /Dimension out of range/],
        ['Tensor.select(0, 5)', () => a.select(0, 5), /out of range/],
        ['Tensor.index(5)', () => a.index(5), /out of range/],
        ['Tensor.indexSelect(0, [5])', () => a.indexSelect(0, torch.tensor([5n])), /out of range/],
      ]);

      // squeeze / unsqueeze, cat / stack and index() check dims and indices in JS, so the message
      // names the function and the argument; the generated reductions pass on libtorch's
      // "Dimension out of range" (an IndexError there) as a RangeError naming the function.
      it('dims out of range name the function', () => {
        expectError(() => a.sum(5), RangeError, 'Tensor.sum', 'Dimension out of range');
        expectError(() => a.squeeze(3), RangeError, 'Tensor.squeeze', 'dim');
        expectError(() => a.unsqueeze(5), RangeError, 'Tensor.unsqueeze', 'dim');
        expectError(() => torch.cat([a], 5), RangeError, 'torch.cat', 'dim');
        expectError(() => a.index(5), RangeError, 'Tensor.index');
        expectError(() => a.index(':', -4), RangeError, 'Tensor.index', 'dim 1');
        expectError(() => a.mean([0, -3]), RangeError, 'Tensor.mean', 'Dimension out of range');
        expectError(() => a.std(2), RangeError, 'Tensor.std', 'Dimension out of range');
        expectError(() => torch.stack([a], 4), RangeError, 'torch.stack', 'dim');
        expect(a.unsqueeze(-3).shape).to.deep.equal([1, 2, 3]);
        expect(torch.stack([a, a], 2).shape).to.deep.equal([2, 3, 2]);
        expect(torch.tensor(5).sum(-1).shape).to.deep.equal([]);
        // PyTorch's legacy rule: empty 1-D tensors are skipped by cat, dims included
        expect(torch.cat([torch.ones(0), a], 1).shape).to.deep.equal([2, 3]);
      });
    });
  });

  describe('shapes too large to allocate (RangeError before allocating)', () => {
    const huge: Case[] = [
      ['torch.zeros(2**40, 2**40) overflows', () => torch.zeros(2 ** 40, 2 ** 40), 'torch.zeros', 'elements'],
      [
        'torch.ones([2**31, 2**31, 2**31]) overflows',
        () => torch.ones([2 ** 31, 2 ** 31, 2 ** 31]),
        'torch.ones',
        'elements',
      ],
      ['torch.zeros(1e5, 1e5, 1e5) needs petabytes', () => torch.zeros(1e5, 1e5, 1e5), 'torch.zeros', 'memory'],
      ['torch.empty(1e7, 1e7) needs terabytes', () => torch.empty(1e7, 1e7), 'torch.empty', 'TiB'],
      ['torch.rand([1e6, 1e6])', () => torch.rand([1e6, 1e6]), 'torch.rand'],
      ['torch.randn(1e6, 1e6)', () => torch.randn(1e6, 1e6), 'torch.randn'],
      ['torch.full([1e6, 1e6, 1e6], 1)', () => torch.full([1e6, 1e6, 1e6], 1), 'torch.full'],
      [
        'torch.zeros([1e5, 1e5, 1e5], {dtype: bool})',
        () => torch.zeros([1e5, 1e5, 1e5], { dtype: 'bool' }),
        'torch.zeros',
      ],
      ['torch.randint(0, 10, [1e8, 1e8])', () => torch.randint(0, 10, [1e8, 1e8]), 'torch.randint'],
      ['torch.arange(0, 1e15)', () => torch.arange(0, 1e15), 'torch.arange'],
      ['torch.linspace(0, 1, 2**52)', () => torch.linspace(0, 1, 2 ** 52), 'torch.linspace'],
      ['torch.eye(1e8)', () => torch.eye(1e8), 'torch.eye'],
      ['torch.randperm(1e15)', () => torch.randperm(1e15), 'torch.randperm'],
      ['torch.zeros(2**53) (not a safe integer)', () => torch.zeros(2 ** 53), 'torch.zeros', 'shape[0]'],
    ];
    for (const [label, fn, ...patterns] of huge) {
      // Refused before allocating: no tensor is made and the peak memory does not grow (a hang
      // while trying to allocate is mocha's timeout, not a time limit here).
      it(label, () => {
        const before = torch.memory();
        const growth = peakRssGrowth(() => expectError(fn, RangeError, ...patterns));
        expect(growth, 'peak memory growth: refused before trying to allocate').to.be.below(MAX_PEAK_GROWTH);
        expect(torch.memory().tensors, 'no tensor was made').to.be.at.most(before.tensors);
        expect(torch.memory().bytes).to.be.at.most(before.bytes);
      });
    }

    it('a view of a huge shape is fine (expand allocates nothing); libtorch refuses overflowing sizes', () => {
      const e = torch.ones(1).expand(1e6, 1e6);
      expect(e.shape).to.deep.equal([1e6, 1e6]);
      expect(e.stride()).to.deep.equal([0, 0]);
      e.dispose();
      expectError(() => torch.ones(1).expand(2 ** 40, 2 ** 40), torch.TorchError, /overflow/);
      expectError(() => torch.ones(2).repeat(2 ** 40, 2 ** 40), torch.TorchError, /overflow/);
    });

    // Memory reported for a view is bounded by its storage, so a view whose numel * itemsize
    // reaches 2^60 bytes once aborted the process in napi_adjust_external_memory. Run in a
    // child process so that a regression cannot take the test run down.
    it('a huge expand() view does not crash the process', () => {
      const lib = require.resolve('../../lib');
      const script = `const torch = require(${JSON.stringify(lib)});
        const e = torch.ones(1).expand(2 ** 29, 2 ** 30);
        if (e.shape[1] !== 2 ** 30) process.exit(2);
        e.dispose();
        process.exit(0);`;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
      expect(r.status, `child exited with ${r.status} (${r.signal}): ${r.stderr.slice(0, 300)}`).to.equal(0);
    });
  });

  describe("mismatched shapes (TorchError with libtorch's message, no C++ backtrace)", () => {
    cases(torch.TorchError, [
      ['matmul (2x3 @ 2x3)', () => a.matmul(a), 'mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)'],
      ['mm (2x3 @ 2x3)', () => a.mm(a), /2x3 and 2x3/],
      ['bmm of 2-D tensors', () => a.bmm(a), /3D/],
      ['bmm batch mismatch', () => torch.ones(2, 2, 3).bmm(torch.ones(3, 3, 2)), /batch/i],
      // libtorch checks the sizes of generated ops (PyTorch raises the same RuntimeError)
      ['Tensor.repeat(-1, 1)', () => a.repeat(-1, 1), /negative dimension -2/],
      [
        'add (2,3) + (3,2)',
        () => a.add(torch.ones(3, 2)),
        /size of tensor a \(3\) must match the size of tensor b \(2\)/,
      ],
      ['mul (2,3) * (4,)', () => a.mul(torch.ones(4)), /must match/],
      ['maximum shape mismatch', () => a.maximum(torch.ones(4)), /must match/],
      ['eq shape mismatch', () => a.eq(torch.ones(4)), /must match/],
      ['maskedFill mask shape mismatch', () => a.maskedFill(torch.tensor([true, false]), 1), /must match/],
      ['maskedFill with a non-bool mask of another shape', () => a.maskedFill(torch.ones(4), 1), /./],
      ['where shape mismatch', () => torch.where(torch.tensor([true, false]), a, a), /must match/],
      ['where with a float condition', () => torch.where(torch.ones(2, 3), a, a), /boolean/],
      ['cat of different ranks', () => torch.cat([a, torch.ones(3)]), /same number of dimensions/],
      ['cat of different sizes', () => torch.cat([a, torch.ones(2, 4)]), /Sizes of tensors must match/],
      ['stack of different shapes', () => torch.stack([a, torch.ones(3, 2)]), /equal size/],
      ['view to a wrong size', () => a.view(4), "shape '[4]' is invalid for input of size 6"],
      ['reshape to a wrong size', () => a.reshape(5, -1), /invalid for input of size 6/],
      ['reshape with two -1', () => a.reshape(-1, -1), /only one dimension can be inferred/],
      ['view of a non-contiguous tensor', () => a.t().view(6), /view size is not compatible/],
      ['expand to an incompatible size', () => a.expand(4, 3), /expanded size/],
      ['narrow past the end', () => a.narrow(1, 2, 2), /exceeds dimension size/],
      ['gather with an int32 index', () => a.gather(0, torch.tensor([[0]], { dtype: 'int32' })), /int64/],
      ['gather index out of bounds', () => a.gather(0, torch.tensor([[5n]])), /out of bounds/],
      ['copy_ from a non-broadcastable shape', () => a.clone().copy_(torch.ones(4)), /must match/],
      ['permute with a wrong number of dims', () => a.permute(0, 1, 2), /number of dimensions/],
      ['permute with duplicate dims', () => a.permute(0, 0), /duplicate/],
      ['sum over a repeated dim', () => a.sum([0, 0]), /multiple times/],
      ['softmax of an int tensor', () => torch.tensor([1, 2], { dtype: 'int64' }).softmax(0), /not implemented|Long/],
      ['randn with an int dtype', () => torch.randn(2, { dtype: 'int64' }), /not implemented for 'Long'/],
      [
        'int tensor to a negative int power',
        () => torch.tensor([2], { dtype: 'int64' }).pow(-1),
        /negative integer powers/,
      ],
      ['int floor division by zero', () => torch.tensor([2], { dtype: 'int64' }).div(0, 'floor'), /ZeroDivision/],
      ['in-place op that would change the dtype', () => torch.tensor([1], { dtype: 'int32' }).div_(2), /can't be cast/],
      [
        'in-place op that would broadcast self',
        () => torch.ones(3).add_(torch.ones(2, 3)),
        /doesn't match the broadcast shape/,
      ],
      ['requiresGrad_ on an int tensor', () => torch.tensor([1], { dtype: 'int64' }).requiresGrad_(), /floating point/],
      [
        'backward with a gradient of the wrong shape',
        () => {
          const x = torch.ones([2], { requiresGrad: true });
          x.mul(x).backward(torch.ones(3));
        },
        /got \[3\] but expected shape compatible with \[2\]/,
      ],
      [
        'backward of a tensor that does not require grad',
        () => torch.ones(1).sum().backward(),
        /does not require grad/,
      ],
    ]);

    it('the error is a TorchError (an Error) with its name set', () => {
      const e = expectError(() => a.matmul(a), torch.TorchError);
      expect(e).to.be.instanceOf(Error);
      expect(e.name).to.equal('TorchError');
      expect(e.stack).to.be.a('string');
      expect(e.message).to.not.include('Exception raised from');
      expect(e.message.split('\n').length).to.be.below(4);
    });
  });

  describe('bad nested arrays', () => {
    cases(TypeError, [
      ['ragged rows [[1, 2], [3]]', () => torch.tensor([[1, 2], [3]]), 'torch.tensor', 'data[1]', 'length 2'],
      ['ragged depth [[1], 2]', () => torch.tensor([[1], 2]), 'torch.tensor', 'data[1]'],
      ['ragged depth [1, [2]]', () => torch.tensor([1, [2]]), 'torch.tensor', 'data[1]'],
      ['ragged deep [[[1, 2]], [[3]]]', () => torch.tensor([[[1, 2]], [[3]]]), 'torch.tensor', 'data[1][0]'],
      ['empty then non-empty [[], [1]]', () => torch.tensor([[], [1]]), 'torch.tensor', 'data[1]'],
      ['mixed numbers and booleans', () => torch.tensor([1, true]), 'torch.tensor', 'mixed', 'data[1]'],
      [
        'mixed numbers and bigints',
        () =>
          torch.tensor([
            [1, 2],
            [3n, 4],
          ] as never),
        'torch.tensor',
        'data[1][0]',
      ],
      ['a string element', () => torch.tensor([1, any('2')]), 'torch.tensor', 'data[1]', 'string'],
      ['a null element', () => torch.tensor([[1, any(null)]]), 'torch.tensor', 'data[0][1]', 'null'],
      ['an undefined element', () => torch.tensor([any(undefined)]), 'torch.tensor', 'data[0]', 'undefined'],
      ['an object element', () => torch.tensor([any({})]), 'torch.tensor', 'data[0]'],
      ['a string', () => torch.tensor(any('abc')), 'torch.tensor', 'string'],
      ['undefined', () => torch.tensor(any(undefined)), 'torch.tensor', 'undefined'],
      ['null', () => torch.tensor(any(null)), 'torch.tensor', 'null'],
      ['an object', () => torch.tensor(any({ length: 2 })), 'torch.tensor'],
      ['an unsupported TypedArray', () => torch.tensor(any(new Uint16Array(2))), 'torch.tensor', 'Uint16Array'],
      ['a DataView', () => torch.tensor(any(new DataView(new ArrayBuffer(4)))), 'torch.tensor'],
    ]);
  });

  describe('unknown dtype and device strings', () => {
    cases(TypeError, [
      [
        'torch.tensor dtype float8',
        () => torch.tensor([1], { dtype: any('float8') }),
        'torch.tensor',
        'dtype',
        'float8',
      ],
      ['torch.zeros dtype complex64', () => torch.zeros([1], { dtype: any('complex64') }), 'torch.zeros', 'dtype'],
      ['torch.zeros dtype as a number', () => torch.zeros([1], { dtype: any(5) }), 'torch.zeros', 'dtype'],
      ['torch.full dtype', () => torch.full([1], 1, { dtype: any('x') }), 'torch.full', 'dtype'],
      ['torch.arange dtype', () => torch.arange(3, { dtype: any('Float') }), 'torch.arange', 'dtype'],
      ['torch.eye dtype', () => torch.eye(2, { dtype: any('double ') }), 'torch.eye', 'dtype'],
      ['Tensor.to(unknown dtype)', () => a.to(any('float8')), 'Tensor.to', 'float8'],
      ['Tensor.to({dtype: unknown})', () => a.to({ dtype: any('x') }), 'Tensor.to', 'dtype'],
      ['Tensor.sum({dtype: unknown})', () => a.sum(null, { dtype: any('x') }), 'Tensor.sum', 'dtype'],
      ['Tensor.softmax({dtype: unknown})', () => a.softmax(1, { dtype: any('x') }), 'Tensor.softmax', 'dtype'],
      ['torch.tensor device gpu', () => torch.tensor([1], { device: 'gpu' }), 'torch.tensor', 'device', 'gpu'],
      ['torch.zeros device CPU', () => torch.zeros([1], { device: 'CPU' }), 'torch.zeros', 'device'],
      ['torch.ones device cuda:x', () => torch.ones([1], { device: 'cuda:x' }), 'torch.ones', 'device'],
      ['torch.randn device as a number', () => torch.randn([1], { device: any(0) }), 'torch.randn', 'device'],
      ['Tensor.to({device: tpu})', () => a.to({ device: 'tpu' }), 'Tensor.to', 'device', 'tpu'],
      ['Tensor.cuda(a string)', () => a.cuda('gpu'), 'Tensor.cuda', 'device'],
    ]);

    it('Tensor.to with a mistyped device string says which strings it accepts', () => {
      // neither a dtype nor a device: the message lists both
      for (const s of ['CPU', 'mps', 'cuda:x', 'float8']) {
        expectError(
          () => a.to(any(s)),
          TypeError,
          'Tensor.to',
          s,
          'a dtype (float32',
          "a device ('cpu', 'cuda' or 'cuda:N')",
        );
      }
    });

    it('torch.zeros / ones / empty / rand / randn need a size (zeros([]) is 0-dim)', () => {
      expectError(() => (torch.zeros as (...a: unknown[]) => unknown)(), TypeError, 'torch.zeros', 'size');
      expectError(() => (torch.ones as (...a: unknown[]) => unknown)(), TypeError, 'torch.ones', 'size');
      expectError(() => (torch.empty as (...a: unknown[]) => unknown)(), TypeError, 'torch.empty', 'size');
      expectError(() => (torch.rand as (...a: unknown[]) => unknown)(), TypeError, 'torch.rand', 'size');
      expectError(
        () => (torch.randn as (...a: unknown[]) => unknown)({ dtype: 'float64' }),
        TypeError,
        'torch.randn',
        'size',
      );
      expect(torch.zeros([]).shape).to.deep.equal([]);
      expect(torch.ones([], { dtype: 'int64' }).item()).to.equal(1);
    });

    it('*Like factories name themselves in option errors', () => {
      expectError(() => torch.onesLike(a, { dtype: any('x') }), TypeError, 'torch.onesLike', 'dtype');
      expectError(() => torch.emptyLike(a, { device: any('gpu') }), TypeError, 'torch.emptyLike', 'device');
      expectError(() => torch.randLike(a, { requiresGrad: any(1) }), TypeError, 'torch.randLike', 'requiresGrad');
      expectError(() => torch.fullLike(a, any('x')), TypeError, 'torch.fullLike', 'fillValue');
      expectError(() => torch.zerosLike(a, { dtype: 'int64', requiresGrad: true }), TypeError, 'torch.zerosLike');
    });
  });

  describe("'cuda' when CUDA is unavailable", () => {
    before(function () {
      if (torch.cuda.isAvailable()) this.skip();
    });
    cases(Error, [
      ['torch.tensor', () => torch.tensor([1], { device: 'cuda' }), 'torch.tensor', 'CUDA is not available'],
      ['torch.zeros', () => torch.zeros([1], { device: 'cuda' }), 'torch.zeros', 'CUDA is not available'],
      ['torch.randn cuda:0', () => torch.randn([1], { device: 'cuda:0' }), 'torch.randn', 'CUDA is not available'],
      ['torch.arange', () => torch.arange(3, { device: 'cuda' }), 'torch.arange', 'CUDA is not available'],
      ['Tensor.to(cuda)', () => a.to('cuda'), 'Tensor.to', 'CUDA is not available'],
      ['Tensor.to({device: cuda:0})', () => a.to({ device: 'cuda:0' }), 'Tensor.to', 'CUDA is not available'],
      ['Tensor.cuda()', () => a.cuda(), 'Tensor.cuda', 'CUDA is not available'],
    ]);
    it('torch.zerosLike names itself in option errors', () => {
      expectError(() => torch.zerosLike(a, { device: 'cuda' }), Error, 'torch.zerosLike', 'CUDA');
      expectError(() => torch.onesLike(a, { dtype: any('x') }), TypeError, 'torch.onesLike', 'dtype');
    });
    it('reports it as unavailable', () => {
      expect(torch.cuda.isAvailable()).to.equal(false);
      expect(torch.cuda.deviceCount()).to.equal(0);
      expect(torch.config().cuda.available).to.equal(false);
    });
  });

  describe('disposed tensors', () => {
    const live = torch.ones(2, 3);
    const disposed = (big = false): torch.Tensor => {
      const t = big ? torch.ones(100, 3) : torch.ones(2, 3); // small (number handle) and large (external)
      t.dispose();
      return t;
    };

    for (const big of [false, true]) {
      describe(big ? 'large tensors' : 'small tensors', () => {
        const d = disposed(big);
        it('isDisposed / dispose() is idempotent / inspect', () => {
          expect(d.isDisposed).to.equal(true);
          expect(live.isDisposed).to.equal(false);
          d.dispose();
          d[Symbol.dispose]();
          expect(inspect(d)).to.equal('tensor(<disposed>)');
        });
        cases(Error, [
          ['as self of an op', () => d.add(live), /disposed/],
          ['as self of a unary op', () => d.exp(), /disposed/],
          ['as self of a reduction', () => d.sum(), /disposed/],
          ['as self of an in-place op', () => d.add_(1), /disposed/],
          ['as self of a shape op', () => d.reshape(6), /disposed/],
          ['as other', () => live.add(d), /disposed/],
          ['as other of matmul', () => live.matmul(d), /disposed/],
          ['as a mask', () => live.maskedFill(d, 0), /disposed/],
          ['as a condition', () => torch.where(d, live, live), /disposed/],
          ['as src of copy_', () => live.clone().copy_(d), /disposed/],
          ['as a list element of cat', () => torch.cat([live, d]), /disposed/],
          ['as a list element of stack', () => torch.stack([d]), /disposed/],
          ['as an index tensor', () => live.index(d), /disposed/],
          ['as an index of indexSelect', () => live.indexSelect(0, d), /disposed/],
          ['as the input of zerosLike', () => torch.zerosLike(d), /disposed/],
          [
            'as the gradient of backward',
            () => torch.ones([2, 3], { requiresGrad: true }).mul(2).backward(d),
            /disposed/,
          ],
          [
            'as the value of .grad',
            () => {
              torch.ones([2, 3], { requiresGrad: true }).grad = d;
            },
            /disposed/,
          ],
          ['item()', () => d.item(), /disposed/],
          ['data()', () => d.data(), /disposed/],
          ['toArray()', () => d.toArray(), /disposed/],
          ['toString()', () => d.toString(), /disposed/],
          ['shape', () => d.shape, /disposed/],
          ['dtype', () => d.dtype, /disposed/],
          ['requiresGrad', () => d.requiresGrad, /disposed/],
          ['grad', () => d.grad, /disposed/],
          ['backward()', () => d.backward(), /disposed/],
          ['to()', () => d.to('float64'), /disposed/],
          ['clone()', () => d.clone(), /disposed/],
        ]);
        it('errors for ops name the op', () => {
          expectError(() => d.add(live), Error, 'add', 'disposed');
          expectError(() => live.matmul(d), Error, 'matmul', 'disposed');
          expectError(() => torch.cat([live, d]), Error, 'cat', 'element 1', 'disposed');
        });
      });
    }

    // dispose() sets a JS-side flag, so errors name the JS function and argument.
    it('disposed-tensor errors name the JS function and argument', () => {
      const d = disposed();
      expectError(() => torch.zerosLike(d), Error, 'torch.zerosLike', 'input');
      expectError(() => d.shape, Error, 'shape');
      expectError(() => d.index(0), Error, 'Tensor.index');
      expectError(() => live.index(d), Error, 'Tensor.index');
      expectError(() => live.expandAs(d), Error, 'Tensor.expandAs', 'other');
      expectError(() => d.toString(), Error, 'toString');
      expectError(() => live.maskedFill(d, 1), Error, 'Tensor.maskedFill', 'mask');
      expectError(() => live.add(d), Error, 'Tensor.add', 'other');
    });

    it('disposed operands are named in every operand position', () => {
      for (const big of [false, true]) {
        const d = disposed(big);
        const l = live.clone();
        const named: [() => unknown, string, string][] = [
          [() => l.sub(d), 'Tensor.sub', 'other'],
          [() => l.mul(d), 'Tensor.mul', 'other'],
          [() => l.div(d), 'Tensor.div', 'other'],
          [() => l.pow(d), 'Tensor.pow', 'exponent'],
          [() => l.remainder(d), 'Tensor.remainder', 'other'],
          [() => l.eq(d), 'Tensor.eq', 'other'],
          [() => l.ge(d), 'Tensor.ge', 'other'],
          [() => l.add_(d), 'Tensor.add_', 'other'],
          [() => l.fill_(d), 'Tensor.fill_', 'value'],
          [() => l.maskedFill(live.gt(0), d), 'Tensor.maskedFill', 'value'],
          [() => l.where(live.gt(0), d), 'Tensor.where', 'other'],
          [() => torch.where(live.gt(0), d, 1), 'torch.where', 'input'],
          [() => l.clamp(d), 'Tensor.clamp', 'min'],
          [() => l.copy_(d), 'Tensor.copy_', 'src'],
          [() => l.to(d), 'Tensor.to', 'other'],
          [() => l.expandAs(d), 'Tensor.expandAs', 'other'],
          [() => torch.onesLike(d), 'torch.onesLike', 'input'],
          [() => torch.fullLike(d, 1), 'torch.fullLike', 'input'],
          [() => torch.cat([l, d]), 'torch.cat', 'element 1'],
          [() => d.dtype, 'Tensor.dtype', 'disposed'],
          [() => d.expandAs(l), 'Tensor.expandAs', 'disposed'],
        ];
        for (const [f, fn, arg] of named) expectError(f, Error, fn, arg, 'disposed');
      }
    });

    it('a disposed tensor stays disposed for cached metadata, using and tidy', () => {
      const t = torch.ones(2, 3);
      expect(t.shape).to.deep.equal([2, 3]); // cached
      t.dispose();
      expectError(() => t.shape, Error, 'Tensor.shape', 'disposed');
      expectError(() => t.numel(), Error, 'disposed');
      let u: torch.Tensor;
      {
        using v = torch.ones(2);
        u = v;
      }
      expect(u.isDisposed).to.equal(true);
      expectError(() => live.add(u), Error, 'Tensor.add', 'other', 'disposed');
      const w = torch.tidy(() => {
        const x = torch.ones(2);
        torch.tidy(() => x.add(1));
        return x;
      });
      const inner: torch.Tensor[] = [];
      torch.tidy(() => {
        inner.push(torch.ones(3));
      });
      expect(inner[0].isDisposed).to.equal(true);
      expectError(() => live.index(inner[0]), Error, 'Tensor.index', 'disposed');
      expect(w.isDisposed).to.equal(false);
    });

    it('views of a disposed tensor stay valid', () => {
      const t = torch.arange(6, { dtype: 'float32' });
      const v = t.view(2, 3);
      t.dispose();
      expect(v.toArray()).to.deep.equal([
        [0, 1, 2],
        [3, 4, 5],
      ]);
    });
  });

  describe('item() and backward() misuse', () => {
    cases(torch.TorchError, [
      [
        'item() on a 4-element tensor',
        () =>
          torch
            .tensor([
              [1, 2],
              [3, 4],
            ])
            .item(),
        /4 elements cannot be converted to Scalar/,
      ],
      ['item() on an empty tensor', () => torch.tensor([]).item(), /0 elements/],
      [
        'backward() on a non-scalar without gradient',
        () => {
          const x = torch.ones([2, 2], { requiresGrad: true });
          x.mul(2).backward();
        },
        /grad can be implicitly created only for scalar outputs/,
      ],
      [
        'a second backward through a freed graph',
        () => {
          const x = torch.ones([2], { requiresGrad: true });
          const y = x.exp().sum();
          y.backward();
          y.backward();
        },
        /second time/,
      ],
    ]);
  });

  describe('after all these errors', () => {
    it('failed calls leave no tensors behind', () => {
      const five = torch.ones(5);
      const failing: [string, () => unknown][] = [
        ['int tensor with requiresGrad', () => torch.tensor([1, 2], { dtype: 'int64', requiresGrad: true })],
        ['int zeros with requiresGrad', () => torch.zeros([2], { dtype: 'int32', requiresGrad: true })],
        ['matmul mismatch', () => a.matmul(a)],
        ['cat mismatch', () => torch.cat([a, five])],
        ['ragged tensor()', () => torch.tensor([[1, 2], [3]])],
        ['huge zeros', () => torch.zeros(1e7, 1e7)],
        ['index, first item bad', () => a.index(9)],
      ];
      for (const [label, f] of failing) {
        const before = torch.memory().tensors;
        expect(f, label).to.throw(Error);
        expect(torch.memory().tensors - before, `${label}: tensors left`).to.be.at.most(0);
      }
    });

    // Every intermediate of a failing index() is disposed, the latest one included.
    it('a failing index() disposes its intermediates', () => {
      const x = torch.ones(2, 3, 4);
      const bad = torch.tensor([9n]);
      for (const f of [() => x.index(0, 5), () => x.index(0, '1:', 9), () => x.index(null, 0, bad)]) {
        const before = torch.memory().tensors;
        expect(f).to.throw(RangeError);
        expect(torch.memory().tensors - before).to.be.at.most(0);
      }
    });

    it('the library still works, grad mode is on', () => {
      expect(torch.isGradEnabled()).to.equal(true);
      const x = torch.tensor(
        [
          [1, 2],
          [3, 4],
        ],
        { requiresGrad: true },
      );
      const y = x.matmul(x).sum();
      expectClose(y, 54);
      y.backward();
      expectClose(x.grad!, [
        [7, 11],
        [9, 13],
      ]);
      expectClose(torch.ones(2, 3).add(1), [
        [2, 2, 2],
        [2, 2, 2],
      ]);
    });
  });
});

describe('option hints (errors.ts suggestOption, behind every unknown-option error)', () => {
  it("suggests PyTorch's snake_case spelling and other capitalisations in camelCase", () => {
    expect(suggestOption('batch_first', ['numLayers', 'batchFirst'])).to.equal('batchFirst');
    expect(suggestOption('weight_decay', ['lr', 'weightDecay'])).to.equal('weightDecay');
    expect(suggestOption('Bias', ['bias'])).to.equal('bias');
  });

  it('suggests the option a typo meant: one edit from 6 characters, two from 9, a transposition counting one', () => {
    expect(suggestOption('mommentum', ['lr', 'momentum'])).to.equal('momentum');
    expect(suggestOption('lenght', ['length'])).to.equal('length');
    expect(suggestOption('patiense', ['patience', 'mode'])).to.equal('patience');
    expect(suggestOption('momemtnum', ['momentum'])).to.equal('momentum');
  });

  it('gives no hint for short keys, far keys, or a tie between two options', () => {
    expect(suggestOption('biass', ['bias'])).to.equal(undefined);
    expect(suggestOption('delta', ['reduction', 'beta'])).to.equal(undefined);
    expect(suggestOption('epsilon', ['eps'])).to.equal(undefined);
    expect(suggestOption('weights', ['weight', 'weighta'])).to.equal(undefined);
  });

  it('the message names the function, the key, the hint and the known options', () => {
    expectError(
      () => checkOptions('F.thing', { batch_first: true }, ['batchFirst', 'dtype']),
      TypeError,
      "F.thing: unknown option 'batch_first', did you mean 'batchFirst'? (known: batchFirst, dtype)",
    );
    expectError(() => checkOptions('F.thing', { x: 1 }, []), TypeError, "F.thing: unknown option 'x' (known: none)");
  });
});

describe('every options object is checked by name (checkOptions takes the known keys, always)', () => {
  it('losses, creation, conversion, activations, packing and checkpoints refuse an unknown key with a hint', () => {
    const F = torch.nn.functional;
    const x = torch.ones(2, 3);
    const cases: [() => unknown, string, string][] = [
      [() => F.mseLoss(x, x, { reduce: 'sum' } as never), 'F.mseLoss', "'reduce'"],
      [() => F.smoothL1Loss(x, x, { Beta: 1 } as never), 'F.smoothL1Loss', "did you mean 'beta'"],
      [() => F.klDiv(x, x, { log_target: true } as never), 'F.klDiv', "did you mean 'logTarget'"],
      [
        () => F.binaryCrossEntropyWithLogits(x, x, { pos_weight: null } as never),
        'F.binaryCrossEntropyWithLogits',
        "did you mean 'posWeight'",
      ],
      [
        () => F.crossEntropy(x, torch.zeros([2], { dtype: 'int64' }), { label_smoothing: 0.1 } as never),
        'F.crossEntropy',
        "did you mean 'labelSmoothing'",
      ],
      [() => torch.zeros([2], { requires_grad: true } as never), 'torch.zeros', "did you mean 'requiresGrad'"],
      [() => x.to({ dtype: 'float64', non_blocking: true } as never), 'Tensor.to', "'non_blocking'"],
      [() => x.softmax(1, { dtyp: 'float64' } as never), 'Tensor.softmax', "'dtyp'"],
      [() => x.allclose(x, { equal_nan: true } as never), 'Tensor.allclose', "did you mean 'equalNan'"],
      [
        () => torch.nn.utils.rnn.padSequence([x], { batch_first: true } as never),
        'padSequence',
        "did you mean 'batchFirst'",
      ],
      [() => torch.load(Buffer.alloc(0), { map_location: 'cpu' } as never), 'torch.load', "did you mean 'mapLocation'"],
    ];
    for (const [call, fn, hint] of cases) expectError(call, TypeError, fn, 'unknown option', hint);
  });
});
