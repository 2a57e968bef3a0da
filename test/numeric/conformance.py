#!/usr/bin/python3
"""Numeric conformance tests of kiln's reference interpreter.

Every case is one small MLIR module (func.func @forward applying one kiln op,
or a few), its inputs as .npy files and the expected outputs. The harness runs

    kiln run CASE.mlir --device reference --input argN=FILE.npy ...
         --output-dir DIR [--precision native|f64]

and compares DIR/resultN.npy with the expectation.

Expected values come from two independent sources:
  * ONNX backend conformance data (Debian's libonnx-testdata, ONNX 1.12):
    /usr/share/libonnx-testdata/data/node/test_*/ holds model.onnx and
    test_data_set_0/{input,output}_N.pb. ONNX_TABLE below maps a test
    directory to a builder that turns the ONNX node (attributes, input
    shapes and dtypes, constant inputs such as axes or pads) into kiln MLIR;
    ONNX_SKIPS lists related tests that kiln cannot express, with the reason.
  * NumPy references (NUMPY_CASES) for what ONNX 1.12 has no test of (gelu,
    rsqrt, iota, scatter_add, rng, dropout, casts between float, int and
    bool, integer semantics, f16/bf16/f64 variants, ...). kiln.rng and
    kiln.dropout are checked bit-for-bit against a NumPy port of the
    Philox4x32-10 stream specified in ir/Philox.h (itself checked against
    the Random123 known-answer vectors), plus statistical checks.

Usage:
    /usr/bin/python3 test/numeric/conformance.py --kiln build/bin/kiln \
        [--filter REGEX] [-j N] [-v] [--keep DIR]

Prints one line per failure and ends with "N passed, M failed, K skipped";
exits non-zero when a case fails, or (without --filter) when an op of
ir/KilnOps.td has no case. Needs onnx and numpy: run it with /usr/bin/python3.
"""

import argparse
import glob
import math
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zlib

try:
    import numpy as np
except ImportError:
    print('numpy is missing: run with /usr/bin/python3 (python3-numpy); skipped')
    sys.exit(77)  # ctest's SKIP_RETURN_CODE

try:
    import onnx
    from onnx import numpy_helper
except ImportError:  # The ONNX cases are skipped, the NumPy ones still run.
    onnx = None

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OPS_TD = os.path.join(ROOT, 'ir', 'KilnOps.td')
ONNX_DIR = '/usr/share/libonnx-testdata/data/node'

#===----------------------------------------------------------------------===#
# Tolerances
#===----------------------------------------------------------------------===#
#
# A value passes when |got - want| <= atol + rtol * |want| (NaN must match
# NaN, infinities must match exactly). Integer and boolean results must be
# exactly equal. The float tolerances are a few units in the last place of
# the type, widened for f32 to cover the order of summation in reductions,
# matmul and convolution and the 1-ulp differences between libm and NumPy.
TOLERANCES = {
    'float64': (1e-12, 1e-12),   # vs NumPy float64 references
    'float32': (1e-5, 1e-6),     # ~80 ulp relative; atol for cancellation
    'float16': (1e-3, 1e-4),     # 1 ulp (eps 2^-10)
    'bfloat16': (8e-3, 1e-3),    # 1 ulp (eps 2^-7)
}
EXACT = ('bool', 'int32', 'int64')

#===----------------------------------------------------------------------===#
# MLIR builder
#===----------------------------------------------------------------------===#

NP_TO_ELEM = {'float16': 'f16', 'float32': 'f32', 'float64': 'f64',
              'bool': 'i1', 'int32': 'i32', 'int64': 'i64'}
ELEM_TO_NP = {'f16': np.float16, 'f32': np.float32, 'f64': np.float64,
              'bf16': np.float32,  # NumPy has no bfloat16: kiln reads/writes f32
              'i1': np.bool_, 'i32': np.int32, 'i64': np.int64}
FLOAT_ELEMS = ('f16', 'bf16', 'f32', 'f64')


class Unsupported(Exception):
    """The case uses something kiln does not have (reported as a skip)."""


def ttype(shape, et):
    dims = 'x'.join(str(d) for d in shape)
    return 'tensor<%s%s>' % (dims + 'x' if dims else '', et)


def fmt_float(v):
    v = float(v)
    if not math.isfinite(v):
        raise Unsupported('non-finite attribute or constant %r' % v)
    return '%.17e' % v


def ilist(xs):
    return '[' + ', '.join(str(int(x)) for x in xs) + ']'


class V:
    """An SSA value: name, shape, element type."""

    def __init__(self, name, shape, et):
        self.name, self.shape, self.et = name, tuple(int(d) for d in shape), et

    @property
    def type(self):
        return ttype(self.shape, self.et)


def dense_literal(arr, et):
    def elem(x):
        if et == 'i1':
            return 'true' if x else 'false'
        if et in FLOAT_ELEMS:
            if not math.isfinite(x):  # hexadecimal bit pattern of the type
                if et == 'f64':
                    return '0x%016X' % np.float64(x).view(np.uint64)
                if et == 'f16':
                    return '0x%04X' % np.float16(x).view(np.uint16)
                bits = int(np.float32(x).view(np.uint32))
                return '0x%04X' % (bits >> 16) if et == 'bf16' else '0x%08X' % bits
            return fmt_float(x)
        return str(int(x))

    def rec(a):
        if a.ndim == 0:
            return elem(a.item())
        return '[' + ', '.join(rec(s) for s in a) + ']'
    if arr.ndim == 0 or (arr.size > 0 and np.all(arr == arr.flat[0])):
        return 'dense<%s>' % elem(arr.flat[0])
    return 'dense<%s>' % rec(arr)


