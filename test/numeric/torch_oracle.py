#!/usr/bin/python3
"""PyTorch oracle for whole-model training: the examples against torch.autograd and torch.optim.

Each example model (examples/{mlp,cnn,gpt,lstm}.kiln) is written again by
hand in PyTorch (float64, torch.nn.functional), computing exactly what the
.kiln file says, in the same op order where it matters. Nothing of kiln's is
reused but the values it draws for the initial parameters.

For every model, on one fixed batch (NumPy, fixed seed):

1. forward + gradients: `kiln run MODEL --device reference --precision f64
   --seed S --input NAME=FILE.npy ... [--gradients] --output-dir D` gives the
   loss, the logits, the parameter/buffer values it used (D/params/), the
   gradient of the loss by every parameter (D/gradients/) and the batch-norm
   running statistics after the step (D/NAME.updated.npy). The PyTorch model,
   started from D/params, must agree: loss, logits, every gradient, every
   updated buffer.
2. three optimizer steps: `kiln train MODEL --precision f64 --data DIR
   --batch-size B --steps 3 --seed S --checkpoint C` on a data set of exactly
   one batch (the same batch every step; kiln may shuffle it, which the mean
   loss and batch statistics do not see beyond rounding). PyTorch applies the
   model's own optimizer (torch.optim, torch.nn.utils.clip_grad_norm_) three
   times; every parameter, buffer and optimizer-state tensor of
   C/checkpoint.safetensors must agree.
3. the same three steps with the train clause replaced by
   `train minimize loss with adam(lr = 1e-2)` (a temporary copy of the model)
   against torch.optim.Adam(lr=1e-2).

Relative error of a tensor: max|kiln - torch| / max(max|torch|, 1e-12).
Everything must be within 1e-6 (TOL). Parameters after the steps are also
compared by their change (p3 - p0), which is much stricter than comparing
the values (DELTA_TOL).

Usage:
    /usr/bin/python3 test/numeric/torch_oracle.py --kiln build/bin/kiln
        [--models mlp,cnn] [--seed S] [--data-seed N] [--keep DIR] [-v]
        [--only-gradients] # no kiln train
        [--perturb KIND]   # self-test: perturb the PyTorch side and require
                           # that the comparison fails (KIND: logit-scale,
                           # norm-eps, lr)

Prints a table (model, loss error, worst gradient error and its parameter,
worst parameter error after 3 steps with the model's optimizer and with
Adam) and exits 1 naming every model and tensor above TOL. Exit code 77
(ctest: skipped) without numpy or torch: run it with Debian's /usr/bin/python3
(python3-numpy, python3-torch).
"""

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover
    print('%s: run with /usr/bin/python3 (python3-numpy, python3-torch); skipped' % e)
    sys.exit(77)  # ctest's SKIP_RETURN_CODE

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLES = os.path.join(ROOT, 'examples')
TOL = 1e-6
# The change of a parameter over the 3 steps (p3 - p0) is compared to the
# same 1e-6. It is much stricter than comparing the values: Adam divides each
# gradient element by its own root-mean-square, so an element whose gradient
# is nearly zero (a ReLU unit at the edge of dying) magnifies any difference
# of the state; under --precision f64 the optimizer's hyperparameters are
# f64 constants (cast to the parameter's type only in native runs), so both
# sides compute the same doubles and agree to ~1e-12.
DELTA_TOL = 1e-6
MODELS = ('mlp', 'cnn', 'gpt', 'lstm')

torch.set_default_dtype(torch.float64)
torch.use_deterministic_algorithms(True)

# What a self-test perturbation changes on the PyTorch side (--perturb).
PERTURB = {'kind': None}


def perturbed(kind):
    return PERTURB['kind'] == kind


def norm_eps():
    return 1.1e-5 if perturbed('norm-eps') else 1e-5


#===----------------------------------------------------------------------===#
# File formats
#===----------------------------------------------------------------------===#

SAFETENSORS_DTYPES = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'I64': '<i8',
                      'I32': '<i4', 'I16': '<i2', 'I8': 'i1', 'U8': 'u1',
                      'BOOL': '?'}


