"""NumPy-referenced cases of the backward ops and kiln.stop_gradient.

The expected adjoints do not restate the interpreter's backward formulas:
each is the vector-Jacobian product dy^T J of a NumPy implementation of the
*forward* op, computed by complex-step differentiation (one evaluation of
forward(x + i h e_k) per input element k, h = 1e-30: exact to rounding,
as the forward implementations below are complex-analytic, or piecewise
linear with the pieces chosen by the real part). gelu's erf form is the one
exception (math.erf is real-only): its reference is the textbook derivative.
"""

import math

import numpy as np

from common import ELEM_TO_NP, ilist, numpy_case, simple, ttype

_H = 1e-30


def vjp(forward, x, dy):
    """dy^T J of `forward` at x (float64), by complex steps."""
    x = np.asarray(x, np.float64)
    out = np.zeros(x.shape)
    for k in np.ndindex(x.shape):
        xc = x.astype(np.complex128)
        xc[k] += 1j * _H
        out[k] = np.sum(np.asarray(dy, np.float64) * forward(xc)).imag / _H
    return out


#===----------------------------------------------------------------------===#
# Complex-analytic NumPy forwards
#===----------------------------------------------------------------------===#

def softmax_c(x, dim):
    e = np.exp(x - x.real.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def log_softmax_c(x, dim):
    s = x - x.real.max(axis=dim, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=dim, keepdims=True))


def cross_entropy_c(logits, labels, reduction):
    loss = -log_softmax_c(logits, 1)[np.arange(logits.shape[0]), labels]
    return {'mean': loss.mean(), 'sum': loss.sum(), 'none': loss}[reduction]


def normalize_c(x, axes, eps):
    """(x - mean) / sqrt(biased var + eps) over `axes` (no abs: analytic)."""
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps)


