"""Shared harness of the numeric conformance tests (see conformance.py).

The MLIR builder (Fn) that cases use to emit `func.func @forward` and record
inputs and expectations, element-type maps, the default tolerances, the case
dict (make_case), the registry of NumPy-referenced cases and of the result
checks they name, and the NumPy port of the Philox4x32-10 stream of
ir/Philox.h.
"""

import math
import os
import sys
import zlib

try:
    import numpy as np
except ImportError:
    print('numpy is missing: run with /usr/bin/python3 (python3-numpy); skipped')
    sys.exit(77)  # ctest's SKIP_RETURN_CODE

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OPS_TD = os.path.join(ROOT, 'ir', 'KilnOps.td')

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
# Cases
#===----------------------------------------------------------------------===#
#
# A case is a dict: name, MLIR text, inputs by argument name, expected
# results as (element type, array or None), precisions to run, tolerance
# override, and the name of a result check (registered with result_check).

def make_case(name, f, precisions=('native',), tolerance=None, check=None):
    return {'name': name, 'mlir': f.text(),
            'inputs': {v.name[1:]: a for v, a in f.args},
            'expected': [(v.et, e) for v, e in f.results],
            'precisions': list(precisions), 'tolerance': tolerance,
            'check': check, 'ops': sorted(f.ops)}



CHECKS = {}  # name -> fn(outputs, case) returning a list of error messages


def result_check(fn):
    CHECKS[fn.__name__] = fn
    return fn


NUMPY_CASES = []  # functions returning a case (or a list of cases)


def numpy_case(fn):
    NUMPY_CASES.append(fn)
    return fn


def rng_for(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


def simple(name, build, precisions=('native',), tolerance=None, check=None):
    f = Fn()
    build(f, rng_for(name))
    return make_case('numpy/' + name, f, precisions, tolerance, check)


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