def read_safetensors(path):
    """(tensors {name: ndarray}, metadata {str: str}) of a .safetensors file:
    8-byte little-endian header length, a JSON header {name: {dtype, shape,
    data_offsets}} (plus "__metadata__"), then the raw little-endian data."""
    with open(path, 'rb') as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError('%s: shorter than the 8-byte header length' % path)
    (n,) = struct.unpack('<Q', blob[:8])
    if 8 + n > len(blob):
        raise ValueError('%s: header length %d beyond the file (%d bytes)' % (path, n, len(blob)))
    header = json.loads(blob[8:8 + n].decode('utf-8'))
    data = blob[8 + n:]
    meta = header.pop('__metadata__', {}) or {}
    tensors = {}
    for name, info in header.items():
        dt = SAFETENSORS_DTYPES.get(info['dtype'])
        if dt is None:
            raise ValueError('%s: tensor %s has dtype %s' % (path, name, info['dtype']))
        lo, hi = info['data_offsets']
        shape = tuple(info['shape'])
        arr = np.frombuffer(data[lo:hi], dtype=np.dtype(dt))
        if arr.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError('%s: tensor %s has %d elements for shape %s' % (path, name, arr.size, shape))
        tensors[name] = arr.reshape(shape).copy()
    return tensors, meta


def read_npy_dir(path):
    out = {}
    if os.path.isdir(path):
        for f in sorted(os.listdir(path)):
            if f.endswith('.npy'):
                out[f[:-4]] = np.load(os.path.join(path, f))
    return out


#===----------------------------------------------------------------------===#
# Running kiln
#===----------------------------------------------------------------------===#

class KilnError(Exception):
    pass


def run_kiln(kiln, args, timeout=900):
    cmd = [kiln] + args
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise KilnError('timed out after %d s: %s' % (timeout, ' '.join(cmd)))
    if p.returncode != 0:
        tail = (p.stderr.strip() or p.stdout.strip()).splitlines()[-6:]
        raise KilnError('exit %d: %s\n      %s' % (p.returncode, ' '.join(cmd), '\n      '.join(tail)))
    return p.stdout


def signature(kiln, model_path):
    """[(name, role, shape, elem)] of @forward's arguments and the optimizer
    text, from `kiln compile --emit=mlir`."""
    text = run_kiln(kiln, ['compile', model_path, '--emit=mlir'])
    m = re.search(r'func\.func @forward\((.*?)\)\s*->', text, re.S)
    if not m:
        raise KilnError('no func.func @forward in the compiled %s' % model_path)
    args = []
    for am in re.finditer(r'%arg\d+: tensor<([^>]*)> \{([^}]*)\}', m.group(1)):
        dims = am.group(1).split('x')
        elem, shape = dims[-1], tuple(int(d) for d in dims[:-1])
        name = re.search(r'kiln\.name = "([^"]+)"', am.group(2)).group(1)
        role = re.search(r'kiln\.role = #kiln<role (\w+)>', am.group(2)).group(1)
        args.append((name, role, shape, elem))
    return args


#===----------------------------------------------------------------------===#
# The models in PyTorch (float64). Each forward takes the parameters and the
# buffers by kiln name (torch tensors) and the inputs (torch tensors), updates
# the buffers in place (batch norm in training mode, as kiln's train step),
# and returns (loss, logits).
#===----------------------------------------------------------------------===#

def dense(p, prefix, h):
    return h @ p[prefix + '.w'] + p[prefix + '.b']


def loss_of(logits, labels):
    if perturbed('logit-scale'):
        logits = logits * (1 + 1e-5)
    return F.cross_entropy(logits, labels, reduction='mean')


def mlp_forward(p, b, inp):
    x, y = inp['x'], inp['y']
    logits = dense(p, 'l3', F.relu(dense(p, 'l2', F.relu(dense(p, 'l1', x)))))
    return loss_of(logits, y), logits