def conv2d_c(x, w, strides, padding, dilations, groups):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    top, left, bottom, right = padding
    xp = np.zeros((n, c, h + top + bottom, wd + left + right), x.dtype)
    xp[:, :, top:top + h, left:left + wd] = x
    oh = (h + top + bottom - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (wd + left + right - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    y = np.zeros((n, o, oh, ow), np.result_type(x, w))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i in range(kh):
            for j in range(kw):
                r0, c0 = i * dilations[0], j * dilations[1]
                patch = xp[:, g * cg:(g + 1) * cg,
                           r0:r0 + strides[0] * (oh - 1) + 1:strides[0],
                           c0:c0 + strides[1] * (ow - 1) + 1:strides[1]]
                y[:, oc] += np.einsum('nchw,c->nhw', patch, w[oc, :, i, j])
    return y


def pool2d_c(kind, x, window, strides, padding, count_include_pad):
    """Max takes the first element of largest real part (NaN-free inputs)."""
    n, c, h, w = x.shape
    top, left, bottom, right = padding
    oh = (h + top + bottom - window[0]) // strides[0] + 1
    ow = (w + left + right - window[1]) // strides[1] + 1
    y = np.zeros((n, c, oh, ow), x.dtype)
    for a in range(oh):
        for b in range(ow):
            h0, w0 = a * strides[0] - top, b * strides[1] - left
            h1, w1 = min(h0 + window[0], h), min(w0 + window[1], w)
            h0, w0 = max(h0, 0), max(w0, 0)
            win = x[:, :, h0:h1, w0:w1].reshape(n, c, -1)
            if kind == 'max':
                first = np.argmax(win.real, axis=2)
                y[:, :, a, b] = np.take_along_axis(win, first[:, :, None], 2)[:, :, 0]
            else:
                div = window[0] * window[1] if count_include_pad else win.shape[2]
                y[:, :, a, b] = win.sum(axis=2) / div
    return y


def gelu_tanh_c(x):
    k = math.sqrt(2 / math.pi)
    return 0.5 * x * (1 + np.tanh(k * (x + 0.044715 * x ** 3)))


def gelu_erf_grad(x):
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return 0.5 * (1 + erf(x / math.sqrt(2))) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


#===----------------------------------------------------------------------===#
# Emitting the backward ops
#===----------------------------------------------------------------------===#

def _conv_attrs(strides, padding, dilations, groups):
    return 'strides = %s, padding = %s, dilations = %s, groups = %d' % (
        ilist(strides), ilist(padding), ilist(dilations), groups)


def _multi(f, mnemonic, text, types):
    """An op with several results (v.shape, v.et per entry of `types`)."""
    f.ops.add(mnemonic)
    vs = [f._new(shape, et) for shape, et in types]
    f.lines.append('    %s = %s' % (', '.join(v.name for v in vs), text))
    return vs


def _f(et):
    return ELEM_TO_NP[et]


def _precisions(et):
    return ('native', 'f64') if et == 'f32' else ('native',)


#===----------------------------------------------------------------------===#
# Cases
#===----------------------------------------------------------------------===#

@numpy_case
def softmax_grad_cases():
    """softmax_grad/log_softmax_grad along every dim, from the op's result."""
    cases = []
    for log in (False, True):
        op = 'log_softmax_grad' if log else 'softmax_grad'
        fwd = log_softmax_c if log else softmax_c
        for et in ('f64', 'f32'):
            def build(f, r, op=op, fwd=fwd, et=et):
                x = r.standard_normal((3, 4, 5)) * 2
                for dim in range(3):
                    y = fwd(x.astype(np.complex128), dim).real.astype(_f(et))
                    dy = r.standard_normal(x.shape).astype(_f(et))
                    yv, dyv = f.arg(y), f.arg(dy)
                    want = vjp(lambda z, dim=dim: fwd(z, dim), x, dy)
                    f.ret(f._op(op, 'kiln.%s %s, %s, dim = %d : %s'
                                % (op, yv.name, dyv.name, dim, yv.type), y.shape, et),
                          want.astype(_f(et)))
            cases.append(simple('%s_%s' % (op, et), build, _precisions(et)))
    return cases


@numpy_case
def cross_entropy_grad_cases():
    """cross_entropy_grad with every reduction and i32/i64 labels."""
    cases = []
    for reduction in ('mean', 'sum', 'none'):
        for et, lt in (('f64', np.int64), ('f32', np.int32)):
            def build(f, r, reduction=reduction, et=et, lt=lt):
                logits = (r.standard_normal((5, 7)) * 3).astype(_f(et))
                labels = r.integers(0, 7, 5).astype(lt)
                dloss = r.standard_normal(5 if reduction == 'none' else ()).astype(_f(et))
                lv, yv, dv = f.arg(logits), f.arg(labels), f.arg(dloss)
                red = '' if reduction == 'mean' else ' reduction = %s' % reduction
                want = vjp(lambda z: cross_entropy_c(z, labels, reduction), logits, dloss)
                f.ret(f._op('cross_entropy_grad',
                            'kiln.cross_entropy_grad %s, %s, %s%s : %s, %s, %s'
                            % (lv.name, yv.name, dv.name, red, lv.type, yv.type, dv.type),
                            logits.shape, et), want.astype(_f(et)))
            cases.append(simple('cross_entropy_grad_%s_%s' % (reduction, et), build,
                                _precisions(et)))
    return cases


@numpy_case
def layer_norm_grad_cases():
    """layer_norm_grad's three adjoints over trailing dims from several axes."""
    cases = []
    for shape, axis, et in (((3, 4, 5), 1, 'f64'), ((3, 4, 5), 2, 'f32'),
                            ((6,), 0, 'f64')):
        def build(f, r, shape=shape, axis=axis, et=et):
            eps = 1e-2
            x = (r.standard_normal(shape) * 2 + 0.5).astype(_f(et))
            g = r.standard_normal(shape[axis:]).astype(_f(et))
            b = r.standard_normal(shape[axis:]).astype(_f(et))
            dy = r.standard_normal(shape).astype(_f(et))
            xv, gv, dyv = f.arg(x), f.arg(g), f.arg(dy)
            axes = tuple(range(axis, len(shape)))

            def fwd(x_, g_, b_):
                return normalize_c(x_, axes, eps) * g_ + b_
            dx, dg, db = _multi(f, 'layer_norm_grad',
                                'kiln.layer_norm_grad %s, %s, %s, axis = %d '
                                '{epsilon = 1.000000e-02 : f64} : %s, %s'
                                % (xv.name, gv.name, dyv.name, axis, xv.type, gv.type),
                                [(x.shape, et), (g.shape, et), (g.shape, et)])
            f.ret(dx, vjp(lambda z: fwd(z, g, b), x, dy).astype(_f(et)))
            f.ret(dg, vjp(lambda z: fwd(x, z, b), g, dy).astype(_f(et)))
            f.ret(db, vjp(lambda z: fwd(x, g, z), b, dy).astype(_f(et)))
        cases.append(simple('layer_norm_grad_%s_axis%d_%s'
                            % ('x'.join(map(str, shape)), axis, et), build,
                            _precisions(et)))
    return cases


@numpy_case
def batch_norm_grad_cases():
    """batch_norm_grad through the batch statistics (training mode)."""
    cases = []
    for shape, et in (((4, 3, 2, 3), 'f32'), ((6, 2), 'f64'), ((3, 2, 4), 'f64')):
        def build(f, r, shape=shape, et=et):
            eps = 1e-3
            c = shape[1]
            x = (r.standard_normal(shape) * 2 + 1).astype(_f(et))
            g = r.standard_normal(c).astype(_f(et))
            b = r.standard_normal(c).astype(_f(et))
            dy = r.standard_normal(shape).astype(_f(et))
            xv, gv, dyv = f.arg(x), f.arg(g), f.arg(dy)
            axes = tuple(i for i in range(len(shape)) if i != 1)
            bshape = [c if i == 1 else 1 for i in range(len(shape))]

            def fwd(x_, g_, b_):
                return normalize_c(x_, axes, eps) * g_.reshape(bshape) + b_.reshape(bshape)
            dx, dg, db = _multi(f, 'batch_norm_grad',
                                'kiln.batch_norm_grad %s, %s, %s {epsilon = 1.000000e-03 : f64}'
                                ' : %s, %s' % (xv.name, gv.name, dyv.name, xv.type, gv.type),
                                [(x.shape, et), (g.shape, et), (g.shape, et)])
            f.ret(dx, vjp(lambda z: fwd(z, g, b), x, dy).astype(_f(et)))
            f.ret(dg, vjp(lambda z: fwd(x, z, b), g, dy).astype(_f(et)))
            f.ret(db, vjp(lambda z: fwd(x, g, z), b, dy).astype(_f(et)))
        cases.append(simple('batch_norm_grad_%s_%s' % ('x'.join(map(str, shape)), et),
                            build, _precisions(et)))
    return cases


@numpy_case
def gelu_grad_cases():
    """gelu_grad with both approximations, including 0 and large |x|."""
    cases = []
    for approx in ('none', 'tanh'):
        for et in ('f64', 'f32'):
            def build(f, r, approx=approx, et=et):
                x = (r.standard_normal((4, 6)) * 3).astype(_f(et))
                x.flat[:3] = [0, -8, 8]
                dy = r.standard_normal(x.shape).astype(_f(et))
                xv, dyv = f.arg(x), f.arg(dy)
                attr = '' if approx == 'none' else \
                    ' {approximate = #kiln<gelu_approx tanh>}'
                want = (dy.astype(np.float64) * gelu_erf_grad(x.astype(np.float64))
                        if approx == 'none' else vjp(gelu_tanh_c, x, dy))
                f.ret(f._op('gelu_grad', 'kiln.gelu_grad %s, %s%s : %s'
                            % (xv.name, dyv.name, attr, xv.type), x.shape, et),
                      want.astype(_f(et)))
            cases.append(simple('gelu_grad_%s_%s' % (approx, et), build, _precisions(et)))
    return cases


_CONV_CONFIGS = (
    # input, filter, strides, padding, dilations, groups
    ((2, 3, 6, 6), (4, 3, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1),
    ((1, 4, 7, 6), (6, 2, 2, 3), (1, 2), (0, 2, 1, 0), (2, 1), 2),
    ((1, 2, 8, 8), (2, 2, 1, 1), (3, 3), (0, 0, 0, 0), (1, 1), 1),  # rows never read
)


@numpy_case
def conv2d_grad_cases():
    """conv2d_grad_input/_filter with strides, padding, dilation and groups."""
    cases = []
    for i, (xs, ws, st, pd, dl, gr) in enumerate(_CONV_CONFIGS):
        for et in ('f64', 'f32'):
            def build(f, r, xs=xs, ws=ws, st=st, pd=pd, dl=dl, gr=gr, et=et):
                x = r.standard_normal(xs).astype(_f(et))
                w = r.standard_normal(ws).astype(_f(et))
                ys = conv2d_c(x, w, st, pd, dl, gr).shape
                dy = r.standard_normal(ys).astype(_f(et))
                xv, wv, dyv = f.arg(x), f.arg(w), f.arg(dy)
                attrs = _conv_attrs(st, pd, dl, gr)
                f.ret(f._op('conv2d_grad_input', 'kiln.conv2d_grad_input %s, %s, %s : %s, %s -> %s'
                            % (dyv.name, wv.name, attrs, dyv.type, wv.type, ttype(xs, et)),
                            xs, et),
                      vjp(lambda z: conv2d_c(z, w, st, pd, dl, gr), x, dy).astype(_f(et)))
                f.ret(f._op('conv2d_grad_filter', 'kiln.conv2d_grad_filter %s, %s, %s : %s, %s -> %s'
                            % (xv.name, dyv.name, attrs, xv.type, dyv.type, ttype(ws, et)),
                            ws, et),
                      vjp(lambda z: conv2d_c(x, z, st, pd, dl, gr), w, dy).astype(_f(et)))
            cases.append(simple('conv2d_grad_%d_%s' % (i, et), build, _precisions(et)))
    return cases


_POOL_CONFIGS = (
    # kind, input, window, strides, padding, count_include_pad
    ('max', (2, 2, 4, 4), (2, 2), (2, 2), (0, 0, 0, 0), False),
    ('max', (1, 2, 5, 5), (3, 3), (1, 1), (1, 1, 1, 1), False),   # overlapping windows
    ('avg', (1, 2, 5, 5), (3, 3), (2, 2), (1, 1, 1, 1), False),
    ('avg', (1, 2, 5, 5), (3, 3), (2, 2), (1, 1, 1, 1), True),
    ('avg', (2, 1, 4, 5), (2, 3), (1, 1), (1, 0, 0, 2), True),
)


@numpy_case
def pool2d_grad_cases():
    """pool2d_grad: max routes to the first maximum, avg divides like pool2d."""
    cases = []
    for i, (kind, xs, win, st, pd, cip) in enumerate(_POOL_CONFIGS):
        for et in ('f64', 'f32'):
            def build(f, r, kind=kind, xs=xs, win=win, st=st, pd=pd, cip=cip, et=et):
                x = r.standard_normal(xs).astype(_f(et))
                if kind == 'max':
                    x.flat[1] = x.flat[0]  # a tie: the first one takes it
                ys = pool2d_c(kind, x, win, st, pd, cip).shape
                dy = r.standard_normal(ys).astype(_f(et))
                xv, dyv = f.arg(x), f.arg(dy)
                f.ret(f._op('pool2d_grad', 'kiln.pool2d_grad %s %s, %s, window = %s, '
                            'strides = %s, padding = %s%s : %s, %s'
                            % (kind, xv.name, dyv.name, ilist(win), ilist(st), ilist(pd),
                               ' {count_include_pad}' if cip else '', xv.type, dyv.type),
                            xs, et),
                      vjp(lambda z: pool2d_c(kind, z, win, st, pd, cip), x, dy).astype(_f(et)))
            cases.append(simple('pool2d_grad_%d_%s_%s' % (i, kind, et), build,
                                _precisions(et)))
    return cases


@numpy_case
def stop_gradient_cases():
    """stop_gradient is the identity on every type."""
    def build(f, r):
        x = r.standard_normal((3, 4)).astype(np.float32)
        i = r.integers(-5, 5, 6).astype(np.int64)
        for a in (f.arg(x), f.arg(i)):
            f.ret(f._op('stop_gradient', 'kiln.stop_gradient %s : %s' % (a.name, a.type),
                        a.shape, a.et), x if a.et == 'f32' else i)
    return simple('stop_gradient', build, ('native', 'f64'))


@numpy_case
def backward_runtime_errors():
    """A label outside [0, C) is a run-time error of cross_entropy_grad too."""
    def build(f, r):
        lv = f.arg(np.zeros((2, 6), np.float32))
        yv = f.arg(np.array([0, 6], np.int64))
        dv = f.arg(np.float32(1.0).reshape(()))
        f.ret(f._op('cross_entropy_grad', 'kiln.cross_entropy_grad %s, %s, %s : %s, %s, %s'
                    % (lv.name, yv.name, dv.name, lv.type, yv.type, dv.type), (2, 6), 'f32'))
    c = simple('error_cross_entropy_grad_label', build)
    c['expect_error'] = r'cross_entropy_grad label 6 out of range \[0, 6\)'
    return c
