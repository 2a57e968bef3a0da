"""Edge-value, randomly configured and chained NumPy-referenced cases of the
numeric conformance tests (see conformance.py and numpy_cases.py).
"""

import math
import re

import numpy as np

from common import (ELEM_TO_NP, Fn, make_case, numpy_case, philox_uniform01,
                    result_check, rng_for, simple)
from numpy_cases import (_UNARY_NP, bf16_round, conv_ref, gelu_np, pool_ref, round_to,
                         softmax_np)

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


@result_check
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