def cnn_forward(p, b, inp):
    x, y = inp['x'], inp['y']

    def conv_bn(pre, h):
        z = F.conv2d(h, p[pre + '.w'], padding=1)
        z = F.batch_norm(z, b[pre + '.mean'], b[pre + '.var'], p[pre + '.gamma'],
                         p[pre + '.beta'], training=True, momentum=0.1, eps=norm_eps())
        return F.relu(z)

    h = F.max_pool2d(conv_bn('c1', x), 2)
    h = F.max_pool2d(conv_bn('c2', h), 2)
    logits = dense(p, 'fc', torch.flatten(h, 1))
    return loss_of(logits, y), logits


GPT = dict(batch=4, seq=8, vocab=32, d=32, heads=4, layers=2)


def gpt_forward(p, b, inp):
    tokens, targets = inp['tokens'], inp['targets']
    B, T, V, d, H, L = (GPT[k] for k in ('batch', 'seq', 'vocab', 'd', 'heads', 'layers'))
    dh = d // H
    # `rsqrt(dh)` folds to a number that becomes an f32 kiln.constant; under
    # --precision f64 the interpreter computes with that f32 value.
    scale = float(np.float32(1.0 / np.sqrt(dh)))

    def ln(pre, h):
        return F.layer_norm(h, (d,), p[pre + '.gamma'], p[pre + '.beta'], eps=norm_eps())

    def heads(t):  # [B, T, d] -> [B, H, T, dh]
        return t.reshape(B, T, H, dh).permute(0, 2, 1, 3)

    def attention(pre, h):
        q, k, v = torch.split(dense(p, pre + '.qkv', h), d, dim=-1)
        q, k, v = heads(q), heads(k), heads(v)
        scores = torch.matmul(q, k.transpose(-1, -2)) * scale
        idx = torch.arange(T)
        causal = idx[None, :] <= idx[:, None]        # iota dim 1 <= iota dim 0
        scores = torch.where(causal, scores, torch.tensor(-1e9))
        out = torch.softmax(scores, dim=-1) @ v
        out = out.permute(0, 2, 1, 3).reshape(B, T, d)
        return dense(p, pre + '.proj', out)

    h = F.embedding(tokens, p['wte']) + p['wpe']
    for i in range(L):
        pre = 'blocks.%d' % i
        h = h + attention(pre + '.attn', ln(pre + '.ln1', h))
        up = dense(p, pre + '.ff.up', ln(pre + '.ln2', h))
        h = h + dense(p, pre + '.ff.down', F.gelu(up, approximate='tanh'))
    logits = dense(p, 'head', ln('ln_f', h))
    return loss_of(logits.reshape(B * T, V), targets.reshape(B * T)), logits


def lstm_forward(p, b, inp):
    x, y = inp['x'], inp['y']
    batch, steps, _ = x.shape
    n = p['cell.wh'].shape[0]
    h = torch.zeros(batch, n)
    c = torch.zeros(batch, n)
    for t in range(steps):
        g = x[:, t, :] @ p['cell.wx'] + h @ p['cell.wh'] + p['cell.b']
        i = torch.sigmoid(g[:, 0:n])
        f = torch.sigmoid(g[:, n:2 * n])
        u = torch.tanh(g[:, 2 * n:3 * n])
        o = torch.sigmoid(g[:, 3 * n:4 * n])
        c = f * c + i * u
        h = o * torch.tanh(c)
    logits = h @ p['w_out'] + p['b_out']
    return loss_of(logits, y), logits


