"""ONNX-referenced cases of the numeric conformance tests (see conformance.py).

ONNX_TABLE maps a directory of the ONNX backend test data (Debian's
libonnx-testdata, ONNX 1.12) to a builder that emits the kiln function;
ONNX_SKIPS lists the related tests kiln cannot express, with the reason.
onnx_cases() yields the cases, and ('skip', name, reason) tuples.
"""

import glob
import os
import re

import numpy as np

from common import TOLERANCES, Fn, Unsupported, make_case, ttype

try:
    import onnx
    from onnx import numpy_helper
except ImportError:  # The ONNX cases are skipped, the NumPy ones still run.
    onnx = None

ONNX_DIR = '/usr/share/libonnx-testdata/data/node'

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