class Fn:
    """Builds `func.func @forward` and records its inputs and expectations."""

    def __init__(self):
        self.args = []       # (V, array)
        self.lines = []
        self.results = []    # (V, expected array or None)
        self.n = 0
        self.ops = set()

    # -- plumbing
    def _new(self, shape, et):
        v = V('%%v%d' % self.n, shape, et)
        self.n += 1
        return v

    def _op(self, mnemonic, text, shape, et):
        self.ops.add(mnemonic)
        v = self._new(shape, et)
        self.lines.append('    %s = %s' % (v.name, text))
        return v

    def arg(self, array, et=None):
        """A function argument fed with `array` (et overrides, e.g. bf16)."""
        array = np.asarray(array)
        if et is None:
            if array.dtype.name not in NP_TO_ELEM:
                raise Unsupported('element type %s' % array.dtype.name)
            et = NP_TO_ELEM[array.dtype.name]
        if et == 'bf16':
            array = array.astype(np.float32)
        v = V('%%arg%d' % len(self.args), array.shape, et)
        self.args.append((v, array))
        return v

    def ret(self, v, expected=None):
        if expected is not None:
            expected = np.asarray(expected)
            if tuple(expected.shape) != v.shape:
                raise AssertionError('builder bug: result shape %s, expected %s'
                                     % (v.shape, expected.shape))
        self.results.append((v, expected))

    def text(self):
        args = ', '.join('%s: %s' % (v.name, v.type) for v, _ in self.args)
        res = ', '.join(v.type for v, _ in self.results)
        body = '\n'.join(self.lines)
        rets = ', '.join(v.name for v, _ in self.results)
        rtys = ', '.join(v.type for v, _ in self.results)
        return ('module {\n  func.func @forward(%s) -> (%s) {\n%s\n'
                '    return %s : %s\n  }\n}\n' % (args, res, body, rets, rtys))

    # -- kiln ops
    def unary(self, op, x):
        return self._op(op, 'kiln.%s %s : %s' % (op, x.name, x.type), x.shape, x.et)

    def binary(self, op, a, b):
        assert a.shape == b.shape and a.et == b.et, (op, a.type, b.type)
        return self._op(op, 'kiln.%s %s, %s : %s' % (op, a.name, b.name, a.type),
                        a.shape, a.et)

    def compare(self, direction, a, b):
        assert a.shape == b.shape and a.et == b.et
        return self._op('compare', 'kiln.compare %s, %s, %s : %s'
                        % (direction, a.name, b.name, a.type), a.shape, 'i1')

    def select(self, c, a, b):
        return self._op('select', 'kiln.select %s, %s, %s : %s, %s'
                        % (c.name, a.name, b.name, c.type, a.type), a.shape, a.et)

    def cast(self, x, et):
        if x.et == et:
            return x
        return self._op('cast', 'kiln.cast %s : %s -> %s'
                        % (x.name, x.type, ttype(x.shape, et)), x.shape, et)

    def broadcast(self, x, dims, shape):
        return self._op('broadcast', 'kiln.broadcast %s, dims = %s : %s -> %s'
                        % (x.name, ilist(dims), x.type, ttype(shape, x.et)),
                        shape, x.et)

    def bcast_to(self, x, shape):
        """NumPy/ONNX multidirectional broadcasting made explicit."""
        shape = tuple(shape)
        if x.shape == shape:
            return x
        off = len(shape) - len(x.shape)
        return self.broadcast(x, [off + i for i in range(len(x.shape))], shape)

    def reduce(self, kind, x, dims, keep=False):
        dims = sorted(d % len(x.shape) for d in dims)
        shape = [1 if i in dims else s for i, s in enumerate(x.shape)
                 if keep or i not in dims]
        return self._op('reduce', 'kiln.reduce %s %s, dims = %s%s : %s'
                        % (kind, x.name, ilist(dims), ' keep_dims' if keep else '',
                           x.type), shape, x.et)

    def argmax(self, x, dim):
        dim %= len(x.shape)
        shape = [s for i, s in enumerate(x.shape) if i != dim]
        return self._op('argmax', 'kiln.argmax %s, dim = %d : %s'
                        % (x.name, dim, x.type), shape, 'i64')

    def matmul(self, a, b, ta=False, tb=False):
        m = a.shape[-1] if ta else a.shape[-2]
        n = b.shape[-2] if tb else b.shape[-1]
        flags = (' transpose_a' if ta else '') + (' transpose_b' if tb else '')
        return self._op('matmul', 'kiln.matmul %s, %s%s : %s, %s'
                        % (a.name, b.name, flags, a.type, b.type),
                        a.shape[:-2] + (m, n), a.et)

    def conv2d(self, x, w, strides=(1, 1), padding=(0, 0, 0, 0), dilations=(1, 1),
               groups=1):
        n, _, h, wd = x.shape
        o, _, kh, kw = w.shape
        oh = (h + padding[0] + padding[2] - dilations[0] * (kh - 1) - 1) // strides[0] + 1
        ow = (wd + padding[1] + padding[3] - dilations[1] * (kw - 1) - 1) // strides[1] + 1
        return self._op('conv2d', 'kiln.conv2d %s, %s, strides = %s, padding = %s, '
                        'dilations = %s, groups = %d : %s, %s'
                        % (x.name, w.name, ilist(strides), ilist(padding),
                           ilist(dilations), groups, x.type, w.type),
                        (n, o, oh, ow), x.et)

    def pool2d(self, kind, x, window, strides, padding=(0, 0, 0, 0),
               count_include_pad=False):
        n, c, h, w = x.shape
        oh = (h + padding[0] + padding[2] - window[0]) // strides[0] + 1
        ow = (w + padding[1] + padding[3] - window[1]) // strides[1] + 1
        attrs = ' {count_include_pad}' if count_include_pad else ''
        return self._op('pool2d', 'kiln.pool2d %s %s, window = %s, strides = %s, '
                        'padding = %s%s : %s'
                        % (kind, x.name, ilist(window), ilist(strides),
                           ilist(padding), attrs, x.type), (n, c, oh, ow), x.et)

    def reshape(self, x, shape):
        shape = tuple(shape)
        if shape == x.shape:
            return x
        return self._op('reshape', 'kiln.reshape %s : %s -> %s'
                        % (x.name, x.type, ttype(shape, x.et)), shape, x.et)

    def transpose(self, x, perm):
        return self._op('transpose', 'kiln.transpose %s, perm = %s : %s'
                        % (x.name, ilist(perm), x.type),
                        [x.shape[p] for p in perm], x.et)

    def slice(self, x, start, limit, step):
        shape = [max(0, -(-(l - s) // st)) for s, l, st in zip(start, limit, step)]
        return self._op('slice', 'kiln.slice %s, start = %s, limit = %s, step = %s : %s'
                        % (x.name, ilist(start), ilist(limit), ilist(step), x.type),
                        shape, x.et)

    def concat(self, xs, dim):
        dim %= len(xs[0].shape)
        shape = list(xs[0].shape)
        shape[dim] = sum(x.shape[dim] for x in xs)
        return self._op('concat', 'kiln.concat %s dim = %d : %s'
                        % (', '.join(x.name for x in xs), dim,
                           ', '.join(x.type for x in xs)), shape, xs[0].et)

    def pad(self, x, low, high, value):
        shape = [s + l + h for s, l, h in zip(x.shape, low, high)]
        return self._op('pad', 'kiln.pad %s, low = %s, high = %s, value = %s : %s'
                        % (x.name, ilist(low), ilist(high), fmt_float(value), x.type),
                        shape, x.et)

    def gather(self, table, idx, axis):
        shape = table.shape[:axis] + idx.shape + table.shape[axis + 1:]
        return self._op('gather', 'kiln.gather %s, %s, axis = %d : %s, %s'
                        % (table.name, idx.name, axis, table.type, idx.type),
                        shape, table.et)

    def scatter_add(self, upd, idx, axis, shape):
        return self._op('scatter_add', 'kiln.scatter_add %s, %s, axis = %d : %s, %s -> %s'
                        % (upd.name, idx.name, axis, upd.type, idx.type,
                           ttype(shape, upd.et)), shape, upd.et)

    def iota(self, dim, shape, et):
        return self._op('iota', 'kiln.iota dim = %d : %s' % (dim, ttype(shape, et)),
                        shape, et)

    def constant(self, value, et=None, shape=None):
        arr = np.asarray(value)
        if et is None:
            et = NP_TO_ELEM[arr.dtype.name]
        if shape is not None:
            arr = np.broadcast_to(arr, shape)
        return self._op('constant', 'kiln.constant %s : %s'
                        % (dense_literal(arr, et), ttype(arr.shape, et)), arr.shape, et)

    def scalar_like(self, value, x):
        """A constant of x's type and shape, every element `value`."""
        return self.constant(np.asarray(value, dtype=ELEM_TO_NP[x.et]), x.et, x.shape)

    def rng(self, dist, seed, offset, a, b, shape, et):
        return self._op('rng', 'kiln.rng %s %s, %s, a = %s, b = %s : %s'
                        % (dist, seed.name, offset.name, fmt_float(a), fmt_float(b),
                           ttype(shape, et)), shape, et)

    def softmax(self, x, dim, log=False):
        op = 'log_softmax' if log else 'softmax'
        return self._op(op, 'kiln.%s %s, dim = %d : %s'
                        % (op, x.name, dim % len(x.shape), x.type), x.shape, x.et)

    def cross_entropy(self, logits, labels, reduction='mean'):
        red = '' if reduction == 'mean' else ' reduction = %s' % reduction
        shape = (logits.shape[0],) if reduction == 'none' else ()
        return self._op('cross_entropy', 'kiln.cross_entropy %s, %s%s : %s, %s'
                        % (logits.name, labels.name, red, logits.type, labels.type),
                        shape, logits.et)

    def layer_norm(self, x, g, b, axis, eps=None):
        attrs = '' if eps is None else ' {epsilon = %s : f64}' % fmt_float(eps)
        return self._op('layer_norm', 'kiln.layer_norm %s, %s, %s, axis = %d%s : %s, %s'
                        % (x.name, g.name, b.name, axis % len(x.shape), attrs,
                           x.type, g.type), x.shape, x.et)

    def batch_norm(self, x, g, b, m, v, eps=None, momentum=None, training=False):
        attrs = []
        if eps is not None:
            attrs.append('epsilon = %s : f64' % fmt_float(eps))
        if momentum is not None:
            attrs.append('momentum = %s : f64' % fmt_float(momentum))
        if training:
            attrs.append('training')
        attr = ' {%s}' % ', '.join(attrs) if attrs else ''
        self.ops.add('batch_norm')
        y = self._new(x.shape, x.et)
        rm = self._new(g.shape, g.et)
        rv = self._new(g.shape, g.et)
        self.lines.append('    %s, %s, %s = kiln.batch_norm %s, %s, %s, %s, %s%s : %s, %s'
                          % (y.name, rm.name, rv.name, x.name, g.name, b.name,
                             m.name, v.name, attr, x.type, g.type))
        return y, rm, rv

    def gelu(self, x, approximate='none'):
        attr = '' if approximate == 'none' else \
            ' {approximate = #kiln<gelu_approx %s>}' % approximate
        return self._op('gelu', 'kiln.gelu %s%s : %s' % (x.name, attr, x.type),
                        x.shape, x.et)

    def dropout(self, x, seed, offset, ratio):
        return self._op('dropout', 'kiln.dropout %s, %s, %s, ratio = %s : %s'
                        % (x.name, seed.name, offset.name, fmt_float(ratio), x.type),
                        x.shape, x.et)


#===----------------------------------------------------------------------===#
# ONNX cases: test directory -> builder(f, attrs, inputs, outputs)
#===----------------------------------------------------------------------===#
#
# A builder gets the Fn, the ONNX node's attributes (dict), the arrays of
# test_data_set_0/input_N.pb and output_N.pb, and emits the kiln function.
# Inputs that ONNX passes as tensors but kiln takes as attributes (axes,
# pads, shape, starts/ends) are folded in from the .pb data.

ONNX_TABLE = {}
ONNX_SKIPS = {}
F64_FAMILIES = ()  # filled below: ONNX tests also run with --precision f64


def onnx_case(*names, expanded=False):
    def deco(builder):
        for n in names:
            ONNX_TABLE[n] = builder
            if expanded:
                ONNX_TABLE[n + '_expanded'] = builder
        return builder
    return deco


def onnx_skip(reason, *names):
    for n in names:
        ONNX_SKIPS[n] = reason


def _unary(op):
    def b(f, A, I, O):
        f.ret(f.unary(op, f.arg(I[0])), O[0])
    return b


for _op, _tests in {
        'abs': ['test_abs'], 'ceil': ['test_ceil', 'test_ceil_example'],
        'cos': ['test_cos', 'test_cos_example'], 'erf': ['test_erf'],
        'exp': ['test_exp', 'test_exp_example'],
        'floor': ['test_floor', 'test_floor_example'],
        'log': ['test_log', 'test_log_example'],
        'neg': ['test_neg', 'test_neg_example'], 'relu': ['test_relu'],
        'sigmoid': ['test_sigmoid', 'test_sigmoid_example'], 'sign': ['test_sign'],
        'sin': ['test_sin', 'test_sin_example'],
        'sqrt': ['test_sqrt', 'test_sqrt_example'],
        'tanh': ['test_tanh', 'test_tanh_example'],
        'not': ['test_not_2d', 'test_not_3d', 'test_not_4d']}.items():
    onnx_case(*_tests)(_unary(_op))


def _binary(op):
    def b(f, A, I, O):
        shape = O[0].shape
        x, y = f.arg(I[0]), f.arg(I[1])
        f.ret(f.binary(op, f.bcast_to(x, shape), f.bcast_to(y, shape)), O[0])
    return b


_BCAST = ['', '_bcast3v1d', '_bcast3v2d', '_bcast4v2d', '_bcast4v3d', '_bcast4v4d']
for _op, _tests in {
        'add': ['test_add', 'test_add_bcast'],
        'sub': ['test_sub', 'test_sub_bcast', 'test_sub_example'],
        'mul': ['test_mul', 'test_mul_bcast', 'test_mul_example'],
        'div': ['test_div', 'test_div_bcast', 'test_div_example'],
        'pow': ['test_pow', 'test_pow_bcast_array', 'test_pow_bcast_scalar',
                'test_pow_example'],
        'maximum': ['test_max_two_inputs', 'test_max_float16', 'test_max_float32',
                    'test_max_float64', 'test_max_int32', 'test_max_int64'],
        'minimum': ['test_min_two_inputs', 'test_min_float16', 'test_min_float32',
                    'test_min_float64', 'test_min_int32', 'test_min_int64'],
        'and': ['test_and2d', 'test_and3d', 'test_and4d'] + ['test_and' + s for s in _BCAST[1:]],
        'or': ['test_or2d', 'test_or3d', 'test_or4d'] + ['test_or' + s for s in _BCAST[1:]],
        }.items():
    onnx_case(*_tests)(_binary(_op))

onnx_skip('uint8 element type (kiln has f16/bf16/f32/f64/i1/i32/i64)',
          'test_add_uint8', 'test_sub_uint8', 'test_mul_uint8', 'test_div_uint8',
          'test_maxpool_2d_uint8')
onnx_skip('int8/int16/unsigned element types',
          *['test_%s_%s' % (m, t) for m in ('max', 'min')
            for t in ('int8', 'int16', 'uint8', 'uint16', 'uint32', 'uint64')])


@onnx_case('test_xor2d', 'test_xor3d', 'test_xor4d',
           *['test_xor' + s for s in _BCAST[1:]])
def _xor(f, A, I, O):
    # a xor b == (a != b) on booleans
    shape = O[0].shape
    x, y = f.bcast_to(f.arg(I[0]), shape), f.bcast_to(f.arg(I[1]), shape)
    f.ret(f.compare('ne', x, y), O[0])


@onnx_case('test_max_example', 'test_min_example', 'test_sum_example',
           'test_sum_two_inputs', 'test_mean_example', 'test_mean_two_inputs')
def _variadic(f, A, I, O):
    # Max/Min/Sum/Mean of several inputs: a chain of binary ops.
    kind = f.onnx_op
    op = {'Max': 'maximum', 'Min': 'minimum', 'Sum': 'add', 'Mean': 'add'}[kind]
    vals = [f.bcast_to(f.arg(a), O[0].shape) for a in I]
    acc = vals[0]
    for v in vals[1:]:
        acc = f.binary(op, acc, v)
    if kind == 'Mean':
        acc = f.binary('div', acc, f.scalar_like(len(vals), acc))
    f.ret(acc, O[0])


@onnx_case('test_pow_types_float32_int32', 'test_pow_types_float32_int64',
           'test_pow_types_int', 'test_pow_types_int32_int32',
           'test_pow_types_int64_int64', 'test_pow_types_int32_float32',
           'test_pow_types_int64_float32', 'test_pow_types_float')
def _pow_types(f, A, I, O):
    # Mixed-type Pow: the exponent is cast to the base's type (kiln.pow
    # takes one type). Integer base with float exponents 4, 5, 6: exact.
    x, y = f.arg(I[0]), f.arg(I[1])
    f.ret(f.binary('pow', x, f.cast(y, x.et)), O[0])


onnx_skip('unsigned exponent type', 'test_pow_types_float32_uint32',
          'test_pow_types_float32_uint64')


@onnx_case('test_reciprocal', 'test_reciprocal_example')
def _reciprocal(f, A, I, O):
    x = f.arg(I[0])
    f.ret(f.binary('div', f.scalar_like(1.0, x), x), O[0])


@onnx_case('test_tan', 'test_tan_example')
def _tan(f, A, I, O):
    x = f.arg(I[0])
    f.ret(f.binary('div', f.unary('sin', x), f.unary('cos', x)), O[0])


@onnx_case('test_softplus', 'test_softplus_example')
def _softplus(f, A, I, O):
    x = f.arg(I[0])
    f.ret(f.unary('log', f.binary('add', f.unary('exp', x), f.scalar_like(1.0, x))), O[0])


@onnx_case('test_softsign', 'test_softsign_example')
def _softsign(f, A, I, O):
    x = f.arg(I[0])
    f.ret(f.binary('div', x, f.binary('add', f.unary('abs', x), f.scalar_like(1.0, x))), O[0])


@onnx_case('test_leakyrelu', 'test_leakyrelu_default', 'test_leakyrelu_example')
def _leakyrelu(f, A, I, O):
    x = f.arg(I[0])
    alpha = A.get('alpha', 0.01)
    neg = f.binary('mul', x, f.scalar_like(alpha, x))
    f.ret(f.select(f.compare('lt', x, f.scalar_like(0.0, x)), neg, x), O[0])


@onnx_case('test_prelu_broadcast', 'test_prelu_example')
def _prelu(f, A, I, O):
    x = f.arg(I[0])
    slope = f.bcast_to(f.arg(I[1]), x.shape)
    f.ret(f.select(f.compare('lt', x, f.scalar_like(0.0, x)),
                   f.binary('mul', x, slope), x), O[0])


@onnx_case('test_elu', 'test_elu_default', 'test_elu_example')
def _elu(f, A, I, O):
    x = f.arg(I[0])
    alpha = A.get('alpha', 1.0)
    em1 = f.binary('sub', f.unary('exp', x), f.scalar_like(1.0, x))
    f.ret(f.select(f.compare('lt', x, f.scalar_like(0.0, x)),
                   f.binary('mul', em1, f.scalar_like(alpha, x)), x), O[0])


@onnx_case('test_thresholdedrelu', 'test_thresholdedrelu_default',
           'test_thresholdedrelu_example')
def _thresholdedrelu(f, A, I, O):
    x = f.arg(I[0])
    alpha = A.get('alpha', 1.0)
    f.ret(f.select(f.compare('gt', x, f.scalar_like(alpha, x)), x,
                   f.scalar_like(0.0, x)), O[0])


@onnx_case('test_hardsigmoid', 'test_hardsigmoid_default', 'test_hardsigmoid_example')
def _hardsigmoid(f, A, I, O):
    x = f.arg(I[0])
    alpha, beta = A.get('alpha', 0.2), A.get('beta', 0.5)
    y = f.binary('add', f.binary('mul', x, f.scalar_like(alpha, x)), f.scalar_like(beta, x))
    y = f.binary('minimum', f.binary('maximum', y, f.scalar_like(0.0, x)),
                 f.scalar_like(1.0, x))
    f.ret(y, O[0])


@onnx_case('test_clip', 'test_clip_example', 'test_clip_inbounds', 'test_clip_outbounds',
           'test_clip_splitbounds', 'test_clip_default_min', 'test_clip_default_max')
def _clip(f, A, I, O):
    x = f.arg(I[0])
    names = f.onnx_inputs
    y = x
    if len(names) > 1 and names[1]:
        y = f.binary('maximum', y, f.bcast_to(f.arg(I[1]), x.shape))
    if len(names) > 2 and names[2]:
        y = f.binary('minimum', y, f.bcast_to(f.arg(I[len(I) - 1]), x.shape))
    f.ret(y, O[0])


onnx_skip('int8 element type', 'test_clip_default_int8_inbounds',
          'test_clip_default_int8_max', 'test_clip_default_int8_min')
onnx_skip('no min/max: identity', 'test_clip_default_inbounds')


_CMP = {'Equal': 'eq', 'Less': 'lt', 'Greater': 'gt', 'LessOrEqual': 'le',
        'GreaterOrEqual': 'ge'}


@onnx_case('test_equal', 'test_equal_bcast', 'test_less', 'test_less_bcast',
           'test_greater', 'test_greater_bcast')
@onnx_case('test_less_equal', 'test_less_equal_bcast', 'test_greater_equal',
           'test_greater_equal_bcast', expanded=True)
def _compare(f, A, I, O):
    direction = _CMP[f.onnx_op] if f.onnx_op in _CMP else \
        {'test_less_equal': 'le', 'test_greater_equal': 'ge'}[re.sub('_bcast|_expanded', '', f.onnx_name)]
    shape = O[0].shape
    x, y = f.bcast_to(f.arg(I[0]), shape), f.bcast_to(f.arg(I[1]), shape)
    f.ret(f.compare(direction, x, y), O[0])


@onnx_case('test_where_example', 'test_where_long_example')
def _where(f, A, I, O):
    shape = O[0].shape
    c, x, y = (f.bcast_to(f.arg(a), shape) for a in I)
    f.ret(f.select(c, x, y), O[0])


_CASTS = {'FLOAT': 'f32', 'DOUBLE': 'f64', 'FLOAT16': 'f16', 'BFLOAT16': 'bf16'}


@onnx_case('test_cast_DOUBLE_to_FLOAT', 'test_cast_DOUBLE_to_FLOAT16',
           'test_cast_FLOAT16_to_DOUBLE', 'test_cast_FLOAT16_to_FLOAT',
           'test_cast_FLOAT_to_DOUBLE', 'test_cast_FLOAT_to_FLOAT16',
           'test_cast_BFLOAT16_to_FLOAT', 'test_cast_FLOAT_to_BFLOAT16')
def _cast(f, A, I, O):
    src, dst = re.match(r'test_cast_(\w+)_to_(\w+)', f.onnx_name).groups()
    src, dst = _CASTS[src], _CASTS[dst]
    inp, out = I[0], O[0]
    if src == 'bf16':   # ONNX stores bfloat16 as its uint16 bit pattern
        inp = (inp.astype(np.uint32) << 16).view(np.float32)
    if dst == 'bf16':
        out = (out.astype(np.uint32) << 16).view(np.float32)
        f.tolerance = TOLERANCES['bfloat16']  # rounding vs truncation: 1 ulp
    f.ret(f.cast(f.arg(inp, src), dst), out)


onnx_skip('string element type', 'test_cast_FLOAT_to_STRING', 'test_cast_STRING_to_FLOAT')


@onnx_case('test_constant')
def _constant(f, A, I, O):
    f.ret(f.constant(numpy_helper.to_array(A['value'])), O[0])


def _axes(f, A, I, rank):
    """Reduction axes from the attribute (old opsets) or input 1 (opset 13+)."""
    if 'axes' in A:
        axes = list(A['axes'])
    elif len(I) > 1:
        axes = [int(a) for a in I[1]]
    else:
        axes = []
    if not axes:
        if A.get('noop_with_empty_axes', 0):
            raise Unsupported('noop_with_empty_axes')
        axes = list(range(rank))
    return [a % rank for a in axes]


_REDUCE_TESTS = ['default_axes_keepdims_example', 'default_axes_keepdims_random',
                 'do_not_keepdims_example', 'do_not_keepdims_random',
                 'keepdims_example', 'keepdims_random',
                 'negative_axes_keepdims_example', 'negative_axes_keepdims_random']


def _reduce_names(kind, suffixes=_REDUCE_TESTS):
    return ['test_reduce_%s_%s' % (kind, s) for s in suffixes]


@onnx_case(*_reduce_names('sum'), *_reduce_names('mean'), *_reduce_names('min'),
           *_reduce_names('prod'), 'test_reduce_max_default_axes_keepdim_example',
           *_reduce_names('max')[1:], *_reduce_names('sum_square'),
           *_reduce_names('l1', [s.replace('keepdims_', 'keep_dims_') if s.startswith(('keepdims', 'negative')) else s for s in _REDUCE_TESTS]),
           *_reduce_names('l2', [s.replace('keepdims_', 'keep_dims_') if s.startswith(('keepdims', 'negative')) else s for s in _REDUCE_TESTS]),
           *_reduce_names('log_sum_exp'), 'test_reduce_log_sum', 'test_reduce_log_sum_asc_axes',
           'test_reduce_log_sum_default', 'test_reduce_log_sum_desc_axes',
           'test_reduce_log_sum_negative_axes')
def _reduce(f, A, I, O):
    x = f.arg(I[0])
    axes = _axes(f, A, I, len(x.shape))
    keep = bool(A.get('keepdims', 1))
    op = f.onnx_op
    pre = {'ReduceSumSquare': lambda v: f.binary('mul', v, v),
           'ReduceL1': lambda v: f.unary('abs', v),
           'ReduceL2': lambda v: f.binary('mul', v, v),
           'ReduceLogSumExp': lambda v: f.unary('exp', v)}.get(op, lambda v: v)
    post = {'ReduceL2': lambda v: f.unary('sqrt', v),
            'ReduceLogSum': lambda v: f.unary('log', v),
            'ReduceLogSumExp': lambda v: f.unary('log', v)}.get(op, lambda v: v)
    kind = {'ReduceSum': 'sum', 'ReduceMean': 'mean', 'ReduceMax': 'max',
            'ReduceMin': 'min', 'ReduceProd': 'prod'}.get(op, 'sum')
    f.ret(post(f.reduce(kind, pre(x), axes, keep)), O[0])


onnx_skip('noop_with_empty_axes (an empty reduction)',
          'test_reduce_sum_empty_axes_input_noop_example',
          'test_reduce_sum_empty_axes_input_noop_random')


_ARG_TESTS = ['default_axis_example', 'default_axis_random', 'keepdims_example',
              'keepdims_random', 'negative_axis_keepdims_example',
              'negative_axis_keepdims_random', 'no_keepdims_example', 'no_keepdims_random']


@onnx_case(*['test_argmax_' + s for s in _ARG_TESTS], *['test_argmin_' + s for s in _ARG_TESTS])
def _argmax(f, A, I, O):
    # ArgMin is argmax of the negation; keepdims=1 is a reshape of the result.
    x = f.arg(I[0])
    axis = A.get('axis', 0) % len(x.shape)
    if f.onnx_op == 'ArgMin':
        x = f.unary('neg', x)
    r = f.argmax(x, axis)
    f.ret(f.reshape(r, O[0].shape), O[0])


onnx_skip('select_last_index=1 (kiln.argmax returns the first maximum)',
          *['test_arg%s_%s_select_last_index' % (m, s) for m in ('max', 'min')
            for s in _ARG_TESTS])


@onnx_case('test_matmul_2d', 'test_matmul_3d', 'test_matmul_4d')
def _matmul(f, A, I, O):
    f.ret(f.matmul(f.arg(I[0]), f.arg(I[1])), O[0])


@onnx_case('test_gemm_all_attributes', 'test_gemm_alpha', 'test_gemm_beta',
           'test_gemm_default_matrix_bias', 'test_gemm_default_no_bias',
           'test_gemm_default_scalar_bias', 'test_gemm_default_single_elem_vector_bias',
           'test_gemm_default_vector_bias', 'test_gemm_default_zero_bias',
           'test_gemm_transposeA', 'test_gemm_transposeB')
def _gemm(f, A, I, O):
    a, b = f.arg(I[0]), f.arg(I[1])
    y = f.matmul(a, b, bool(A.get('transA', 0)), bool(A.get('transB', 0)))
    alpha, beta = A.get('alpha', 1.0), A.get('beta', 1.0)
    if alpha != 1.0:
        y = f.binary('mul', y, f.scalar_like(alpha, y))
    if len(I) > 2:
        c = f.arg(I[2])
        c = f.bcast_to(c, y.shape)
        if beta != 1.0:
            c = f.binary('mul', c, f.scalar_like(beta, c))
        y = f.binary('add', y, c)
    f.ret(y, O[0])


def _onnx_pads(A, nd=2):
    if A.get('auto_pad', b'NOTSET') not in (b'NOTSET', 'NOTSET'):
        raise Unsupported('auto_pad')
    return list(A.get('pads', [0] * (2 * nd)))


@onnx_case('test_basic_conv_with_padding', 'test_basic_conv_without_padding',
           'test_conv_with_strides_and_asymmetric_padding',
           'test_conv_with_strides_no_padding', 'test_conv_with_strides_padding')
def _conv(f, A, I, O):
    x, w = f.arg(I[0]), f.arg(I[1])
    f.ret(f.conv2d(x, w, A.get('strides', [1, 1]), _onnx_pads(A),
                   A.get('dilations', [1, 1]), A.get('group', 1)), O[0])


onnx_skip('auto_pad', 'test_conv_with_autopad_same')


@onnx_case('test_averagepool_2d_default', 'test_averagepool_2d_pads',
           'test_averagepool_2d_pads_count_include_pad',
           'test_averagepool_2d_precomputed_pads',
           'test_averagepool_2d_precomputed_pads_count_include_pad',
           'test_averagepool_2d_precomputed_strides', 'test_averagepool_2d_strides',
           'test_averagepool_1d_default', 'test_maxpool_2d_default', 'test_maxpool_2d_pads',
           'test_maxpool_2d_precomputed_pads', 'test_maxpool_2d_precomputed_strides',
           'test_maxpool_2d_strides', 'test_maxpool_1d_default')
def _pool(f, A, I, O):
    kind = 'max' if f.onnx_op == 'MaxPool' else 'avg'
    x = f.arg(I[0])
    k, s = list(A['kernel_shape']), list(A.get('strides', [1] * len(A['kernel_shape'])))
    if A.get('ceil_mode', 0):
        raise Unsupported('ceil_mode')
    if any(d != 1 for d in A.get('dilations', [1])):
        raise Unsupported('dilations in pooling')
    pads = _onnx_pads(A, len(k))
    if len(k) == 1:  # 1-D pooling is 2-D pooling over [N, C, 1, W]
        x = f.reshape(x, x.shape[:2] + (1,) + x.shape[2:])
        k, s, pads = [1] + k, [1] + s, [0, pads[0], 0, pads[1]]
    y = f.pool2d(kind, x, k, s, pads, bool(A.get('count_include_pad', 0)))
    f.ret(f.reshape(y, O[0].shape), O[0])


@onnx_case('test_globalaveragepool', 'test_globalaveragepool_precomputed',
           'test_globalmaxpool', 'test_globalmaxpool_precomputed')
def _global_pool(f, A, I, O):
    x = f.arg(I[0])
    kind = 'max' if f.onnx_op == 'GlobalMaxPool' else 'avg'
    f.ret(f.pool2d(kind, x, x.shape[2:], [1, 1]), O[0])


onnx_skip('auto_pad', 'test_averagepool_2d_same_lower', 'test_averagepool_2d_same_upper',
          'test_averagepool_2d_precomputed_same_upper', 'test_maxpool_2d_same_lower',
          'test_maxpool_2d_same_upper', 'test_maxpool_2d_precomputed_same_upper')
onnx_skip('ceil_mode', 'test_averagepool_2d_ceil', 'test_maxpool_2d_ceil')
onnx_skip('dilations in pooling', 'test_maxpool_2d_dilations')
onnx_skip('3-D pooling', 'test_averagepool_3d_default', 'test_maxpool_3d_default')
onnx_skip('indices output', 'test_maxpool_with_argmax_2d_precomputed_pads',
          'test_maxpool_with_argmax_2d_precomputed_strides')


@onnx_case('test_softmax_axis_0', 'test_softmax_axis_1', 'test_softmax_axis_2',
           'test_softmax_default_axis', 'test_softmax_example', 'test_softmax_large_number',
           'test_softmax_negative_axis', 'test_logsoftmax_axis_0', 'test_logsoftmax_axis_1',
           'test_logsoftmax_axis_2', 'test_logsoftmax_default_axis',
           'test_logsoftmax_example_1', 'test_logsoftmax_large_number',
           'test_logsoftmax_negative_axis', expanded=True)
def _softmax(f, A, I, O):
    x = f.arg(I[0])
    axis = A.get('axis', -1)  # opset 13 default
    f.ret(f.softmax(x, axis, log='logsoftmax' in f.onnx_name), O[0])


@onnx_case('test_sce_mean', 'test_sce_sum', 'test_sce_none', 'test_sce_mean_log_prob',
           'test_sce_sum_log_prob', 'test_sce_none_log_prob', expanded=True)
def _sce(f, A, I, O):
    red = A.get('reduction', b'mean')
    red = red.decode() if isinstance(red, bytes) else red
    x, y = f.arg(I[0]), f.arg(I[1])
    f.ret(f.cross_entropy(x, y, red), O[0])
    if len(O) > 1:  # log_prob output
        f.ret(f.softmax(x, 1, log=True), O[1])


onnx_skip('class weights / ignore_index / logits of rank > 2',
          *[n for n in (os.listdir(ONNX_DIR) if os.path.isdir(ONNX_DIR) else [])
            if n.startswith('test_sce_') and
            re.sub('_expanded$', '', n) not in ONNX_TABLE])


_LN = ['2d_axis0', '2d_axis1', '2d_axis_negative_1', '2d_axis_negative_2',
       '3d_axis0_epsilon', '3d_axis1_epsilon', '3d_axis2_epsilon',
       '3d_axis_negative_1_epsilon', '3d_axis_negative_2_epsilon',
       '3d_axis_negative_3_epsilon', '4d_axis0', '4d_axis1', '4d_axis2', '4d_axis3',
       '4d_axis_negative_1', '4d_axis_negative_2', '4d_axis_negative_3',
       '4d_axis_negative_4', 'default_axis']


@onnx_case(*['test_layer_normalization_' + s for s in _LN], expanded=True)
def _layer_norm(f, A, I, O):
    # Outputs 1 and 2 (Mean, InvStdDev) are not kiln results: only Y is compared.
    x, g, b = f.arg(I[0]), f.arg(I[1]), f.arg(I[2])
    f.ret(f.layer_norm(x, g, b, A.get('axis', -1), A.get('epsilon', 1e-5)), O[0])


@onnx_case('test_batchnorm_example', 'test_batchnorm_epsilon')
def _batchnorm(f, A, I, O):
    x, g, b, m, v = (f.arg(a) for a in I)
    y, _, _ = f.batch_norm(x, g, b, m, v, eps=A.get('epsilon', 1e-5))
    f.ret(y, O[0])


@onnx_case('test_batchnorm_example_training_mode', 'test_batchnorm_epsilon_training_mode')
def _batchnorm_training(f, A, I, O):
    # y is ONNX's; the running statistics follow PyTorch (kiln's convention:
    # new = (1 - m) running + m batch, unbiased batch variance), not ONNX's
    # (biased), so they are checked against NumPy.
    x, g, b, m, v = (f.arg(a) for a in I)
    momentum = 0.1
    y, rm, rv = f.batch_norm(x, g, b, m, v, eps=A.get('epsilon', 1e-5),
                             momentum=momentum, training=True)
    xd = I[0].astype(np.float64)
    axes = (0, 2, 3)
    n = xd.size // xd.shape[1]
    f.ret(y, O[0])
    f.ret(rm, ((1 - momentum) * I[3] + momentum * xd.mean(axis=axes)).astype(np.float32))
    f.ret(rv, ((1 - momentum) * I[4] + momentum * xd.var(axis=axes) * n / (n - 1))
          .astype(np.float32))


@onnx_case('test_gather_0', 'test_gather_1', 'test_gather_2d_indices')
def _gather(f, A, I, O):
    f.ret(f.gather(f.arg(I[0]), f.arg(I[1]), A.get('axis', 0)), O[0])


onnx_skip('negative indices', 'test_gather_negative_indices')


@onnx_case('test_transpose_default', *['test_transpose_all_permutations_%d' % i
                                       for i in range(6)])
def _transpose(f, A, I, O):
    x = f.arg(I[0])
    perm = A.get('perm', list(range(len(x.shape)))[::-1])
    f.ret(f.transpose(x, perm), O[0])


@onnx_case(*['test_reshape_' + s for s in
             ('extended_dims', 'negative_dim', 'negative_extended_dims', 'one_dim',
              'reduced_dims', 'reordered_all_dims', 'reordered_last_dims',
              'zero_and_negative_dim', 'zero_dim')],
           *['test_flatten_' + s for s in
             ('axis0', 'axis1', 'axis2', 'axis3', 'default_axis', 'negative_axis1',
              'negative_axis2', 'negative_axis3', 'negative_axis4')],
           'test_squeeze', 'test_squeeze_negative_axes',
           *['test_unsqueeze_' + s for s in
             ('axis_0', 'axis_1', 'axis_2', 'axis_3', 'negative_axes', 'three_axes',
              'two_axes', 'unsorted_axes')])
def _reshape(f, A, I, O):
    # Reshape/Flatten/Squeeze/Unsqueeze: the (static) output shape is the
    # expected output's; kiln.reshape needs it spelled out.
    x = f.arg(I[0])
    f.ret(f._op('reshape', 'kiln.reshape %s : %s -> %s'
                % (x.name, x.type, ttype(O[0].shape, x.et)), O[0].shape, x.et), O[0])


onnx_skip('zero-size input', 'test_reshape_allowzero_reordered')


@onnx_case('test_expand_dim_changed', 'test_expand_dim_unchanged')
def _expand(f, A, I, O):
    f.ret(f.bcast_to(f.arg(I[0]), O[0].shape), O[0])


@onnx_case('test_slice', 'test_slice_default_axes', 'test_slice_default_steps',
           'test_slice_end_out_of_bounds', 'test_slice_neg', 'test_slice_negative_axes',
           'test_slice_start_out_of_bounds')
def _slice(f, A, I, O):
    # ONNX starts/ends (negative, out of range) are normalized as ONNX does.
    x = f.arg(I[0])
    rank = len(x.shape)
    starts, ends = [int(v) for v in I[1]], [int(v) for v in I[2]]
    axes = [int(a) % rank for a in I[3]] if len(I) > 3 else list(range(len(starts)))
    steps = [int(s) for s in I[4]] if len(I) > 4 else [1] * len(starts)
    start, limit, step = [0] * rank, list(x.shape), [1] * rank
    for s, e, a, st in zip(starts, ends, axes, steps):
        if st < 1:
            raise Unsupported('negative steps')
        n = x.shape[a]
        s, e = s + n if s < 0 else s, e + n if e < 0 else e
        start[a], limit[a], step[a] = min(max(s, 0), n), min(max(e, 0), n), st
        limit[a] = max(limit[a], start[a])
    f.ret(f.slice(x, start, limit, step), O[0])


onnx_skip('negative steps', 'test_slice_neg_steps')


@onnx_case('test_concat_1d_axis_0', 'test_concat_1d_axis_negative_1',
           'test_concat_2d_axis_0', 'test_concat_2d_axis_1', 'test_concat_2d_axis_negative_1',
           'test_concat_2d_axis_negative_2', 'test_concat_3d_axis_0', 'test_concat_3d_axis_1',
           'test_concat_3d_axis_2', 'test_concat_3d_axis_negative_1',
           'test_concat_3d_axis_negative_2', 'test_concat_3d_axis_negative_3')
def _concat(f, A, I, O):
    f.ret(f.concat([f.arg(a) for a in I], A['axis']), O[0])


@onnx_case('test_constant_pad')
def _pad(f, A, I, O):
    x = f.arg(I[0])
    pads = [int(p) for p in I[1]]
    r = len(x.shape)
    value = float(I[2]) if len(I) > 2 else 0.0
    f.ret(f.pad(x, pads[:r], pads[r:], value), O[0])


onnx_skip('edge/reflect padding modes', 'test_edge_pad', 'test_reflect_pad')


@onnx_case('test_training_dropout_zero_ratio', 'test_training_dropout_zero_ratio_mask')
def _dropout_zero(f, A, I, O):
    # Ratio 0 keeps everything: y == x for any seed (the mask output is not
    # a kiln result).
    x = f.arg(I[0])
    seed, off = f.constant(np.int64(A.get('seed', 0))), f.constant(np.int64(0))
    f.ret(f.dropout(x, seed, off, float(I[1])), O[0])


onnx_skip('a single input: the identity, no kiln op', 'test_identity', 'test_max_one_input',
          'test_min_one_input', 'test_sum_one_input', 'test_mean_one_input')


def _iota_like(f, shape, dim, et='i64'):
    return f.iota(dim % len(shape), shape, et)


@onnx_case('test_tril', 'test_tril_neg', 'test_tril_one_row_neg', 'test_tril_out_neg',
           'test_tril_out_pos', 'test_tril_pos', 'test_tril_square', 'test_tril_square_neg',
           'test_triu', 'test_triu_neg', 'test_triu_one_row', 'test_triu_out_neg_out',
           'test_triu_out_pos', 'test_triu_pos', 'test_triu_square', 'test_triu_square_neg',
           'test_tril_zero', 'test_triu_zero')
def _trilu(f, A, I, O):
    # Keep x[..., i, j] where j - i >= k (upper) or j - i <= k (lower).
    x = f.arg(I[0])
    if 0 in x.shape:
        raise Unsupported('zero-size input')
    k = int(I[1]) if len(I) > 1 else 0
    d = f.binary('sub', _iota_like(f, x.shape, -1), _iota_like(f, x.shape, -2))
    kk = f.constant(np.int64(k), 'i64', x.shape)
    keep = f.compare('ge' if A.get('upper', 1) else 'le', d, kk)
    f.ret(f.select(keep, x, f.scalar_like(0, x)), O[0])


_ONNX_DTYPES = {1: 'f32', 10: 'f16', 11: 'f64', 6: 'i32', 7: 'i64', 9: 'i1'}


@onnx_case('test_eyelike_populate_off_main_diagonal', 'test_eyelike_with_dtype',
           'test_eyelike_without_dtype')
def _eyelike(f, A, I, O):
    x = f.arg(I[0])  # only its shape and type matter
    et = _ONNX_DTYPES[A['dtype']] if 'dtype' in A else x.et
    d = f.binary('sub', _iota_like(f, x.shape, 1), _iota_like(f, x.shape, 0))
    on = f.compare('eq', d, f.constant(np.int64(A.get('k', 0)), 'i64', x.shape))
    f.ret(f.cast(on, et), O[0])


@onnx_case('test_range_float_type_positive_delta', 'test_range_int32_type_negative_delta',
           expanded=True)
def _range(f, A, I, O):
    start, delta = f.arg(I[0]), f.arg(I[2])
    n = O[0].shape
    i = f.iota(0, n, start.et)
    y = f.binary('add', f.binary('mul', i, f.broadcast(delta, [], n)),
                 f.broadcast(start, [], n))
    f.ret(y, O[0])


@onnx_case('test_hardmax_axis_0', 'test_hardmax_axis_1', 'test_hardmax_axis_2',
           'test_hardmax_default_axis', 'test_hardmax_example', 'test_hardmax_negative_axis',
           'test_hardmax_one_hot')
def _hardmax(f, A, I, O):
    # one_hot(argmax(x, axis)) along axis (the first maximum wins, as in ONNX)
    x = f.arg(I[0])
    axis = A.get('axis', -1) % len(x.shape)
    am = f.argmax(x, axis)
    am = f.broadcast(am, [d for d in range(len(x.shape)) if d != axis], x.shape)
    f.ret(f.cast(f.compare('eq', am, f.iota(axis, x.shape, 'i64')), x.et), O[0])


@onnx_case('test_isnan')
def _isnan(f, A, I, O):
    x = f.arg(I[0])
    f.ret(f.compare('ne', x, x), O[0])


@onnx_case('test_isinf', 'test_isinf_negative', 'test_isinf_positive')
def _isinf(f, A, I, O):
    x = f.arg(I[0])
    pos = f.compare('eq', x, f.scalar_like(np.inf, x))
    neg = f.compare('eq', x, f.scalar_like(-np.inf, x))
    if not A.get('detect_negative', 1):
        f.ret(pos, O[0])
    elif not A.get('detect_positive', 1):
        f.ret(neg, O[0])
    else:
        f.ret(f.binary('or', pos, neg), O[0])


@onnx_case('test_sinh', 'test_sinh_example', 'test_cosh', 'test_cosh_example')
def _sinh_cosh(f, A, I, O):
    x = f.arg(I[0])
    e, em = f.unary('exp', x), f.unary('exp', f.unary('neg', x))
    s = f.binary('sub' if f.onnx_op == 'Sinh' else 'add', e, em)
    f.ret(f.binary('mul', s, f.scalar_like(0.5, x)), O[0])


@onnx_case('test_selu', 'test_selu_default', 'test_selu_example')
def _selu(f, A, I, O):
    x = f.arg(I[0])
    alpha = A.get('alpha', 1.67326319217681884765625)
    gamma = A.get('gamma', 1.05070102214813232421875)
    neg = f.binary('mul', f.binary('sub', f.unary('exp', x), f.scalar_like(1.0, x)),
                   f.scalar_like(alpha, x))
    y = f.select(f.compare('gt', x, f.scalar_like(0.0, x)), x, neg)
    f.ret(f.binary('mul', y, f.scalar_like(gamma, x)), O[0])


@onnx_case('test_celu', expanded=True)
def _celu(f, A, I, O):
    x = f.arg(I[0])
    a = f.scalar_like(A.get('alpha', 1.0), x)
    neg = f.binary('mul', a, f.binary('sub', f.unary('exp', f.binary('div', x, a)),
                                      f.scalar_like(1.0, x)))
    zero = f.scalar_like(0.0, x)
    f.ret(f.binary('add', f.binary('maximum', zero, x), f.binary('minimum', zero, neg)), O[0])


@onnx_case('test_shrink_hard', 'test_shrink_soft')
def _shrink(f, A, I, O):
    x = f.arg(I[0])
    lambd, bias = A.get('lambd', 0.5), A.get('bias', 0.0)
    lo = f.compare('lt', x, f.scalar_like(-lambd, x))
    hi = f.compare('gt', x, f.scalar_like(lambd, x))
    y = f.select(lo, f.binary('add', x, f.scalar_like(bias, x)), f.scalar_like(0.0, x))
    f.ret(f.select(hi, f.binary('sub', x, f.scalar_like(bias, x)), y), O[0])


@onnx_case('test_hardswish', expanded=True)
def _hardswish(f, A, I, O):
    x = f.arg(I[0])
    h = f.binary('add', f.binary('mul', x, f.scalar_like(1 / 6, x)), f.scalar_like(0.5, x))
    h = f.binary('minimum', f.binary('maximum', h, f.scalar_like(0.0, x)),
                 f.scalar_like(1.0, x))
    f.ret(f.binary('mul', x, h), O[0])


@onnx_case('test_mvn', expanded=True)
def _mvn(f, A, I, O):
    # ONNX's function: (X - E[X]) / (sqrt(E[X^2] - E[X]^2) + 1e-9)
    x = f.arg(I[0])
    axes = list(A.get('axes', [0, 2, 3]))
    ex = f.reduce('mean', x, axes, keep=True)
    ex2 = f.reduce('mean', f.binary('mul', x, x), axes, keep=True)
    var = f.binary('sub', ex2, f.binary('mul', ex, ex))
    std = f.binary('add', f.unary('sqrt', var), f.scalar_like(1e-9, var))
    keep = [d for d in range(len(x.shape))]
    y = f.binary('div', f.binary('sub', x, f.broadcast(ex, keep, x.shape)),
                 f.broadcast(std, keep, x.shape))
    f.ret(y, O[0])


@onnx_case('test_instancenorm_example', 'test_instancenorm_epsilon')
def _instancenorm(f, A, I, O):
    x, s, b = f.arg(I[0]), f.arg(I[1]), f.arg(I[2])
    dims = list(range(len(x.shape)))
    sp = dims[2:]
    mean = f.broadcast(f.reduce('mean', x, sp, keep=True), dims, x.shape)
    c = f.binary('sub', x, mean)
    var = f.broadcast(f.reduce('mean', f.binary('mul', c, c), sp, keep=True), dims, x.shape)
    inv = f.unary('rsqrt', f.binary('add', var, f.scalar_like(A.get('epsilon', 1e-5), var)))
    y = f.binary('mul', f.binary('mul', c, inv), f.broadcast(s, [1], x.shape))
    f.ret(f.binary('add', y, f.broadcast(b, [1], x.shape)), O[0])


@onnx_case('test_depthtospace_crd_mode', 'test_depthtospace_crd_mode_example',
           'test_depthtospace_dcr_mode', 'test_depthtospace_example')
def _depthtospace(f, A, I, O):
    x = f.arg(I[0])
    n, c, h, w = x.shape
    b = A['blocksize']
    if A.get('mode', b'DCR') in (b'CRD', 'CRD'):
        t = f.transpose(f.reshape(x, (n, c // b // b, b, b, h, w)), [0, 1, 4, 2, 5, 3])
    else:
        t = f.transpose(f.reshape(x, (n, b, b, c // b // b, h, w)), [0, 3, 4, 1, 5, 2])
    f.ret(f.reshape(t, (n, c // b // b, h * b, w * b)), O[0])


@onnx_case('test_spacetodepth', 'test_spacetodepth_example')
def _spacetodepth(f, A, I, O):
    x = f.arg(I[0])
    n, c, h, w = x.shape
    b = A['blocksize']
    t = f.transpose(f.reshape(x, (n, c, h // b, b, w // b, b)), [0, 3, 5, 1, 2, 4])
    f.ret(f.reshape(t, (n, c * b * b, h // b, w // b)), O[0])


@onnx_case('test_tile', 'test_tile_precomputed')
def _tile(f, A, I, O):
    # tile = broadcast to [r0, d0, r1, d1, ...] then merge the pairs
    x = f.arg(I[0])
    reps = [int(r) for r in I[1]]
    inter = [v for r, d in zip(reps, x.shape) for v in (r, d)]
    bc = f.broadcast(x, [2 * i + 1 for i in range(len(x.shape))], inter)
    f.ret(f.reshape(bc, [r * d for r, d in zip(reps, x.shape)]), O[0])


@onnx_case('test_upsample_nearest')
def _upsample(f, A, I, O):
    # integer-scale nearest upsampling = gather with constant indices
    x = f.arg(I[0])
    scales = [int(s) for s in I[1]]
    for axis, sc in enumerate(scales):
        if sc != 1:
            idx = f.constant(np.repeat(np.arange(x.shape[axis]), sc).astype(np.int64))
            x = f.gather(x, idx, axis)
    f.ret(x, O[0])


@onnx_case('test_onehot_without_axis', 'test_onehot_with_axis',
           'test_onehot_with_negative_axis', 'test_onehot_negative_indices')
def _onehot(f, A, I, O):
    idx, values = f.arg(I[0]), f.arg(I[2])
    depth = int(I[1])
    out = O[0].shape
    axis = A.get('axis', -1) % len(out)
    if idx.et != 'i64':
        idx = f.cast(idx, 'i64')  # float indices truncate
    # negative indices count from depth
    neg = f.compare('lt', idx, f.scalar_like(0, idx))
    idx = f.select(neg, f.binary('add', idx, f.scalar_like(depth, idx)), idx)
    bi = f.broadcast(idx, [d for d in range(len(out)) if d != axis], out)
    hot = f.compare('eq', bi, f.iota(axis, out, 'i64'))
    off = f.broadcast(f.reshape(f.slice(values, [0], [1], [1]), ()), [], out)
    on = f.broadcast(f.reshape(f.slice(values, [1], [2], [1]), ()), [], out)
    f.ret(f.select(hot, on, off), O[0])


@onnx_case('test_cumsum_1d', 'test_cumsum_1d_exclusive', 'test_cumsum_1d_reverse',
           'test_cumsum_1d_reverse_exclusive', 'test_cumsum_2d_axis_0', 'test_cumsum_2d_axis_1',
           'test_cumsum_2d_negative_axis')
def _cumsum(f, A, I, O):
    # a matmul with a triangular 0/1 matrix built from iota
    x = f.arg(I[0])
    axis = int(I[1]) % len(x.shape)
    n = x.shape[axis]
    d = f.binary('sub', f.iota(1, (n, n), 'i64'), f.iota(0, (n, n), 'i64'))  # j - i
    rev, exc = A.get('reverse', 0), A.get('exclusive', 0)
    direction = {(0, 0): 'ge', (0, 1): 'gt', (1, 0): 'le', (1, 1): 'lt'}[(rev, exc)]
    tri = f.cast(f.compare(direction, d, f.constant(np.int64(0), 'i64', (n, n))), x.et)
    if len(x.shape) == 1:
        y = f.reshape(f.matmul(f.reshape(x, (1, n)), tri), (n,))
    elif axis == len(x.shape) - 1:
        y = f.matmul(x, tri)  # y[., j] = sum_i x[., i] tri[i, j]
    else:
        y = f.matmul(tri, x, ta=True)  # y[j, .] = sum_i tri[i, j] x[i, .]
    f.ret(y, O[0])


@onnx_case('test_nllloss_NC', 'test_nllloss_NCd1', expanded=True)
def _nllloss(f, A, I, O):
    # loss = -input[n, target[n], ...]: a one-hot select and a sum over C
    x, t = f.arg(I[0]), f.arg(I[1])
    bt = f.broadcast(t, [d for d in range(len(x.shape)) if d != 1], x.shape)
    hot = f.compare('eq', bt, f.iota(1, x.shape, 'i64'))
    picked = f.reduce('sum', f.select(hot, x, f.scalar_like(0.0, x)), [1])
    loss = f.unary('neg', picked)
    red = A.get('reduction', b'mean')
    red = red.decode() if isinstance(red, bytes) else red
    if red != 'none':
        loss = f.reduce(red, loss, list(range(len(loss.shape))))
    f.ret(loss, O[0])


@onnx_case('test_einsum_batch_matmul', 'test_einsum_transpose', 'test_einsum_sum',
           'test_einsum_inner_prod', 'test_einsum_batch_diagonal')
def _einsum(f, A, I, O):
    eq = A['equation'].decode().replace(' ', '')
    xs = [f.arg(a) for a in I]
    if eq == 'bij,bjk->bik':
        y = f.matmul(xs[0], xs[1])
    elif eq == 'ij->ji':
        y = f.transpose(xs[0], [1, 0])
    elif eq == 'ij->i':
        y = f.reduce('sum', xs[0], [1])
    elif eq == 'i,i':
        y = f.reduce('sum', f.binary('mul', xs[0], xs[1]), [0])
    elif eq == '...ii->...i':
        x = xs[0]
        eye = f.compare('eq', f.iota(1, x.shape, 'i64'), f.iota(2, x.shape, 'i64'))
        y = f.reduce('sum', f.select(eye, x, f.scalar_like(0.0, x)), [2])
    else:
        raise Unsupported('einsum ' + eq)
    f.ret(y, O[0])


onnx_skip('mask from NumPy\'s RNG, not Philox (see the NumPy dropout cases)',
          'test_training_dropout', 'test_training_dropout_default',
          'test_training_dropout_default_mask', 'test_training_dropout_mask')
onnx_skip('inference-mode Dropout is the identity (kiln.dropout always drops)',
          'test_dropout_default', 'test_dropout_default_mask',
          'test_dropout_default_mask_ratio', 'test_dropout_default_old',
          'test_dropout_default_ratio', 'test_dropout_random_old')
onnx_skip('draws from NumPy\'s RNG, not Philox (see the NumPy rng cases)',
          'test_bernoulli', 'test_bernoulli_double', 'test_bernoulli_seed',
          'test_bernoulli_expanded', 'test_bernoulli_double_expanded',
          'test_bernoulli_seed_expanded')

# Composite and library ops also run with --precision f64.
F64_FAMILIES = ('softmax', 'layer_norm', 'batchnorm', 'sce_', 'conv', 'pool',
                'matmul', 'gemm', 'reduce_', 'erf', 'pow', 'exp', 'log')


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, 'rb') as fh:
        t.ParseFromString(fh.read())
    return numpy_helper.to_array(t)


def onnx_cases():
    """Yields case dicts for ONNX_TABLE, and ('skip', name, reason)."""
    if onnx is None or not os.path.isdir(ONNX_DIR):
        for name in ONNX_TABLE:
            yield ('skip', name, 'onnx or %s not available' % ONNX_DIR)
        return
    for name in sorted(set(ONNX_TABLE) | set(ONNX_SKIPS)):
        d = os.path.join(ONNX_DIR, name)
        if not os.path.isdir(d):
            yield ('skip', name, 'not in this ONNX data set')
            continue
        if name in ONNX_SKIPS and name not in ONNX_TABLE:
            yield ('skip', name, ONNX_SKIPS[name])
            continue
        # An _expanded model holds the function body: its first node is not
        # the op, so the op type and attributes come from the base test.
        base_dir = os.path.join(ONNX_DIR, re.sub('_expanded$', '', name))
        model = onnx.load(os.path.join(base_dir, 'model.onnx'))
        node = model.graph.node[0]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        ds = os.path.join(d, 'test_data_set_0')
        ins = [load_pb(p) for p in sorted(glob.glob(os.path.join(ds, 'input_*.pb')),
                                          key=lambda p: int(re.findall(r'\d+', p)[-1]))]
        outs = [load_pb(p) for p in sorted(glob.glob(os.path.join(ds, 'output_*.pb')),
                                           key=lambda p: int(re.findall(r'\d+', p)[-1]))]
        f = Fn()
        f.onnx_op, f.onnx_name, f.onnx_inputs = node.op_type, name, list(node.input)
        f.tolerance = None
        try:
            ONNX_TABLE[name](f, attrs, ins, outs)
        except Unsupported as e:
            yield ('skip', name, str(e))
            continue
        base = re.sub('_expanded$', '', name)
        precisions = ['native']
        if any(k in base for k in F64_FAMILIES):
            precisions.append('f64')
        yield make_case('onnx/' + name[5:], f, precisions, f.tolerance)


def make_case(name, f, precisions=('native',), tolerance=None, check=None):
    return {'name': name, 'mlir': f.text(),
            'inputs': {v.name[1:]: a for v, a in f.args},
            'expected': [(v.et, e) for v, e in f.results],
            'precisions': list(precisions), 'tolerance': tolerance,
            'check': check, 'ops': sorted(f.ops)}


#===----------------------------------------------------------------------===#
# Philox4x32-10 in NumPy (the stream of ir/Philox.h)
#===----------------------------------------------------------------------===#

_U64 = np.uint64
_MASK = _U64(0xFFFFFFFF)


def philox4x32_10(c, k):
    c = [np.asarray(x, dtype=_U64) for x in c]
    k0, k1 = _U64(k[0]), _U64(k[1])
    for r in range(10):
        if r:
            k0, k1 = (k0 + _U64(0x9E3779B9)) & _MASK, (k1 + _U64(0xBB67AE85)) & _MASK
        p0, p1 = _U64(0xD2511F53) * c[0], _U64(0xCD9E8D57) * c[2]
        c = [(p1 >> _U64(32)) ^ c[1] ^ k0, p1 & _MASK, (p0 >> _U64(32)) ^ c[3] ^ k1,
             p0 & _MASK]
    return c


# Random123's known-answer vectors (kat_vectors, philox4x32 10 rounds).
PHILOX_KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
    ((0xffffffff,) * 4, (0xffffffff,) * 2, (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
    ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
     (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1)),
]


def philox_words(seed, offset, n):
    i = np.arange(n, dtype=_U64)
    s, o = int(seed) & 0xFFFFFFFFFFFFFFFF, int(offset) & 0xFFFFFFFFFFFFFFFF
    return philox4x32_10([i & _MASK, i >> _U64(32), np.full(n, o & 0xFFFFFFFF, _U64),
                          np.full(n, o >> 32, _U64)], (s & 0xFFFFFFFF, s >> 32))


def philox_uniform01(seed, offset, n):
    return np.ldexp(philox_words(seed, offset, n)[0].astype(np.float64), -32)


def philox_normal(seed, offset, n):
    x = philox_words(seed, offset, n)
    u1 = np.ldexp((x[0] + _U64(1)).astype(np.float64), -32)
    u2 = np.ldexp(x[1].astype(np.float64), -32)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(6.283185307179586476925286766559 * u2)


#===----------------------------------------------------------------------===#
# NumPy cases
#===----------------------------------------------------------------------===#

NUMPY_CASES = []  # functions returning a case (or a list of cases)


def numpy_case(fn):
    NUMPY_CASES.append(fn)
    return fn


def rng_for(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


def erf_np(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def simple(name, build, precisions=('native',), tolerance=None, check=None):
    f = Fn()
    build(f, rng_for(name))
    return make_case('numpy/' + name, f, precisions, tolerance, check)


_UNARY_NP = {
    'neg': np.negative, 'abs': np.abs, 'sign': np.sign, 'exp': np.exp,
    'log': np.log, 'sqrt': np.sqrt, 'rsqrt': lambda x: 1.0 / np.sqrt(x),
    'tanh': np.tanh, 'sigmoid': lambda x: 1.0 / (1.0 + np.exp(-x)),
    'relu': lambda x: np.maximum(x, 0), 'sin': np.sin, 'cos': np.cos, 'erf': erf_np,
    'floor': np.floor, 'ceil': np.ceil,
}
_POSITIVE = ('log', 'sqrt', 'rsqrt')


@numpy_case
def unary_float_types():
    """Every float unary op in f64, f32, f16 and bf16, with edge values."""
    cases = []
    for op, fn in _UNARY_NP.items():
        for et in ('f64', 'f32', 'f16', 'bf16'):
            def build(f, r, op=op, fn=fn, et=et):
                x = r.standard_normal((4, 7)) * 3
                if op in _POSITIVE:
                    x = np.abs(x) + 0.05
                if op in ('floor', 'ceil', 'sign', 'relu', 'abs', 'neg'):
                    x.flat[:4] = [-0.0, 0.0, 2.5, -2.5]
                xt = x.astype(ELEM_TO_NP[et])
                if et == 'bf16':
                    xt = bf16_round(x)
                v = f.arg(xt, et)
                want = fn(xt.astype(np.float64))
                f.ret(f.unary(op, v), round_to(want, et))
            cases.append(simple('%s_%s' % (op, et), build,
                                ('native', 'f64') if et == 'f32' else ('native',),
                                tolerance=TOLERANCES['bfloat16'] if et == 'bf16' else None))
    return cases


def bf16_round(x):
    """float -> nearest-even bfloat16, held in float32."""
    b = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    s16 = np.uint64(16)
    b = (b + np.uint64(0x7FFF) + ((b >> s16) & np.uint64(1))) >> s16 << s16
    return b.astype(np.uint32).view(np.float32)


def round_to(x, et):
    if et == 'bf16':
        return bf16_round(x)
    return np.asarray(x).astype(ELEM_TO_NP[et])


@numpy_case
def special_values():
    """NaN/inf behaviour of the elementwise ops (Scalar.h's contract)."""
    vals = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e30], np.float32)

    def build(f, r):
        x = f.arg(vals)
        y = f.arg(np.roll(vals, 1))
        with np.errstate(all='ignore'):
            f.ret(f.unary('relu', x), np.where(np.isnan(vals), vals, np.maximum(vals, 0)))
            f.ret(f.unary('sign', x), np.sign(vals))
            f.ret(f.unary('exp', x), np.exp(vals))
            f.ret(f.unary('sigmoid', x), (1 / (1 + np.exp(-vals.astype(np.float64))))
                  .astype(np.float32))
            f.ret(f.unary('tanh', x), np.tanh(vals))
            f.ret(f.binary('maximum', x, y), np.maximum(vals, np.roll(vals, 1)))
            f.ret(f.binary('minimum', x, y), np.minimum(vals, np.roll(vals, 1)))
            f.ret(f.binary('div', x, y), vals / np.roll(vals, 1))
            for d, fn in (('eq', np.equal), ('ne', np.not_equal), ('lt', np.less),
                          ('le', np.less_equal), ('gt', np.greater),
                          ('ge', np.greater_equal)):
                f.ret(f.compare(d, x, y), fn(vals, np.roll(vals, 1)))
    return simple('special_values', build)


_BINARY_NP = {'add': np.add, 'sub': np.subtract, 'mul': np.multiply, 'div': np.divide,
              'pow': np.power, 'maximum': np.maximum, 'minimum': np.minimum}


@numpy_case
def binary_float_types():
    cases = []
    for op, fn in _BINARY_NP.items():
        for et in ('f64', 'f32', 'f16', 'bf16'):
            def build(f, r, op=op, fn=fn, et=et):
                a, b = r.standard_normal((3, 5)), r.standard_normal((3, 5))
                if op == 'pow':
                    a = np.abs(a) + 0.1
                a, b = round_to(a, et), round_to(b, et)
                want = fn(a.astype(np.float64), b.astype(np.float64))
                f.ret(f.binary(op, f.arg(a, et), f.arg(b, et)), round_to(want, et))
            cases.append(simple('%s_%s' % (op, et), build,
                                tolerance=TOLERANCES['bfloat16'] if et == 'bf16' else None))
    return cases


def trunc_div(a, b):
    with np.errstate(all='ignore'):
        q = np.where(b == 0, 0, np.abs(a) // np.where(b == 0, 1, np.abs(b)))
    return (np.sign(a) * np.sign(b) * q).astype(a.dtype)


@numpy_case
def integer_ops():
    cases = []
    for it in (np.int32, np.int64):
        et = NP_TO_ELEM[np.dtype(it).name]

        def build(f, r, it=it):
            a = r.integers(-20, 20, (4, 6)).astype(it)
            b = r.integers(-5, 5, (4, 6)).astype(it)
            b[0, :3] = 0  # x / 0 == 0
            e = r.integers(0, 5, (4, 6)).astype(it)
            x, y, z = f.arg(a), f.arg(b), f.arg(e)
            f.ret(f.binary('add', x, y), a + b)
            f.ret(f.binary('sub', x, y), a - b)
            f.ret(f.binary('mul', x, y), a * b)
            f.ret(f.binary('div', x, y), trunc_div(a, b))
            f.ret(f.binary('pow', x, z), a ** e)
            f.ret(f.binary('maximum', x, y), np.maximum(a, b))
            f.ret(f.binary('minimum', x, y), np.minimum(a, b))
            f.ret(f.unary('neg', x), -a)
            f.ret(f.unary('abs', x), np.abs(a))
            f.ret(f.unary('sign', x), np.sign(a))
            f.ret(f.unary('relu', x), np.maximum(a, 0))
            f.ret(f.binary('and', x, y), a & b)
            f.ret(f.binary('or', x, y), a | b)
            f.ret(f.unary('not', x), (a == 0).astype(it))
            f.ret(f.compare('ne', x, y), a != b)
            f.ret(f.select(f.compare('gt', x, y), x, y), np.where(a > b, a, b))
        cases.append(simple('integer_ops_' + et, build))

    def wrap(f, r):
        lo = np.array([-2**31, 2**31 - 1, 7], np.int32)
        m1 = np.array([-1, 1, 0], np.int32)
        x, y = f.arg(lo), f.arg(m1)
        f.ret(f.binary('div', x, y), np.array([-2**31, 2**31 - 1, 0], np.int32))
        f.ret(f.unary('neg', x), np.array([-2**31, -(2**31 - 1), -7], np.int32))
        f.ret(f.binary('add', x, f.arg(np.array([-1, 1, 0], np.int32))),
              np.array([2**31 - 1, -2**31, 7], np.int32))
    cases.append(simple('integer_wraparound_i32', wrap))
    return cases


@numpy_case
def logical_bool():
    def build(f, r):
        a, b = r.random((5, 6)) < 0.5, r.random((5, 6)) < 0.5
        x, y = f.arg(a), f.arg(b)
        f.ret(f.binary('and', x, y), a & b)
        f.ret(f.binary('or', x, y), a | b)
        f.ret(f.unary('not', x), ~a)
        f.ret(f.compare('eq', x, y), a == b)
    return simple('logical_i1', build)


@numpy_case
def casts():
    """float <-> int <-> bool conversions (truncation, saturation, NaN -> 0)."""
    cases = []
    vals = np.array([0.0, -0.0, 0.4, -0.6, 1.5, -1.5, 2.9, -2.9, 1e10, -1e10, np.nan,
                     np.inf, -np.inf, 3e9, 123456.7], np.float64)

    def sat(x, it):
        info = np.iinfo(it)

        def one(v):
            if math.isnan(v):
                return 0
            if v >= info.max:
                return int(info.max)
            if v <= info.min:
                return int(info.min)
            return int(math.trunc(v))
        return np.array([one(float(v)) for v in x.flat], it).reshape(x.shape)
    for src in ('f64', 'f32', 'f16'):
        for dst in ('i32', 'i64', 'i1'):
            def build(f, r, src=src, dst=dst):
                with np.errstate(over='ignore'):  # f16: 1e10 -> inf
                    x = vals.astype(ELEM_TO_NP[src])
                v = f.arg(x)
                xd = x.astype(np.float64)
                if dst == 'i1':
                    want = xd != 0
                else:
                    want = sat(xd, ELEM_TO_NP[dst])
                f.ret(f.cast(v, dst), want)
            cases.append(simple('cast_%s_to_%s' % (src, dst), build))

    def ints(f, r):
        a = np.array([0, 1, -1, 7, -2**31, 2**31 - 1, 16777217], np.int32)
        b = np.array([0, 1, -1, 2**40, -2**62, 2**53 + 1, -3], np.int64)
        c = np.array([0, 1, -1, 2**31 - 1, -2**31, 2048, -3], np.int64)  # i32 range
        x, y, z = f.arg(a), f.arg(b), f.arg(c)
        f.ret(f.cast(x, 'f32'), a.astype(np.float32))
        f.ret(f.cast(x, 'f64'), a.astype(np.float64))
        f.ret(f.cast(x, 'i64'), a.astype(np.int64))
        f.ret(f.cast(x, 'i1'), a != 0)
        f.ret(f.cast(y, 'f64'), b.astype(np.float64))
        f.ret(f.cast(z, 'i32'), c.astype(np.int32))
        with np.errstate(over='ignore'):
            f.ret(f.cast(z, 'f16'), c.astype(np.float64).astype(np.float16))
    cases.append(simple('cast_int', ints))

    def bools(f, r):
        a = np.array([True, False, True, True, False])
        x = f.arg(a)
        for et in ('f16', 'f32', 'f64', 'i32', 'i64'):
            f.ret(f.cast(x, et), a.astype(ELEM_TO_NP[et]))
        f.ret(f.cast(x, 'bf16'), a.astype(np.float32))
    cases.append(simple('cast_bool', bools))

    def fl(f, r):
        x = r.standard_normal(16) * 100
        v = f.arg(x.astype(np.float32))
        f.ret(f.cast(v, 'bf16'), bf16_round(x.astype(np.float32)))
        f.ret(f.cast(f.cast(v, 'bf16'), 'f32'), bf16_round(x.astype(np.float32)))
        f.ret(f.cast(v, 'f16'), x.astype(np.float32).astype(np.float16))
    cases.append(simple('cast_float_bf16_f16', fl, tolerance=(0, 0)))
    return cases


@numpy_case
def select_compare_types():
    cases = []
    for et in ('f16', 'f64', 'i32', 'i64', 'i1'):
        def build(f, r, et=et):
            shape = (3, 4)
            c = r.random(shape) < 0.5
            if et == 'i1':
                a, b = r.random(shape) < 0.5, r.random(shape) < 0.5
            else:
                a = (r.standard_normal(shape) * 4).astype(ELEM_TO_NP[et])
                b = (r.standard_normal(shape) * 4).astype(ELEM_TO_NP[et])
                b[0] = a[0]
            x, y = f.arg(a), f.arg(b)
            f.ret(f.select(f.arg(c), x, y), np.where(c, a, b))
            if et != 'i1':
                for d, fn in (('eq', np.equal), ('le', np.less_equal), ('ge', np.greater_equal)):
                    f.ret(f.compare(d, x, y), fn(a, b))
        cases.append(simple('select_compare_' + et, build))
    return cases


@numpy_case
def broadcast_cases():
    def build(f, r):
        a = r.standard_normal((4,)).astype(np.float32)
        b = r.standard_normal((3, 1)).astype(np.float32)
        c = np.array(2.5, np.float32)
        d = np.arange(6, dtype=np.int64).reshape(2, 3)
        x, y, z, w = f.arg(a), f.arg(b), f.arg(c), f.arg(d)
        f.ret(f.broadcast(x, [1], (3, 4)), np.broadcast_to(a, (3, 4)))
        f.ret(f.broadcast(x, [0], (4, 5)), np.broadcast_to(a[:, None], (4, 5)))
        f.ret(f.broadcast(y, [0, 2], (3, 2, 5)), np.broadcast_to(b[:, None, :], (3, 2, 5)))
        f.ret(f.broadcast(z, [], (2, 2)), np.full((2, 2), 2.5, np.float32))
        f.ret(f.broadcast(w, [1, 3], (2, 2, 2, 3)),
              np.broadcast_to(d[None, :, None, :], (2, 2, 2, 3)))
    return simple('broadcast', build)


@numpy_case
def reduce_cases():
    cases = []
    fns = {'sum': np.sum, 'mean': np.mean, 'max': np.max, 'min': np.min, 'prod': np.prod}
    for et in ('f64', 'f32', 'f16', 'i32', 'i64'):
        def build(f, r, et=et):
            if et.startswith('i'):
                a = r.integers(-4, 5, (3, 4, 5)).astype(ELEM_TO_NP[et])
            else:
                a = (r.standard_normal((3, 4, 5)) * 0.5 + 1).astype(ELEM_TO_NP[et])
            x = f.arg(a)
            for kind, fn in fns.items():
                if kind == 'mean' and et.startswith('i'):
                    continue
                for dims, keep in (([1], False), ([0, 2], True), ([0, 1, 2], False)):
                    want = fn(a.astype(np.float64) if not et.startswith('i') else a,
                              axis=tuple(dims), keepdims=keep)
                    f.ret(f.reduce(kind, x, dims, keep),
                          np.asarray(want).astype(ELEM_TO_NP[et]))
        tol = (5e-3, 5e-3) if et == 'f16' else None  # f16 sums of 60 terms
        cases.append(simple('reduce_' + et, build,
                            ('native', 'f64') if et in ('f16', 'f32') else ('native',), tol))

    def big(f, r):
        # A long f32 sum: native and f64 must both be close to the exact sum.
        a = (r.standard_normal((2, 4096)) + 0.5).astype(np.float32)
        f.ret(f.reduce('sum', f.arg(a), [1]), a.astype(np.float64).sum(1).astype(np.float32))
        f.ret(f.reduce('mean', f.arg(a), [1]), a.astype(np.float64).mean(1).astype(np.float32))
    cases.append(simple('reduce_long_f32', big, ('native', 'f64'), (1e-5, 1e-4)))
    return cases


@numpy_case
def argmax_cases():
    def build(f, r):
        a = r.integers(0, 4, (5, 6)).astype(np.int32)  # many ties: first wins
        b = r.standard_normal((2, 3, 4)).astype(np.float64)
        x, y = f.arg(a), f.arg(b)
        f.ret(f.argmax(x, 0), np.argmax(a, 0))
        f.ret(f.argmax(x, 1), np.argmax(a, 1))
        f.ret(f.argmax(y, 2), np.argmax(b, 2))
        f.ret(f.argmax(f.arg(np.array([3, 9, 9, 1], np.int64)), 0), np.array(1))
    return simple('argmax_ties_types', build)


def conv_ref(x, w, strides, pads, dil, groups):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (wd + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) // strides[1] + 1
    y = np.zeros((n, o, oh, ow))
    og = o // groups
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, g * cg:(g + 1) * cg,
                           i * dil[0]:i * dil[0] + strides[0] * (oh - 1) + 1:strides[0],
                           j * dil[1]:j * dil[1] + strides[1] * (ow - 1) + 1:strides[1]]
                y[:, g * og:(g + 1) * og] += np.einsum('nchw,oc->nohw', patch,
                                                       w[g * og:(g + 1) * og, :, i, j])
    return y


@numpy_case
def conv_cases():
    cases = []
    for name, xs, ws, st, pd, dl, gr in (
            ('conv_groups_dilation', (2, 4, 9, 8), (6, 2, 3, 2), (2, 1), (1, 0, 2, 1), (2, 3), 2),
            ('conv_depthwise', (1, 3, 6, 6), (3, 1, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 3),
            ('conv_1x1_stride3', (2, 5, 7, 7), (4, 5, 1, 1), (3, 3), (0, 0, 0, 0), (1, 1), 1)):
        for et in ('f32', 'f64'):
            def build(f, r, xs=xs, ws=ws, st=st, pd=pd, dl=dl, gr=gr, et=et):
                x = r.standard_normal(xs).astype(ELEM_TO_NP[et])
                w = r.standard_normal(ws).astype(ELEM_TO_NP[et])
                f.ret(f.conv2d(f.arg(x), f.arg(w), st, pd, dl, gr),
                      conv_ref(x.astype(np.float64), w.astype(np.float64), st, pd, dl, gr)
                      .astype(ELEM_TO_NP[et]))
            cases.append(simple('%s_%s' % (name, et), build, ('native', 'f64')))
    return cases


def pool_ref(x, kind, window, strides, pads, cip):
    n, c, h, w = x.shape
    fill = -np.inf if kind == 'max' else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])),
                constant_values=fill)
    inb = np.pad(np.ones((h, w)), ((pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - window[0]) // strides[0] + 1
    ow = (w + pads[1] + pads[3] - window[1]) // strides[1] + 1
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            sl = (slice(i * strides[0], i * strides[0] + window[0]),
                  slice(j * strides[1], j * strides[1] + window[1]))
            win = xp[:, :, sl[0], sl[1]]
            if kind == 'max':
                y[:, :, i, j] = win.max(axis=(2, 3))
            else:
                cnt = window[0] * window[1] if cip else inb[sl].sum()
                y[:, :, i, j] = win.sum(axis=(2, 3)) / cnt
    return y


@numpy_case
def pool_cases():
    cases = []
    for kind in ('max', 'avg'):
        for cip in ((False, True) if kind == 'avg' else (False,)):
            def build(f, r, kind=kind, cip=cip):
                x = r.standard_normal((2, 3, 7, 6))
                win, st, pd = (3, 2), (2, 1), (1, 0, 1, 1)
                f.ret(f.pool2d(kind, f.arg(x), win, st, pd, cip),
                      pool_ref(x, kind, win, st, pd, cip))
            cases.append(simple('pool_%s%s_f64' % (kind, '_cip' if cip else ''), build,
                                ('native', 'f64')))
    return cases


@numpy_case
def matmul_cases():
    cases = []
    for et in ('f32', 'f64', 'f16', 'bf16'):
        for ta in (False, True):
            for tb in (False, True):
                def build(f, r, et=et, ta=ta, tb=tb):
                    a = round_to(r.standard_normal((2, 3, 5, 7)), et)
                    b = round_to(r.standard_normal((2, 3, 7, 4)), et)
                    aa = np.swapaxes(a, -1, -2).copy() if ta else a
                    bb = np.swapaxes(b, -1, -2).copy() if tb else b
                    want = a.astype(np.float64) @ b.astype(np.float64)
                    f.ret(f.matmul(f.arg(aa, et), f.arg(bb, et), ta, tb), round_to(want, et))
                tol = {'f16': (5e-3, 5e-3), 'bf16': (3e-2, 3e-2)}.get(et)
                cases.append(simple('matmul_%s%s%s' % (et, '_ta' if ta else '', '_tb' if tb else ''),
                                    build, ('native', 'f64') if et == 'f32' else ('native',), tol))
    return cases


@numpy_case
def data_movement():
    def build(f, r):
        a = r.integers(-100, 100, (2, 3, 4, 5)).astype(np.int64)
        b = r.random((3, 4)) < 0.5
        c = r.standard_normal((4, 6)).astype(np.float16)
        x, y, z = f.arg(a), f.arg(b), f.arg(c)
        f.ret(f.transpose(x, [3, 1, 0, 2]), a.transpose(3, 1, 0, 2))
        f.ret(f.transpose(y, [1, 0]), b.T)
        f.ret(f.reshape(x, (6, 20)), a.reshape(6, 20))
        f.ret(f.reshape(y, (12,)), b.reshape(12))
        f.ret(f.slice(x, [0, 1, 0, 1], [2, 3, 4, 5], [1, 1, 3, 2]), a[0:2, 1:3, 0:4:3, 1:5:2])
        f.ret(f.slice(z, [1, 0], [4, 6], [2, 4]), c[1:4:2, 0:6:4])
        d = r.random((2, 4)) < 0.5
        f.ret(f.concat([y, y, f.arg(d)], 0), np.concatenate([b, b, d], 0))
        f.ret(f.concat([z, f.arg(c[:, :2].copy())], 1), np.concatenate([c, c[:, :2]], 1))
        f.ret(f.pad(x, [0, 1, 0, 2], [1, 0, 3, 0], -7), np.pad(
            a, ((0, 1), (1, 0), (0, 3), (2, 0)), constant_values=-7))
        f.ret(f.pad(z, [2, 0], [0, 1], 0.5), np.pad(c, ((2, 0), (0, 1)), constant_values=0.5))
        f.ret(f.pad(y, [1, 1], [1, 1], 1.0), np.pad(b, 1, constant_values=True))
    return simple('data_movement', build)


@numpy_case
def gather_scatter():
    cases = []
    for it in (np.int32, np.int64):
        def build(f, r, it=it):
            table = r.standard_normal((7, 4, 3)).astype(np.float32)
            idx = r.integers(0, 7, (2, 5)).astype(it)
            idx1 = r.integers(0, 4, (6,)).astype(it)
            t, i, i1 = f.arg(table), f.arg(idx), f.arg(idx1)
            f.ret(f.gather(t, i, 0), table[idx])
            f.ret(f.gather(t, i1, 1), table[:, idx1])
            upd = r.standard_normal((2, 5, 4, 3)).astype(np.float32)
            want = np.zeros((7, 4, 3), np.float64)
            np.add.at(want, idx, upd.astype(np.float64))
            f.ret(f.scatter_add(f.arg(upd), i, 0, (7, 4, 3)), want.astype(np.float32))
            upd1 = r.standard_normal((7, 6, 3)).astype(np.float32)
            want1 = np.zeros((7, 4, 3), np.float64)
            np.add.at(want1, (slice(None), idx1), upd1.astype(np.float64))
            f.ret(f.scatter_add(f.arg(upd1), i1, 1, (7, 4, 3)), want1.astype(np.float32))
            iu = r.integers(-5, 5, (8,)).astype(np.int64)
            ii = np.array([0, 2, 2, 2, 1, 0, 2, 3], it)  # duplicates accumulate
            wi = np.zeros((4,), np.int64)
            np.add.at(wi, ii, iu)
            f.ret(f.scatter_add(f.arg(iu), f.arg(ii), 0, (4,)), wi)
        cases.append(simple('gather_scatter_idx_' + NP_TO_ELEM[np.dtype(it).name], build))
    return cases


@numpy_case
def iota_constant():
    def build(f, r):
        f.ret(f.iota(1, (3, 5), 'i64'), np.broadcast_to(np.arange(5), (3, 5)))
        f.ret(f.iota(0, (4, 2, 3), 'f32'),
              np.broadcast_to(np.arange(4, dtype=np.float32)[:, None, None], (4, 2, 3)))
        f.ret(f.iota(2, (2, 2, 6), 'i32'),
              np.broadcast_to(np.arange(6, dtype=np.int32), (2, 2, 6)))
        f.ret(f.iota(0, (7,), 'f16'), np.arange(7, dtype=np.float16))
        c = r.standard_normal((2, 3))
        f.ret(f.constant(c.astype(np.float64)), c)
        f.ret(f.constant(np.array([[1, -2], [3, 2**40]], np.int64)),
              np.array([[1, -2], [3, 2**40]]))
        f.ret(f.constant(np.array([True, False, True])), np.array([True, False, True]))
        f.ret(f.constant(np.float32(1.5), 'f32', (2, 2)), np.full((2, 2), 1.5, np.float32))
        f.ret(f.constant(np.int32(-3), 'i32', ()), np.array(-3, np.int32))
    return simple('iota_constant', build)


def gelu_np(x, approx):
    x = x.astype(np.float64)
    if approx == 'none':
        return 0.5 * x * (1 + erf_np(x / math.sqrt(2)))
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


@numpy_case
def gelu_cases():
    cases = []
    for approx in ('none', 'tanh'):
        for et in ('f32', 'f64', 'f16'):
            def build(f, r, approx=approx, et=et):
                x = (r.standard_normal((6, 8)) * 3).astype(ELEM_TO_NP[et])
                x.flat[:3] = [0, -8, 8]
                f.ret(f.gelu(f.arg(x), approx), gelu_np(x, approx).astype(ELEM_TO_NP[et]))
            cases.append(simple('gelu_%s_%s' % (approx, et), build,
                                ('native', 'f64') if et == 'f32' else ('native',)))
    return cases


def softmax_np(x, axis):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@numpy_case
def composite_types():
    """softmax/log_softmax/cross_entropy/layer_norm/batch_norm in f64 and f16."""
    cases = []
    for et in ('f64', 'f16', 'bf16'):
        def build(f, r, et=et):
            x = round_to(r.standard_normal((4, 6, 5)) * 2, et)
            v = f.arg(x, et)
            xd = x.astype(np.float64)
            f.ret(f.softmax(v, 1), round_to(softmax_np(xd, 1), et))
            f.ret(f.softmax(v, 2, log=True), round_to(np.log(softmax_np(xd, 2)), et))
            logits = round_to(r.standard_normal((5, 7)) * 3, et)
            labels = r.integers(0, 7, (5,)).astype(np.int32)
            lv, yv = f.arg(logits, et), f.arg(labels)
            ld = logits.astype(np.float64)
            m = ld.max(1)
            loss = m + np.log(np.exp(ld - m[:, None]).sum(1)) - ld[np.arange(5), labels]
            f.ret(f.cross_entropy(lv, yv, 'none'), round_to(loss, et))
            f.ret(f.cross_entropy(lv, yv, 'sum'), round_to(loss.sum(), et))
            f.ret(f.cross_entropy(lv, yv), round_to(loss.mean(), et))
            g = round_to(r.standard_normal((6, 5)), et)
            b = round_to(r.standard_normal((6, 5)), et)
            mu = xd.mean(axis=(1, 2), keepdims=True)
            var = xd.var(axis=(1, 2), keepdims=True)
            ln = (xd - mu) / np.sqrt(var + 1e-5) * g + b
            f.ret(f.layer_norm(v, f.arg(g, et), f.arg(b, et), 1), round_to(ln, et))
        tol = {'f16': (1e-2, 1e-2), 'bf16': (6e-2, 6e-2)}.get(et)
        cases.append(simple('composites_' + et, build, ('native', 'f64'), tol))
    return cases


@numpy_case
def batch_norm_cases():
    cases = []
    for shape, et in (((6, 3, 4, 5), 'f32'), ((8, 4), 'f64'), ((5, 2, 7), 'f32')):
        for training in (False, True):
            def build(f, r, shape=shape, et=et, training=training):
                t = ELEM_TO_NP[et]
                c = shape[1]
                x = (r.standard_normal(shape) * 2 + 1).astype(t)
                g, b = r.standard_normal(c).astype(t), r.standard_normal(c).astype(t)
                m, v = r.standard_normal(c).astype(t), (r.random(c) + 0.5).astype(t)
                eps, mom = 1e-3, 0.3
                y, rm, rv = f.batch_norm(*(f.arg(a) for a in (x, g, b, m, v)), eps=eps,
                                         momentum=mom, training=training)
                axes = tuple(i for i in range(len(shape)) if i != 1)
                bshape = [1 if i != 1 else c for i in range(len(shape))]
                xd = x.astype(np.float64)
                if training:
                    mu, var = xd.mean(axis=axes), xd.var(axis=axes)
                    n = xd.size // c
                    f.ret(y, ((xd - mu.reshape(bshape)) / np.sqrt(var.reshape(bshape) + eps)
                              * g.reshape(bshape) + b.reshape(bshape)).astype(t))
                    f.ret(rm, ((1 - mom) * m + mom * mu).astype(t))
                    f.ret(rv, ((1 - mom) * v + mom * var * n / (n - 1)).astype(t))
                else:
                    f.ret(y, ((xd - m.reshape(bshape)) / np.sqrt(v.reshape(bshape) + eps)
                              * g.reshape(bshape) + b.reshape(bshape)).astype(t))
                    f.ret(rm, m)
                    f.ret(rv, v)
            cases.append(simple('batch_norm_%s_%s%s' % ('x'.join(map(str, shape)), et,
                                                         '_training' if training else ''),
                                build, ('native', 'f64')))
    return cases


# -- rng and dropout --------------------------------------------------------

def check_rng_stats(outputs, case):
    """Custom check: statistics and reproducibility of the rng results."""
    u, n, bern, u_same, u_other, bern_f = outputs
    errs = []
    k = u.size

    def near(name, got, want, sd):
        if abs(got - want) > 5 * sd:
            errs.append('%s = %.5f, expected %.5f +- %.5f' % (name, got, want, 5 * sd))
    near('uniform[-1,3) mean', u.mean(), 1.0, math.sqrt(16 / 12 / k))
    near('uniform[-1,3) var', u.var(), 16 / 12, 16 / 12 * math.sqrt(0.8 / k) * 1.2)
    if u.min() < -1 or u.max() >= 3:
        errs.append('uniform out of [-1, 3): min %g max %g' % (u.min(), u.max()))
    near('normal(2, 0.5) mean', n.mean(), 2.0, 0.5 / math.sqrt(k))
    near('normal(2, 0.5) std', n.std(), 0.5, 0.5 / math.sqrt(2 * k))
    near('bernoulli(0.3) rate', bern.mean(), 0.3, math.sqrt(0.21 / k))
    near('bernoulli(0.3) f32 rate', bern_f.mean(), 0.3, math.sqrt(0.21 / k))
    if not np.array_equal(u, u_same):
        errs.append('same seed/offset gave different values')
    if np.mean(u == u_other) > 0.01:
        errs.append('a different offset gave the same values (%.1f%% equal)'
                    % (100 * np.mean(u == u_other)))
    return errs


@numpy_case
def rng_cases():
    cases = []
    shape = (64, 128)
    k = 64 * 128
    for seed, offset in ((0, 0), (1234567, 42), (-5, 2**40 + 3)):
        def build(f, r, seed=seed, offset=offset):
            s = f.arg(np.array(seed, np.int64))
            o = f.arg(np.array(offset, np.int64))
            u01 = philox_uniform01(seed, offset, k).reshape(shape)
            f.ret(f.rng('uniform', s, o, -1.0, 3.0, shape, 'f32'),
                  (-1.0 + 4.0 * u01).astype(np.float32))
            f.ret(f.rng('normal', s, o, 2.0, 0.5, shape, 'f32'),
                  (2.0 + 0.5 * philox_normal(seed, offset, k).reshape(shape)).astype(np.float32))
            f.ret(f.rng('bernoulli', s, o, 0.3, 0.0, shape, 'i1'), u01 < 0.3)
            f.ret(f.rng('uniform', s, o, 0.0, 1.0, shape, 'f64'), u01)
            f.ret(f.rng('normal', s, o, 0.0, 1.0, (5, 3), 'f16'),
                  philox_normal(seed, offset, 15).reshape(5, 3).astype(np.float16))
            f.ret(f.rng('bernoulli', s, o, 0.3, 0.0, shape, 'f32'),
                  (u01 < 0.3).astype(np.float32))
        cases.append(simple('rng_philox_seed%d_offset%d' % (seed, offset), build,
                            ('native', 'f64'), (1e-6, 1e-6)))

    def stats(f, r):
        s, o = f.arg(np.array(77, np.int64)), f.arg(np.array(5, np.int64))
        o2 = f.arg(np.array(6, np.int64))
        f.ret(f.rng('uniform', s, o, -1.0, 3.0, shape, 'f32'))
        f.ret(f.rng('normal', s, o, 2.0, 0.5, shape, 'f64'))
        f.ret(f.rng('bernoulli', s, o, 0.3, 0.0, shape, 'i1'))
        f.ret(f.rng('uniform', s, o, -1.0, 3.0, shape, 'f32'))
        f.ret(f.rng('uniform', s, o2, -1.0, 3.0, shape, 'f32'))
        f.ret(f.rng('bernoulli', s, o2, 0.3, 0.0, shape, 'f32'))
    cases.append(simple('rng_statistics_reproducibility', stats, check='check_rng_stats'))
    return cases


def check_dropout_stats(outputs, case):
    x = case['inputs']['arg0'].astype(np.float64)
    y, y_same, y_other = (o.astype(np.float64) for o in outputs)
    p = 0.25
    errs = []
    kept = y != 0
    rate = 1 - kept.mean()
    if abs(rate - p) > 5 * math.sqrt(p * (1 - p) / y.size):
        errs.append('drop rate %.4f, expected %.2f' % (rate, p))
    scale = y[kept] / x[kept]
    if np.max(np.abs(scale - 1 / (1 - p))) > 1e-6:
        errs.append('kept values scaled by %g..%g, expected %g'
                    % (scale.min(), scale.max(), 1 / (1 - p)))
    if not np.array_equal(y, y_same):
        errs.append('same seed/offset gave different masks')
    if np.array_equal(y != 0, y_other != 0):
        errs.append('a different seed gave the same mask')
    return errs


@numpy_case
def dropout_cases():
    cases = []
    for et, ratio in (('f32', 0.1), ('f64', 0.5), ('f16', 0.3), ('bf16', 0.7)):
        def build(f, r, et=et, ratio=ratio):
            shape = (32, 48)
            x = round_to(r.standard_normal(shape) + 3, et)  # nonzero values
            seed, offset = 99, 7
            keep = philox_uniform01(seed, offset, x.size).reshape(shape) >= ratio
            want = np.where(keep, x.astype(np.float64) / (1 - ratio), 0.0)
            f.ret(f.dropout(f.arg(x, et), f.arg(np.array(seed, np.int64)),
                            f.arg(np.array(offset, np.int64)), ratio), round_to(want, et))
        tol = TOLERANCES['bfloat16'] if et == 'bf16' else None
        cases.append(simple('dropout_philox_%s_p%g' % (et, ratio), build, tolerance=tol))

    def stats(f, r):
        x = (r.random((128, 96)) + 0.5).astype(np.float32)
        v = f.arg(x)
        s, o = f.constant(np.int64(3)), f.constant(np.int64(11))
        f.ret(f.dropout(v, s, o, 0.25))
        f.ret(f.dropout(v, s, o, 0.25))
        f.ret(f.dropout(v, f.constant(np.int64(4)), o, 0.25))
    cases.append(simple('dropout_statistics', stats, check='check_dropout_stats'))
    return cases


@numpy_case
def precision_semantics():
    """--precision native rounds every float op result to its type;
    --precision f64 keeps doubles until the outputs are written."""
    def build(f, r):
        h = f.arg(np.array([2048.0, 1.0, -3.0], np.float16))
        one = f.arg(np.array([1.0, 2.0**-12, 2.0**-13], np.float16))
        d = f.binary('sub', f.binary('add', h, one), h)
        f.ret(d, np.array([0.0, 0.0, 0.0], np.float16))  # f16: 2049 -> 2048
        x = f.arg(np.array([1.0, 1.0], np.float32))
        e = f.arg(np.array([2.0**-30, 2.0**-20], np.float32))
        f.ret(f.binary('sub', f.binary('add', x, e), x), np.array([0.0, 2.0**-20], np.float32))
        b = f.arg(np.array([256.0], np.float32), 'bf16')
        f.ret(f.binary('sub', f.binary('add', b, f.scalar_like(1.0, b)), b),
              np.array([0.0], np.float32))
    case = simple('precision_semantics', build, ('native', 'f64'), (0, 0))
    case['expected_f64'] = [
        ('f16', np.array([1.0, 2.0**-12, 2.0**-13], np.float16)),
        ('f32', np.array([2.0**-30, 2.0**-20], np.float32)),
        ('bf16', np.array([1.0], np.float32))]
    return case


@numpy_case
def bf16_input_rounding():
    """A bf16 argument read from float32 .npy values is rounded to nearest even."""
    def build(f, r):
        x = (r.standard_normal(64) * 10).astype(np.float32)
        x[:4] = [1.00390625, 1.01171875, -1.00390625, 3.0e38]  # ties to even; near the top of the range
        v = f.arg(x, 'bf16')
        with np.errstate(over='ignore'):
            want = bf16_round(x)
        f.ret(f.cast(v, 'f32'), want)
        f.ret(f.unary('neg', v), -want)
    return simple('bf16_input_rounding', build, ('native', 'f64'), (0, 0))


@numpy_case
def runtime_errors():
    """Out-of-range indices and labels are run-time errors of the interpreter
    (a diagnostic and a non-zero exit, not a crash or a silent value)."""
    cases = []
    table = np.arange(12, dtype=np.float32).reshape(6, 2)
    for label, idx in (('past_end', 6), ('negative', -1)):
        def g(f, r, idx=idx):
            f.ret(f.gather(f.arg(table), f.arg(np.array([0, idx], np.int64)), 0))
        c = simple('error_gather_index_' + label, g)
        c['expect_error'] = r'index|range|bound'
        cases.append(c)

        def sc(f, r, idx=idx):
            f.ret(f.scatter_add(f.arg(np.ones((2, 2), np.float32)),
                                f.arg(np.array([1, idx], np.int32)), 0, (6, 2)))
        c = simple('error_scatter_add_index_' + label, sc)
        c['expect_error'] = r'index|range|bound'
        cases.append(c)

        def ce(f, r, idx=idx):
            f.ret(f.cross_entropy(f.arg(np.zeros((2, 6), np.float32)),
                                  f.arg(np.array([0, idx], np.int64))))
        c = simple('error_cross_entropy_label_' + label, ce)
        c['expect_error'] = r'label|index|range|bound|class'
        cases.append(c)
    return cases


def _special(f, vals, et):
    return f.arg(np.asarray(vals, dtype=ELEM_TO_NP[et]), et)


@numpy_case
def edge_cases():
    """Special values and degenerate shapes."""
    cases = []

    def fpow(f, r):
        a = np.array([0.0, -2.0, -2.0, 0.0, np.inf, np.nan, 2.0, -8.0, 1.0], np.float64)
        b = np.array([0.0, 3.0, 0.5, -1.0, 0.0, 0.0, -np.inf, 1 / 3, np.nan], np.float64)
        with np.errstate(all='ignore'):
            f.ret(f.binary('pow', f.arg(a), f.arg(b)), np.power(a, b))
        ia = np.array([2, 1, -1, -1, 0, 0, 3, -2, 7], np.int64)
        ib = np.array([-1, -5, -3, -2, -1, 0, 0, 3, 2], np.int64)
        f.ret(f.binary('pow', f.arg(ia), f.arg(ib)),
              np.array([0, 1, -1, 1, 0, 1, 1, -8, 49], np.int64))
    cases.append(simple('edge_pow', fpow))

    def funary(f, r):
        v = np.array([0.0, -0.0, -1.0, np.inf, -np.inf, np.nan, -1000.0, 1000.0, -0.5, 0.5],
                     np.float32)
        x = f.arg(v)
        vd = v.astype(np.float64)
        with np.errstate(all='ignore'):
            for op in ('log', 'sqrt', 'rsqrt', 'exp', 'tanh', 'sigmoid', 'erf', 'floor',
                       'ceil', 'abs', 'neg', 'sin', 'cos'):
                fn = _UNARY_NP[op]
                want = fn(vd)
                if op == 'sigmoid':
                    want = np.where(vd < 0, np.exp(vd) / (1 + np.exp(vd)), 1 / (1 + np.exp(-vd)))
                if op == 'erf':
                    want = np.array([math.erf(t) for t in vd])
                f.ret(f.unary(op, x), want.astype(np.float32))
        fin = np.isfinite(v)  # gelu(-inf) is 0 * -inf by its formula: not asserted
        xf = f.arg(v[fin])
        f.ret(f.gelu(xf), gelu_np(vd[fin], 'none').astype(np.float32))
        f.ret(f.gelu(xf, 'tanh'), gelu_np(vd[fin], 'tanh').astype(np.float32))
    cases.append(simple('edge_unary_special_f32', funary))

    def f16_overflow(f, r):
        x = f.arg(np.array([12.0, 11.0, -20.0], np.float16))
        with np.errstate(over='ignore'):
            f.ret(f.unary('exp', x), np.exp(np.array([12.0, 11.0, -20.0])).astype(np.float16))
        y = f.arg(np.array([300.0, -300.0, 255.9], np.float16))
        with np.errstate(over='ignore'):
            f.ret(f.binary('mul', y, y),
                  (np.array([300.0, -300.0, 255.9], np.float16).astype(np.float64) ** 2)
                  .astype(np.float16))
        big = (r.random(8192) * 4 + 8).astype(np.float16)  # sum ~ 82000 > f16 max
        bv = f.arg(big)
        f.ret(f.reduce('mean', bv, [0]), np.float16(big.astype(np.float64).mean()))
        with np.errstate(over='ignore'):
            f.ret(f.reduce('sum', bv, [0]), np.float16(big.astype(np.float64).sum()))
    cases.append(simple('edge_f16_overflow', f16_overflow))

    def softmax_inf(f, r):
        v = np.array([[-np.inf, 0.0, 1.0, -np.inf], [5.0, -np.inf, 5.0, 5.0],
                      [1e4, -1e4, 0.0, 1e4]], np.float32)
        x = f.arg(v)
        with np.errstate(all='ignore'):
            sm = softmax_np(v, 1)
            f.ret(f.softmax(x, 1), sm.astype(np.float32))
            vd = v.astype(np.float64)
            m = vd.max(1, keepdims=True)
            lsm = vd - m - np.log(np.exp(vd - m).sum(1, keepdims=True))
            f.ret(f.softmax(x, 1, log=True), lsm.astype(np.float32))
        logits = np.array([[1e4, -1e4, 0.0], [-3e4, -3e4 + 1, -3e4 + 2]], np.float32)
        lab = np.array([1, 2], np.int64)
        ld = logits.astype(np.float64)
        m = ld.max(1)
        loss = m + np.log(np.exp(ld - m[:, None]).sum(1)) - ld[[0, 1], lab]
        f.ret(f.cross_entropy(f.arg(logits), f.arg(lab), 'none'), loss.astype(np.float32))
    cases.append(simple('edge_softmax_inf_large', softmax_inf, ('native', 'f64')))

    def norms(f, r):
        x = np.array([[3.0, 3.0, 3.0, 3.0], [1.0, 2.0, 3.0, 4.0]], np.float32)
        g = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
        b = np.array([0.5, -0.5, 0.25, 0.0], np.float32)
        xd = x.astype(np.float64)
        mu, var = xd.mean(1, keepdims=True), xd.var(1, keepdims=True)
        f.ret(f.layer_norm(f.arg(x), f.arg(g), f.arg(b), 1),
              ((xd - mu) / np.sqrt(var + 1e-5) * g + b).astype(np.float32))
        # batch_norm training on [N=2, C=3]: n - 1 = 1 in the unbiased variance
        xb = np.array([[1.0, 2.0, 5.0], [3.0, 2.0, -1.0]], np.float32)
        z = np.zeros(3, np.float32)
        o = np.ones(3, np.float32)
        y, rm, rv = f.batch_norm(f.arg(xb), f.arg(o), f.arg(z), f.arg(z), f.arg(o),
                                 eps=1e-5, momentum=1.0, training=True)
        xbd = xb.astype(np.float64)
        f.ret(y, ((xbd - xbd.mean(0)) / np.sqrt(xbd.var(0) + 1e-5)).astype(np.float32))
        f.ret(rm, xbd.mean(0).astype(np.float32))
        f.ret(rv, xbd.var(0, ddof=1).astype(np.float32))
    cases.append(simple('edge_norm_constant_rows', norms, ('native', 'f64')))

    def shapes(f, r):
        a = r.standard_normal((3, 5)).astype(np.float32)
        x = f.arg(a)
        f.ret(f.slice(x, [1, 0], [3, 5], [5, 7]), a[1:3:5, 0:5:7])
        f.ret(f.pad(x, [0, 0], [0, 0], 0.0), a)
        f.ret(f.transpose(x, [0, 1]), a)
        s = f.arg(np.array(4.5, np.float32))
        f.ret(f.reshape(f.reshape(s, (1,)), (1, 1)), np.array([[4.5]], np.float32))
        f.ret(f.reshape(f.arg(np.array([[7]], np.int32)), ()), np.array(7, np.int32))
        f.ret(f.argmax(f.arg(r.standard_normal((4, 1))), 1), np.zeros(4, np.int64))
        k1a, k1b = r.standard_normal((3, 1)), r.standard_normal((1, 4))
        f.ret(f.matmul(f.arg(k1a), f.arg(k1b)), k1a @ k1b)
        f.ret(f.reduce('sum', f.arg(np.array(2.5)), []), np.array(2.5))
        f.ret(f.iota(0, (300,), 'bf16'), bf16_round(np.arange(300, dtype=np.float32)))
        f.ret(f.iota(0, (2100,), 'f16'), np.arange(2100).astype(np.float16))
        tb = r.random((6, 2)) < 0.5
        ti = np.array([[5, 0], [2, 2]], np.int32)
        f.ret(f.gather(f.arg(tb), f.arg(ti), 0), tb[ti])
        tl = r.integers(-9, 9, (3, 4)).astype(np.int64)
        f.ret(f.gather(f.arg(tl), f.arg(np.array([3, 0, 3], np.int64)), 1), tl[:, [3, 0, 3]])
        ui = r.integers(-9, 9, (3, 5)).astype(np.int32)
        want = np.zeros((3, 2), np.int64)
        idx = np.array([1, 1, 0, 1, 1], np.int64)
        np.add.at(want, (slice(None), idx), ui)
        f.ret(f.scatter_add(f.arg(ui), f.arg(idx), 1, (3, 2)), want.astype(np.int32))
        xc = r.standard_normal((1, 2, 1, 1))
        wc = r.standard_normal((3, 2, 3, 3))
        f.ret(f.conv2d(f.arg(xc), f.arg(wc), (1, 1), (2, 2, 2, 2)),
              conv_ref(xc, wc, (1, 1), (2, 2, 2, 2), (1, 1), 1))
        xp = r.standard_normal((1, 1, 2, 2))
        f.ret(f.pool2d('avg', f.arg(xp), (3, 3), (2, 2), (2, 2, 2, 2)),
              pool_ref(xp, 'avg', (3, 3), (2, 2), (2, 2, 2, 2), False))
        f.ret(f.pool2d('max', f.arg(xp), (3, 3), (1, 1), (1, 1, 1, 1)),
              pool_ref(xp, 'max', (3, 3), (1, 1), (1, 1, 1, 1), False))
        one = f.cross_entropy(f.arg(np.array([[0.5, 1.5]], np.float32)),
                              f.arg(np.array([0], np.int32)))
        f.ret(one, np.float32(np.log(np.exp(0.5) + np.exp(1.5)) - 0.5))
    cases.append(simple('edge_shapes', shapes, ('native', 'f64')))

    def rng_edges(f, r):
        s, o = f.arg(np.array(-1, np.int64)), f.arg(np.array(-(2**63), np.int64))
        f.ret(f.rng('uniform', s, o, 0.0, 1.0, (), 'f64'), np.float64(
            philox_uniform01(-1, -(2**63), 1)[0]))
        f.ret(f.rng('bernoulli', s, o, 0.0, 0.0, (50,), 'i1'), np.zeros(50, bool))
        f.ret(f.rng('bernoulli', s, o, 1.0, 0.0, (50,), 'i1'), np.ones(50, bool))
        f.ret(f.rng('normal', s, o, 3.0, 0.0, (4,), 'f32'), np.full(4, 3.0, np.float32))
        x = (r.random((40, 40)) + 1).astype(np.float32)
        keep = philox_uniform01(-1, -(2**63), 1600).reshape(40, 40) >= 0.99
        f.ret(f.dropout(f.arg(x), s, o, 0.99),
              np.where(keep, x.astype(np.float64) / (1 - 0.99), 0).astype(np.float32))
    cases.append(simple('edge_rng', rng_edges))
    return cases


def largest_below(b, et):
    """The largest value of float type `et` strictly below b (as float64)."""
    r = float(round_to(np.float64(b), et))
    if r < b:
        return r
    if et == 'bf16':
        bits = int(np.float32(r).view(np.uint32)) >> 16
        bits = 0x8001 if r == 0 else (bits - 1 if r > 0 else bits + 1)
        return float(np.uint32(bits << 16).view(np.float32))
    t = ELEM_TO_NP[et]
    return float(np.nextafter(t(r), t(-np.inf)))


@numpy_case
def rng_uniform_narrow():
    """uniform in f16/bf16/f32: values that round up to b become the largest
    value below b (ir/KilnOps.td), so every draw is in [a, b)."""
    cases = []
    for et, a, b in (('f16', 0.0, 1.0), ('bf16', -1.0, 3.0), ('f16', 2.0, 2.001),
                     ('bf16', 0.0, 1.0), ('f32', 0.0, 1.0)):
        def build(f, r, et=et, a=a, b=b):
            n = 65536
            seed, offset = 11, 3
            v = a + (b - a) * philox_uniform01(seed, offset, n)
            rv = round_to(v, et).astype(np.float64)
            want = np.where(rv >= b, largest_below(b, et), rv)
            f.ret(f.rng('uniform', f.arg(np.array(seed, np.int64)),
                        f.arg(np.array(offset, np.int64)), a, b, (n,), et),
                  round_to(want, et))
        cases.append(simple('rng_uniform_in_range_%s_%g_%g' % (et, a, b), build,
                            ('native', 'f64'), (0, 0), 'check_uniform_range'))
    return cases


def check_uniform_range(outputs, case):
    m = re.search(r'_(-?[\d.e-]+)_(-?[\d.e-]+)$', case['name'])
    a, b = float(m.group(1)), float(m.group(2))
    u = outputs[0].astype(np.float64)
    if u.min() < a or u.max() >= b:
        return ['uniform draws outside [%g, %g): min %r, max %r' % (a, b, u.min(), u.max())]
    return []


def _rand_case(name, r):
    """One randomly configured structural op with a NumPy reference."""
    kind = name.split('_')[1]
    f = Fn()
    if kind == 'conv':
        n, g = int(r.integers(1, 3)), int(r.choice([1, 2, 3]))
        c, o = g * int(r.integers(1, 3)), g * int(r.integers(1, 3))
        kh, kw = int(r.integers(1, 4)), int(r.integers(1, 4))
        st = [int(v) for v in r.integers(1, 4, 2)]
        dl = [int(v) for v in r.integers(1, 3, 2)]
        pd = [int(v) for v in r.integers(0, 3, 4)]
        h = int(r.integers(dl[0] * (kh - 1) + 1, 10))
        w = int(r.integers(dl[1] * (kw - 1) + 1, 10))
        x = r.standard_normal((n, c, h, w))
        wt = r.standard_normal((o, c // g, kh, kw))
        f.ret(f.conv2d(f.arg(x), f.arg(wt), st, pd, dl, g), conv_ref(x, wt, st, pd, dl, g))
    elif kind == 'pool':
        win = [int(v) for v in r.integers(1, 4, 2)]
        st = [int(v) for v in r.integers(1, 4, 2)]
        pd = [int(r.integers(0, win[0])), int(r.integers(0, win[1])),
              int(r.integers(0, win[0])), int(r.integers(0, win[1]))]
        x = r.standard_normal((2, 3, int(r.integers(win[0], 9)), int(r.integers(win[1], 9))))
        pk, cip = str(r.choice(['max', 'avg'])), bool(r.integers(0, 2))
        f.ret(f.pool2d(pk, f.arg(x), win, st, pd, cip and pk == 'avg'),
              pool_ref(x, pk, win, st, pd, cip and pk == 'avg'))
    elif kind == 'movement':
        rank = int(r.integers(1, 5))
        shape = tuple(int(v) for v in r.integers(1, 6, rank))
        a = r.integers(-50, 50, shape).astype(np.int32)
        x = f.arg(a)
        perm = [int(v) for v in r.permutation(rank)]
        f.ret(f.transpose(x, perm), a.transpose(perm))
        st = [int(r.integers(0, d)) for d in shape]
        lim = [int(r.integers(s0 + 1, d + 1)) for s0, d in zip(st, shape)]
        step = [int(v) for v in r.integers(1, 4, rank)]
        f.ret(f.slice(x, st, lim, step), a[tuple(slice(s0, l, k) for s0, l, k in zip(st, lim, step))])
        lo, hi = [int(v) for v in r.integers(0, 3, rank)], [int(v) for v in r.integers(0, 3, rank)]
        f.ret(f.pad(x, lo, hi, -3), np.pad(a, list(zip(lo, hi)), constant_values=-3))
        dim = int(r.integers(0, rank))
        b = r.integers(-50, 50, shape[:dim] + (int(r.integers(1, 4)),) + shape[dim + 1:]).astype(np.int32)
        f.ret(f.concat([x, f.arg(b), x], dim), np.concatenate([a, b, a], dim))
        new = sorted(int(v) for v in r.choice(rank + 2, rank, replace=False))
        out = [int(v) for v in r.integers(1, 4, rank + 2)]
        for i, d in zip(new, shape):
            out[i] = d if r.random() < 0.7 else out[i]
        src = a.copy()
        src_shape = tuple(d if out[i] == d else 1 for i, d in zip(new, shape))
        src = a[tuple(slice(0, 1) if sd == 1 and d != 1 else slice(None)
                      for sd, d in zip(src_shape, shape))]
        xs = f.arg(np.ascontiguousarray(src))
        exp_shape = [1] * (rank + 2)
        for i, d in zip(new, src_shape):
            exp_shape[i] = d
        f.ret(f.broadcast(xs, new, out), np.broadcast_to(src.reshape(exp_shape), out))
        flat = [int(np.prod(shape))]
        f.ret(f.reshape(x, flat), a.reshape(flat))
    elif kind == 'reduce':
        rank = int(r.integers(1, 5))
        shape = tuple(int(v) for v in r.integers(1, 6, rank))
        a = r.standard_normal(shape)
        dims = sorted(int(v) for v in r.choice(rank, int(r.integers(1, rank + 1)), replace=False))
        keep = bool(r.integers(0, 2))
        x = f.arg(a)
        for k, fn in (('sum', np.sum), ('mean', np.mean), ('max', np.max), ('min', np.min),
                      ('prod', np.prod)):
            f.ret(f.reduce(k, x, dims, keep), fn(a, axis=tuple(dims), keepdims=keep))
        d = int(r.integers(0, rank))
        f.ret(f.argmax(x, d), np.argmax(a, d))
        f.ret(f.softmax(x, d), softmax_np(a, d))
        ax = int(r.integers(0, rank))
        g, b = r.standard_normal(shape[ax:]), r.standard_normal(shape[ax:])
        axes = tuple(range(ax, rank))
        mu, var = a.mean(axes, keepdims=True), a.var(axes, keepdims=True)
        f.ret(f.layer_norm(x, f.arg(g), f.arg(b), ax), (a - mu) / np.sqrt(var + 1e-5) * g + b)
    elif kind == 'gather':
        rank = int(r.integers(1, 4))
        shape = tuple(int(v) for v in r.integers(1, 6, rank))
        axis = int(r.integers(0, rank))
        t = r.standard_normal(shape)
        ishape = tuple(int(v) for v in r.integers(1, 4, int(r.integers(0, 3))))
        idx = r.integers(0, shape[axis], ishape).astype(np.int64)
        f.ret(f.gather(f.arg(t), f.arg(idx), axis), np.take(t, idx, axis))
        ushape = shape[:axis] + ishape + shape[axis + 1:]
        u = r.standard_normal(ushape)
        want = np.zeros(shape)
        np.add.at(want, (slice(None),) * axis + (idx,), u)
        f.ret(f.scatter_add(f.arg(u), f.arg(idx), axis, shape), want)
    elif kind == 'matmul':
        batch = tuple(int(v) for v in r.integers(1, 4, int(r.integers(0, 3))))
        m, k, n = (int(v) for v in r.integers(1, 9, 3))
        ta, tb = bool(r.integers(0, 2)), bool(r.integers(0, 2))
        a = r.standard_normal(batch + (m, k))
        b = r.standard_normal(batch + (k, n))
        f.ret(f.matmul(f.arg(np.swapaxes(a, -1, -2).copy() if ta else a),
                       f.arg(np.swapaxes(b, -1, -2).copy() if tb else b), ta, tb), a @ b)
    return make_case('numpy/' + name, f, ('native',))


@numpy_case
def random_structural():
    """Randomly configured (fixed seeds) index-heavy ops in f64 against NumPy:
    conv2d, pool2d, data movement, reductions/softmax/layer_norm/argmax,
    gather/scatter_add, matmul."""
    cases = []
    for kind, count in (('conv', 25), ('pool', 25), ('movement', 25), ('reduce', 25),
                        ('gather', 20), ('matmul', 15)):
        for i in range(count):
            name = 'random_%s_%02d' % (kind, i)
            cases.append(_rand_case(name, rng_for(name)))
    return cases


@numpy_case
def mlp_chain():
    """A small network chaining many ops: linear + bias + gelu + layer norm +
    cross entropy; with both precisions."""
    def build(f, r):
        x = r.standard_normal((8, 16)).astype(np.float32)
        w = (r.standard_normal((16, 10)) / 4).astype(np.float32)
        b = r.standard_normal(10).astype(np.float32)
        y = r.integers(0, 10, 8).astype(np.int64)
        xv, wv, bv, yv = f.arg(x), f.arg(w), f.arg(b), f.arg(y)
        h = f.binary('add', f.matmul(xv, wv), f.broadcast(bv, [1], (8, 10)))
        h = f.gelu(h)
        h = f.layer_norm(h, f.constant(np.ones(10, np.float32)),
                         f.constant(np.zeros(10, np.float32)), 1)
        loss = f.cross_entropy(h, yv)
        hd = x.astype(np.float64) @ w + b
        hd = gelu_np(hd, 'none')
        hd = (hd - hd.mean(1, keepdims=True)) / np.sqrt(hd.var(1, keepdims=True) + 1e-5)
        m = hd.max(1)
        l = m + np.log(np.exp(hd - m[:, None]).sum(1)) - hd[np.arange(8), y]
        f.ret(loss, np.float32(l.mean()))
        f.ret(f.argmax(h, 1), np.argmax(hd, 1))
    return simple('mlp_chain', build, ('native', 'f64'))


def numpy_cases():
    for fn in NUMPY_CASES:
        try:
            out = fn()
        except Unsupported as e:
            yield ('skip', 'numpy/' + fn.__name__, str(e))
            continue
        for c in (out if isinstance(out, list) else [out]):
            yield c


#===----------------------------------------------------------------------===#
# Running and comparing
#===----------------------------------------------------------------------===#

def compare(got, want, et, tol):
    """None if equal within tolerance, else a message with the worst error."""
    want = np.asarray(want)
    got = np.asarray(got)
    if got.shape != want.shape:
        return 'shape %s, expected %s' % (got.shape, want.shape)
    exp_dtype = {'bf16': 'float32', 'i1': 'bool'}.get(et, np.dtype(ELEM_TO_NP[et]).name)
    if got.dtype.name != exp_dtype:
        return 'dtype %s, expected %s' % (got.dtype.name, exp_dtype)
    if got.size == 0:
        return None
    if got.dtype.name in EXACT:
        bad = got != want.astype(got.dtype)
        if not bad.any():
            return None
        idx = np.unravel_index(np.argmax(bad), got.shape)
        return '%d of %d elements differ; first at %s: got %s, expected %s' % (
            bad.sum(), got.size, tuple(int(i) for i in idx), got[idx], want[idx])
    rtol, atol = tol if tol is not None else \
        TOLERANCES['bfloat16' if et == 'bf16' else got.dtype.name]
    g, w = got.astype(np.float64), want.astype(np.float64)
    nan_bad = np.isnan(g) != np.isnan(w)
    inf_bad = (np.isinf(g) | np.isinf(w)) & ~(g == w) & ~np.isnan(w)
    with np.errstate(invalid='ignore'):
        absd = np.where(np.isfinite(g) & np.isfinite(w), np.abs(g - w), 0.0)
        reld = absd / np.maximum(np.abs(w), np.finfo(np.float64).tiny)
        bad = nan_bad | inf_bad | (absd > atol + rtol * np.abs(np.nan_to_num(w)))
    if not bad.any():
        return None
    score = np.where(nan_bad | inf_bad, np.inf, absd - rtol * np.abs(np.nan_to_num(w)))
    idx = np.unravel_index(np.argmax(np.where(bad, score, -np.inf)), got.shape)
    special = nan_bad | inf_bad  # NaN/inf mismatches count as infinite errors
    return ('%d of %d elements out of tolerance (rtol %g, atol %g); max abs err %.3g, '
            'max rel err %.3g; worst at %s: got %r, expected %r'
            % (bad.sum(), got.size, rtol, atol,
               np.inf if special.any() else absd.max(),
               np.inf if special.any() else np.max(np.where(np.isfinite(reld), reld, 0)),
               tuple(int(i) for i in idx), float(g[idx]), float(w[idx])))


def run_case(job):
    """Worker: runs one (case, precision); returns (name, error or None)."""
    case, precision, kiln, keep = job
    name = case['name'] + ('' if precision == 'native' else '@f64')
    tmp = tempfile.mkdtemp(prefix='kiln-num-')
    try:
        model = os.path.join(tmp, 'case.mlir')
        with open(model, 'w') as fh:
            fh.write(case['mlir'])
        cmd = [kiln, 'run', model, '--device', 'reference', '--output-dir',
               os.path.join(tmp, 'out'), '--precision', precision]
        for arg, arr in case['inputs'].items():
            path = os.path.join(tmp, arg + '.npy')
            np.save(path, np.array(arr, order='C'))  # (ascontiguousarray makes 0-d 1-d)
            cmd += ['--input', '%s=%s' % (arg, path)]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return name, 'kiln timed out'
        if case.get('expect_error'):
            if p.returncode == 0:
                return name, 'kiln run succeeded; expected a run-time error'
            text = p.stderr + p.stdout
            if not re.search(case['expect_error'], text, re.I) or 'Assertion' in text \
                    or p.returncode < 0:
                return name, 'expected an error matching /%s/, got (exit %d): %s' % (
                    case['expect_error'], p.returncode, text.strip()[:300])
            return name, None
        if p.returncode != 0:
            msg = (p.stderr.strip() or p.stdout.strip()).splitlines()
            return name, 'kiln run failed (exit %d): %s' % (
                p.returncode, ' | '.join(msg[:4])[:600])
        outputs = []
        for i in range(len(case['expected'])):
            path = os.path.join(tmp, 'out', 'result%d.npy' % i)
            if not os.path.exists(path):
                return name, 'missing output result%d.npy' % i
            outputs.append(np.load(path))
        errors = []
        expected = case['expected']
        if precision == 'f64' and case.get('expected_f64'):
            expected = case['expected_f64']
        for i, ((et, want), got) in enumerate(zip(expected, outputs)):
            if want is None:
                continue
            err = compare(got, want, et, case['tolerance'])
            if err:
                errors.append('result%d: %s' % (i, err))
        if case['check']:
            errors += globals()[case['check']](outputs, case)
        return name, '; '.join(errors) if errors else None
    finally:
        if keep:
            dst = os.path.join(keep, re.sub(r'[^\w.@-]', '_', name))
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(tmp, dst)
        shutil.rmtree(tmp, ignore_errors=True)


def kiln_ops():
    """Mnemonics of the ops defined in ir/KilnOps.td."""
    with open(OPS_TD) as fh:
        text = fh.read()
    return sorted(set(re.findall(r'^def Kiln_\w+Op\s*:\s*Kiln_\w+<\s*"(\w+)"', text, re.M)))


def philox_self_test():
    for c, k, want in PHILOX_KAT:
        words = philox4x32_10([np.array([x], dtype=_U64) for x in c], k)
        got = tuple(int(w[0]) for w in words)
        if got != want:
            return 'Philox4x32-10 known-answer test failed: %s -> %s, expected %s' % (
                c, tuple(map(hex, got)), tuple(map(hex, want)))
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--kiln', required=True, help='path to the kiln binary')
    ap.add_argument('--filter', default=None, help='regex over case names')
    ap.add_argument('-j', type=int, default=2, help='parallel jobs (2)')
    ap.add_argument('-v', action='store_true', help='list passing and skipped cases too')
    ap.add_argument('--keep', default=None, help='keep every case\'s files under DIR')
    ap.add_argument('--list', action='store_true', help='list the cases and exit')
    args = ap.parse_args()
    kiln = os.path.abspath(args.kiln)
    if not os.access(kiln, os.X_OK):
        print('error: %s is not an executable' % kiln)
        return 2

    pat = re.compile(args.filter) if args.filter else None
    cases, skipped = [], []
    failed = []
    err = philox_self_test()
    if err:
        failed.append(('harness/philox_kat', err))
    for c in list(onnx_cases()) + list(numpy_cases()):
        if isinstance(c, tuple):
            name = ('onnx/' + c[1][5:]) if c[1].startswith('test_') else c[1]
            if not pat or pat.search(name):
                skipped.append((name, c[2]))
            continue
        if not pat or pat.search(c['name']):
            cases.append(c)

    covered = {}
    for c in cases:
        for op in c['ops']:
            covered.setdefault(op, []).append(c['name'])
    all_ops = kiln_ops()
    if args.list:
        for c in cases:
            print(c['name'], ','.join(c['precisions']), ' '.join(c['ops']))
        for n, r in skipped:
            print(n, 'SKIP:', r)
        return 0

    jobs = [(c, p, kiln, args.keep) for c in cases for p in c['precisions']]
    passed = 0
    with multiprocessing.Pool(max(1, args.j)) as pool:
        for name, error in pool.imap_unordered(run_case, jobs):
            if error:
                failed.append((name, error))
                print('FAIL %s: %s' % (name, error), flush=True)
            else:
                passed += 1
                if args.v:
                    print('PASS %s' % name, flush=True)
    if args.v:
        for n, r in skipped:
            print('SKIP %s: %s' % (n, r))

    n_onnx = sum(1 for c in cases if c['name'].startswith('onnx/'))
    print('cases: %d ONNX-referenced, %d NumPy-referenced (%d runs incl. --precision f64)'
          % (n_onnx, len(cases) - n_onnx, len(jobs)))
    print('ops covered (%d/%d): %s' % (len([o for o in all_ops if o in covered]), len(all_ops),
                                       ', '.join('%s(%d)' % (o, len(covered[o]))
                                                 for o in all_ops if o in covered)))
    # The ONNX data is the independent oracle: a run that lost it (no onnx
    # module, no libonnx-testdata) must not pass on NumPy cases alone.
    if not pat and n_onnx < 400:
        failed.append(('onnx', 'only %d ONNX-referenced cases (expected >= 400): is '
                       'libonnx-testdata installed and onnx importable by %s?'
                       % (n_onnx, sys.executable)))
        print('FAIL onnx: only %d ONNX-referenced cases' % n_onnx)
    missing = [o for o in all_ops if o not in covered]
    if missing and not pat:
        failed.append(('coverage', 'ops of ir/KilnOps.td without a case: ' + ', '.join(missing)))
        print('FAIL coverage: ops without a case: %s' % ', '.join(missing))
    print('%d passed, %d failed, %d skipped' % (passed, len(failed), len(skipped)))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