def digits_like(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


SPECS = {
    'mlp': dict(forward=mlp_forward, batch=32,
                inputs=lambda r: {'x': digits_like(r, (32, 64)),
                                  'y': r.integers(0, 10, 32).astype(np.int64)},
                # The optimizer the test expects the train clause to say.
                expect_opt=('adam', {'lr': 1e-3, 'beta1': 0.9, 'beta2': 0.999})),
    'cnn': dict(forward=cnn_forward, batch=16, norms=True,
                inputs=lambda r: {'x': digits_like(r, (16, 1, 8, 8)),
                                  'y': r.integers(0, 10, 16).astype(np.int64)},
                expect_opt=('momentum', {'lr': 0.05, 'momentum': 0.9})),
    'gpt': dict(forward=gpt_forward, batch=4, norms=True,
                inputs=lambda r: {'tokens': r.integers(0, 32, (4, 8)).astype(np.int64),
                                  'targets': r.integers(0, 32, (4, 8)).astype(np.int64)},
                expect_opt=('adamw', {'lr': 3e-4, 'weight_decay': 0.01})),
    'lstm': dict(forward=lstm_forward, batch=16,
                 inputs=lambda r: {'x': digits_like(r, (16, 8, 8)),
                                   'y': r.integers(0, 10, 16).astype(np.int64)},
                 expect_opt=('sgd', {'lr': 0.1, 'clip_norm': 1.0})),
}


#===----------------------------------------------------------------------===#
# Optimizers: the model's train clause -> torch.optim
#===----------------------------------------------------------------------===#

TRAIN_RE = re.compile(r'^(\s*)train\b([^\n]*?)\bwith\s+(\w+)\s*(?:\(([^)]*)\))?[ \t]*(#.*)?$', re.M)


def parse_train_clause(source):
    m = TRAIN_RE.search(source)
    if not m:
        raise ValueError('no train clause')
    kind, hps = m.group(3), {}
    for item in (m.group(4) or '').split(','):
        if item.strip():
            k, v = item.split('=')
            hps[k.strip()] = float(v)
    return kind, hps


def make_optimizer(kind, hps, params):
    """torch.optim for a kiln optimizer. Defaults are PyTorch's, which are
    also kiln's (ir/KilnBase.td: adam/adamw betas 0.9/0.999, eps 1e-8,
    adamw weight_decay 0.01); kiln's momentum default is 0.9."""
    known = {'sgd': {'lr', 'weight_decay', 'clip_norm'},
             'momentum': {'lr', 'weight_decay', 'clip_norm', 'momentum'},
             'nesterov': {'lr', 'weight_decay', 'clip_norm', 'momentum'},
             'adam': {'lr', 'weight_decay', 'clip_norm', 'beta1', 'beta2', 'eps'},
             'adamw': {'lr', 'weight_decay', 'clip_norm', 'beta1', 'beta2', 'eps'}}
    if kind not in known or set(hps) - known[kind]:
        raise ValueError('optimizer %s(%s) is not mapped to torch.optim' % (kind, hps))
    lr = hps.get('lr', 1e-3 if kind.startswith('adam') else 1e-2)
    if perturbed('lr'):
        lr *= 1 + 1e-4
    if kind in ('sgd', 'momentum', 'nesterov'):
        opt = torch.optim.SGD(params, lr=lr, momentum=hps.get('momentum', 0.9) if kind != 'sgd' else 0,
                              nesterov=kind == 'nesterov', weight_decay=hps.get('weight_decay', 0.0))
    else:
        cls = torch.optim.Adam if kind == 'adam' else torch.optim.AdamW
        opt = cls(params, lr=lr, betas=(hps.get('beta1', 0.9), hps.get('beta2', 0.999)),
                  eps=hps.get('eps', 1e-8),
                  weight_decay=hps.get('weight_decay', 0.0 if kind == 'adam' else 0.01))
    return opt, hps.get('clip_norm', 0.0)


# kiln's optimizer-state slot -> torch.optim state key.
SLOTS = {'momentum': 'momentum_buffer', 'm': 'exp_avg', 'v': 'exp_avg_sq'}


#===----------------------------------------------------------------------===#
# Comparison
#===----------------------------------------------------------------------===#

def rel_err(got, want):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return float('inf')
    if got.size == 0:
        return 0.0
    diff = np.abs(got - want)
    if not np.all(np.isfinite(got)):
        return float('inf')
    return float(diff.max() / max(float(np.abs(want).max()), 1e-12))


class Report:
    def __init__(self, model):
        self.model = model
        self.cols = {}        # column -> (worst err, tensor name)
        self.failures = []    # messages
        self.lines = []       # verbose per-tensor lines

    def check(self, col, name, got, want, tol=TOL):
        if np.shape(got) != np.shape(want):
            self.failures.append('%s %s: %s: shape %s, expected %s'
                                 % (self.model, col, name, np.shape(got), np.shape(want)))
            err = float('inf')
        else:
            err = rel_err(got, want)
        self.lines.append('  %-6s %-18s %-32s %.2e' % (self.model, col, name, err))
        if not (err <= tol):
            self.failures.append('%s %s: %s: relative error %.3e > %.0e'
                                 % (self.model, col, name, err, tol))
        cur = self.cols.get(col)
        if cur is None or not (err <= cur[0]):
            self.cols[col] = (err, name)
        return err

    def fail(self, col, msg):
        self.failures.append('%s %s: %s' % (self.model, col, msg))
        self.cols[col] = (None, 'ERROR')


def to_torch(arrays, grad=False):
    return {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=grad)
            for k, v in arrays.items()}


