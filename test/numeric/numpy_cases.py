"""NumPy-referenced cases of the numeric conformance tests (see conformance.py).

Every op in the float types and on int/bool, casts, broadcast, reductions,
convolution and pooling, matmul, data movement, gather/scatter_add, gelu,
composites, batch_norm, rng and dropout (bit-exact against the Philox port in
common.py, plus statistics), the two precisions, and run-time errors. The
edge-value, random-structure and chain cases are in numpy_edge_cases.py.
"""

import math

import numpy as np

from common import (ELEM_TO_NP, NP_TO_ELEM, TOLERANCES, numpy_case, philox_normal,
                    philox_uniform01, result_check, simple)

#===----------------------------------------------------------------------===#
# NumPy cases
#===----------------------------------------------------------------------===#

def erf_np(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)



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

@result_check
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


@result_check
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