def torch_inputs(inputs):
    return {k: torch.tensor(v.astype(np.float64) if v.dtype.kind == 'f' else v)
            for k, v in inputs.items()}


#===----------------------------------------------------------------------===#
# One model
#===----------------------------------------------------------------------===#

def write_inputs(d, inputs):
    os.makedirs(d, exist_ok=True)
    flags = []
    for k, v in inputs.items():
        path = os.path.join(d, k + '.npy')
        np.save(path, v)
        flags += ['--input', '%s=%s' % (k, path)]
    return flags


def kiln_gradients(kiln, model_path, seed, flags, out):
    """kiln run --gradients: (loss, params+buffers, gradients, buffer updates)."""
    run_kiln(kiln, ['run', model_path, '--device', 'reference', '--precision', 'f64',
                    '--seed', str(seed), '--gradients', '--output-dir', out] + flags)
    if os.path.isdir(os.path.join(out, 'params')):
        params = read_npy_dir(os.path.join(out, 'params'))
        grads = read_npy_dir(os.path.join(out, 'gradients'))
    else:  # the safetensors form of the usage text
        params, _ = read_safetensors(os.path.join(out, 'params.safetensors'))
        grads, _ = read_safetensors(os.path.join(out, 'gradients.safetensors'))
    loss = np.load(os.path.join(out, 'loss.npy'))
    updated = {f[:-len('.updated.npy')]: np.load(os.path.join(out, f))
               for f in os.listdir(out) if f.endswith('.updated.npy')}
    return loss, params, grads, updated


def torch_steps(spec, kind, hps, p0, b0, inputs, steps=3):
    params = to_torch(p0, grad=True)
    buffers = to_torch(b0)
    names = list(params)
    opt, clip = make_optimizer(kind, hps, [params[n] for n in names])
    tin = torch_inputs(inputs)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss, _ = spec['forward'](params, buffers, tin)
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_([params[n] for n in names], clip)
        opt.step()
    state = {}
    for n in names:
        for slot, key in SLOTS.items():
            st = opt.state.get(params[n], {})
            if st.get(key) is not None:
                state['%s.%s' % (n, slot)] = st[key].detach().numpy()
    return ({n: t.detach().numpy() for n, t in params.items()},
            {n: t.numpy() for n, t in buffers.items()}, state)


def compare_train(rep, col, kiln, model_path, args, spec, inputs, p0, b0, roles, work, tag):
    """kiln train 3 steps vs torch.optim 3 steps from the same start."""
    with open(model_path) as f:
        kind, hps = parse_train_clause(f.read())
    data = os.path.join(work, 'data')
    if not os.path.isdir(data):
        write_inputs(data, inputs)
    ckpt = os.path.join(work, 'ckpt-' + tag)
    shutil.rmtree(ckpt, ignore_errors=True)
    run_kiln(kiln, ['train', model_path, '--device', 'reference', '--precision', 'f64',
                    '--data', data, '--batch-size', str(spec['batch']), '--epochs', '3',
                    '--steps', '3', '--seed', str(args.seed), '--checkpoint', ckpt])
    got, meta = read_safetensors(os.path.join(ckpt, 'checkpoint.safetensors'))
    if meta.get('kiln.step') != '3':
        rep.fail(col, 'checkpoint kiln.step = %r after --steps 3' % meta.get('kiln.step'))
    want_p, want_b, want_s = torch_steps(spec, kind, hps, p0, b0, inputs)
    want = dict(want_p, **want_b, **want_s)
    for n in sorted(set(got) - set(want)):
        if roles.get(n) is None and not n.rsplit('.', 1)[0] in p0:
            rep.fail(col, 'checkpoint tensor %s is not a parameter, buffer or optimizer state' % n)
    for n in want:
        if n not in got:
            rep.fail(col, 'checkpoint has no tensor %s' % n)
            continue
        if got[n].dtype != np.float64:
            rep.fail(col, '%s is %s under --precision f64' % (n, got[n].dtype))
        rep.check(col, n, got[n], want[n])
        if n in p0:  # the change of a parameter: a much stricter comparison
            rep.check(col + ' delta', n, got[n] - p0[n], want[n] - p0[n], DELTA_TOL)
    for n, v in got.items():  # state torch does not create (kiln keeps zeros)
        if n not in want and n.rsplit('.', 1)[0] in p0:
            rep.check(col, n + ' (no torch state)', v, np.zeros_like(v))


def check_model(name, args, kiln, work):
    spec = SPECS[name]
    rep = Report(name)
    model_path = os.path.join(EXAMPLES, name + '.kiln')
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(1000 * args.data_seed + MODELS.index(name))
    inputs = spec['inputs'](rng)
    flags = write_inputs(os.path.join(work, 'inputs'), inputs)
    tin = torch_inputs(inputs)

    # The signature: names, roles, shapes; and the train clause.
    try:
        sig = signature(kiln, model_path)
    except KilnError as e:
        rep.fail('compile', str(e))
        return rep
    roles = {n: r for n, r, _, _ in sig}
    with open(model_path) as f:
        kind, hps = parse_train_clause(f.read())
    if (kind, hps) != spec['expect_opt']:
        rep.fail('optimizer', 'train clause says %s %s, the test expects %s' % (kind, hps, spec['expect_opt']))

    # 1. forward (logits) and gradients.
    try:
        out = os.path.join(work, 'forward')
        run_kiln(kiln, ['run', model_path, '--device', 'reference', '--precision', 'f64',
                        '--seed', str(args.seed), '--output-dir', out] + flags)
        fwd = read_npy_dir(out)
        loss_k, pb, grads_k, updated_k = kiln_gradients(
            kiln, model_path, args.seed, flags, os.path.join(work, 'gradients'))
    except KilnError as e:
        rep.fail('gradients', str(e))
        return rep
    p0 = {n: v for n, v in pb.items() if roles.get(n) == 'param'}
    b0 = {n: v for n, v in pb.items() if roles.get(n) == 'buffer'}
    for n, r, shape, _ in sig:
        if r in ('param', 'buffer') and (n not in pb or pb[n].shape != shape):
            rep.fail('params', '%s %s: kiln wrote %s, the signature says %s'
                     % (r, n, None if n not in pb else pb[n].shape, shape))
    for n, v in pb.items():
        if v.dtype != np.float64:
            rep.fail('params', '%s is %s under --precision f64' % (n, v.dtype))
    params = to_torch(p0, grad=True)
    buffers = to_torch(b0)
    loss, logits = spec['forward'](params, buffers, tin)
    loss.backward()
    rep.check('loss', 'loss', loss_k, loss.detach().numpy())
    # The forward run (kiln run without --gradients) writes its outputs in
    # their declared type (f32) even under --precision f64: ~6e-8 at best.
    for n, t in (('loss', loss), ('logits', logits)):
        if n in fwd:
            rep.check('forward', n, fwd[n], t.detach().numpy())
        else:
            rep.fail('forward', 'kiln run wrote no %s.npy' % n)
    for n in p0:
        if n not in grads_k:
            rep.fail('grad', 'no gradient of %s' % n)
            continue
        rep.check('grad', n, grads_k[n], params[n].grad.numpy())
    for n in b0:
        if n not in updated_k:
            rep.fail('buffers', 'no %s.updated' % n)
            continue
        rep.check('buffers', n + '.updated', updated_k[n], buffers[n].numpy())
    if args.only_gradients:
        return rep

    # 2. three steps of the model's optimizer, 3. three Adam steps.
    try:
        compare_train(rep, 'own', kiln, model_path, args, spec, inputs, p0, b0, roles, work, 'own')
    except KilnError as e:
        rep.fail('own', str(e))
    try:
        with open(model_path) as f:
            src = f.read()
        adam_src, n = TRAIN_RE.subn(r'\1train minimize loss with adam(lr = 1e-2)', src)
        assert n == 1, 'no train clause in %s' % model_path
        adam_path = os.path.join(work, name + '.kiln')  # same file name, same model name
        with open(adam_path, 'w') as f:
            f.write(adam_src)
        compare_train(rep, 'adam', kiln, adam_path, args, spec, inputs, p0, b0, roles, work, 'adam')
    except KilnError as e:
        rep.fail('adam', str(e))
    return rep


#===----------------------------------------------------------------------===#
# Main
#===----------------------------------------------------------------------===#

def fmt(col):
    if col is None:
        return '-'
    err, name = col
    if err is None:
        return 'ERROR'
    return '%.2e' % err if name is None else '%.2e (%s)' % (err, name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--kiln', required=True, help='path to the kiln binary')
    ap.add_argument('--models', default=','.join(MODELS), help='comma-separated (%(default)s)')
    ap.add_argument('--seed', type=int, default=7, help='kiln --seed (%(default)s)')
    ap.add_argument('--data-seed', type=int, default=1, help='NumPy seed of the batch (%(default)s)')
    ap.add_argument('--keep', default=None, help='keep the files under DIR')
    ap.add_argument('--only-gradients', action='store_true', help='skip kiln train')
    ap.add_argument('--perturb', choices=('logit-scale', 'norm-eps', 'lr'), default=None,
                    help='self-test: perturb the PyTorch side; succeed only if every model '
                    'it affects fails (norm-eps: cnn, gpt; lr needs kiln train)')
    ap.add_argument('-v', action='store_true', help='print every tensor compared')
    args = ap.parse_args()
    kiln = os.path.abspath(args.kiln)
    if not os.access(kiln, os.X_OK):
        print('error: %s is not an executable' % kiln)
        return 2
    models = [m for m in args.models.split(',') if m]
    for m in models:
        if m not in SPECS:
            print('error: unknown model %s (expected %s)' % (m, ', '.join(MODELS)))
            return 2
    PERTURB['kind'] = args.perturb

    root = args.keep or tempfile.mkdtemp(prefix='kiln-torch-oracle-')
    reports = []
    try:
        for m in models:
            reports.append(check_model(m, args, kiln, os.path.join(root, m)))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    if args.v:
        for r in reports:
            print('\n'.join(r.lines))
    hdr = ('model', 'loss', 'forward (f32 out)', 'worst gradient (param)', 'buffers',
           '3 steps own optimizer', '3 steps own (delta)', '3 steps adam', '3 steps adam (delta)')
    rows = []
    for r in reports:
        c = r.cols
        loss = c.get('loss')
        rows.append((r.model, fmt(loss and (loss[0], None)), fmt(c.get('forward')),
                     fmt(c.get('grad')), fmt(c.get('buffers')), fmt(c.get('own')),
                     fmt(c.get('own delta')), fmt(c.get('adam')), fmt(c.get('adam delta'))))
    widths = [max(len(str(x[i])) for x in rows + [hdr]) for i in range(len(hdr))]
    for row in [hdr] + rows:
        print('  '.join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    failures = [f for r in reports for f in r.failures]
    print('relative error = max|kiln - torch| / max(max|torch|, 1e-12); tolerance %.0e '
          '(changes p3 - p0: %.0e)' % (TOL, DELTA_TOL))
    if args.perturb:
        # norm-eps changes only the models with batch/layer norm.
        clean = [r.model for r in reports if not r.failures and
                 (args.perturb != 'norm-eps' or SPECS[r.model].get('norms'))]
        if clean:
            print('FAILED: the perturbation %s went unnoticed for %s' % (args.perturb, ', '.join(clean)))
            return 1
        print('ok: the perturbation %s was detected for every model (%d mismatches)'
              % (args.perturb, len(failures)))
        return 0
    for f in failures:
        print('FAIL: ' + f)
    print('%s: %d models, %d failures' % ('FAILED' if failures else 'passed', len(reports), len(failures)))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
