#!/usr/bin/python3
"""--kiln-optimizer against torch.optim, configuration by configuration.

For every optimizer kind (sgd, momentum, nesterov, adam, adamw) x weight
decay (off, 0.05) x clipping (off, clip_norm 0.5) x schedule (constant,
linear warmup, cosine, warmup + cosine), a hand-written gradient-form
@train_step (the format of docs/training.md that --kiln-autodiff produces)
goes through `kiln-opt --kiln-optimizer`, and the resulting step is run
three times with `kiln run --precision f64` (the reference interpreter),
feeding every `kiln.updates` result back into the argument it names.

The gradients are simple functions of the parameters and the step's inputs,
computed by the step itself, so that the optimizer state matters:

    w  f64[2, 3]   grad = x1 * w
    b  f64[3]      grad = x2 - b
    s  f64[]       grad = x3
    u  f64[2]      no gradient (kiln.no_gradient): must stay as it is
    count f64[]    a buffer, updated to count + 1
    loss = sum(x1 * w)

Source of truth: PyTorch 1.13 (Debian's python3-torch), float64:
torch.optim.SGD (momentum, nesterov, dampening 0), torch.optim.Adam,
torch.optim.AdamW (single-tensor implementations, foreach=False) and
torch.nn.utils.clip_grad_norm_; the learning rate of each step is set on
the param group from the schedule formulas of docs/training.md, restated
below (lr_at). Parameter u has grad None, which PyTorch skips.

After every step, the loss, every parameter, the buffer, every optimizer
state tensor and the change of every parameter since the start must agree
to a relative error (max|kiln - torch| / max|torch|) of TOL = 1e-12.

Usage:
    /usr/bin/python3 test/numeric/optimizer_test.py --kiln build/bin/kiln
        --kiln-opt build/bin/kiln-opt [-j N] [--filter REGEX] [--keep DIR] [-v]
        [--perturb]   # self-test: scale PyTorch's learning rate by 1 + 1e-8
                      # and require that every configuration fails

Exit code 77 (ctest: skipped) without numpy or torch.
"""

import argparse
import itertools
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

try:
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover
    print('%s: run with /usr/bin/python3 (python3-numpy, python3-torch); skipped' % e)
    sys.exit(77)  # ctest's SKIP_RETURN_CODE

TOL = 1e-12
STEPS = 3
KINDS = ('sgd', 'momentum', 'nesterov', 'adam', 'adamw')
SCHEDULES = {
    # name: (schedule, warmup_steps, total_steps)
    'constant': ('constant', 0, 0),
    'warmup': ('constant', 3, 0),
    'cosine': ('cosine', 0, 3),
    'warmup_cosine': ('cosine', 1, 4),
}
SLOTS = {'sgd': [], 'momentum': ['momentum'], 'nesterov': ['momentum'],
         'adam': ['m', 'v'], 'adamw': ['m', 'v']}
TORCH_STATE = {'momentum': 'momentum_buffer', 'm': 'exp_avg', 'v': 'exp_avg_sq'}
PARAMS = (('w', (2, 3)), ('b', (3,)), ('s', ()), ('u', (2,)))


class Config:
    def __init__(self, kind, wd, clip, schedule):
        self.kind, self.wd, self.clip, self.schedule_name = kind, wd, clip, schedule
        self.schedule, self.warmup, self.total = SCHEDULES[schedule]
        self.lr = 0.05 if kind.startswith('adam') else 0.1
        self.momentum = 0.8
        self.beta1, self.beta2, self.eps = 0.85, 0.99, 1e-6
        self.min_lr = self.lr / 10 if self.schedule == 'cosine' else 0.0

    @property
    def name(self):
        return '%s-wd%g-clip%g-%s' % (self.kind, self.wd, self.clip, self.schedule_name)

    def attribute(self):
        """The #kiln.optimizer<...> of this configuration (all fields set)."""
        f = lambda v: '%.17e' % v
        fields = ['lr = ' + f(self.lr)]
        if self.kind in ('momentum', 'nesterov'):
            fields.append('momentum = ' + f(self.momentum))
        if self.kind.startswith('adam'):
            fields += ['beta1 = ' + f(self.beta1), 'beta2 = ' + f(self.beta2),
                       'eps = ' + f(self.eps)]
        fields += ['weight_decay = ' + f(self.wd), 'clip_norm = ' + f(self.clip),
                   'schedule = ' + self.schedule, 'warmup_steps = %d' % self.warmup]
        if self.schedule == 'cosine':
            fields += ['total_steps = %d' % self.total, 'min_lr = ' + f(self.min_lr)]
        return '#kiln.optimizer<%s, %s>' % (self.kind, ', '.join(fields))


def lr_at(cfg, s):
    """docs/training.md: warmup multiplies by min(1, (s+1)/W); cosine decays
    from lr to min_lr over [W, T)."""
    base = cfg.lr
    if cfg.schedule == 'cosine':
        progress = min(max((s - cfg.warmup) / (cfg.total - cfg.warmup), 0.0), 1.0)
        base = cfg.min_lr + (cfg.lr - cfg.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
    if cfg.warmup > 0:
        base = base * min((s + 1) / cfg.warmup, 1.0)
    return base


def gradient_form(cfg):
    """The gradient-form @train_step of the module docstring."""
    init = 'kiln.init = #kiln<init zeros>'
    return '''\
func.func @train_step(
    %%x1: tensor<2x3xf64> {kiln.name = "x1", kiln.role = #kiln<role input>},
    %%x2: tensor<3xf64> {kiln.name = "x2", kiln.role = #kiln<role input>},
    %%x3: tensor<f64> {kiln.name = "x3", kiln.role = #kiln<role input>},
    %%w: tensor<2x3xf64> {kiln.name = "w", kiln.role = #kiln<role param>, %(init)s},
    %%b: tensor<3xf64> {kiln.name = "b", kiln.role = #kiln<role param>, %(init)s},
    %%s: tensor<f64> {kiln.name = "s", kiln.role = #kiln<role param>, %(init)s},
    %%u: tensor<2xf64> {kiln.name = "u", kiln.role = #kiln<role param>, %(init)s},
    %%count: tensor<f64> {kiln.name = "count", kiln.role = #kiln<role buffer>, %(init)s},
    %%step: tensor<i64> {kiln.name = "step", kiln.role = #kiln<role step>})
    -> (tensor<f64> {kiln.loss, kiln.name = "loss"},
        tensor<2x3xf64> {kiln.grad_of = "w", kiln.name = "w.grad"},
        tensor<3xf64> {kiln.grad_of = "b", kiln.name = "b.grad"},
        tensor<f64> {kiln.grad_of = "s", kiln.name = "s.grad"},
        tensor<2xf64> {kiln.grad_of = "u", kiln.name = "u.grad", kiln.no_gradient},
        tensor<f64> {kiln.name = "count.updated", kiln.updates = "count"})
    attributes {kiln.optimizer = %(opt)s} {
  %%xw = kiln.mul %%x1, %%w : tensor<2x3xf64>
  %%loss = kiln.reduce sum %%xw, dims = [0, 1] : tensor<2x3xf64>
  %%gw = kiln.mul %%x1, %%w : tensor<2x3xf64>
  %%gb = kiln.sub %%x2, %%b : tensor<3xf64>
  %%gu = kiln.constant dense<0.0> : tensor<2xf64>
  %%one = kiln.constant dense<1.0> : tensor<f64>
  %%count1 = kiln.add %%count, %%one : tensor<f64>
  return %%loss, %%gw, %%gb, %%x3, %%gu, %%count1
      : tensor<f64>, tensor<2x3xf64>, tensor<3xf64>, tensor<f64>, tensor<2xf64>, tensor<f64>
}
''' % {'init': init, 'opt': cfg.attribute()}


ARG_RE = re.compile(r'%arg\d+: tensor<[^>]*> \{([^}]*)\}')
RESULT_RE = re.compile(r'\{kiln\.name = "([^"]*)", kiln\.updates = "([^"]*)"\}')


def attr(attrs, key):
    m = re.search(key + r' = ("([^"]*)"|#kiln<role (\w+)>)', attrs)
    return None if not m else (m.group(2) if m.group(2) is not None else m.group(3))


def data(seed):
    """Initial values and the inputs of every step (fixed per seed)."""
    r = np.random.default_rng(seed)
    init = {n: r.normal(0, 1, shape) for n, shape in PARAMS}
    init['count'] = np.array(0.0)
    steps = [{'x1': r.uniform(0.5, 1.5, (2, 3)), 'x2': r.normal(0, 2, (3,)),
              'x3': np.array(r.uniform(1, 2))} for _ in range(STEPS)]
    return init, steps


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError('%s failed (%d):\n%s%s' % (' '.join(cmd), p.returncode,
                                                       p.stdout, p.stderr))
    return p.stdout


def kiln_steps(cfg, args, work, init, steps):
    """Three steps through kiln-opt and kiln run; the values after each."""
    src = os.path.join(work, 'gradient.mlir')
    with open(src, 'w') as f:
        f.write(gradient_form(cfg))
    text = run([args.kiln_opt, src, '--kiln-optimizer'])
    step_mlir = os.path.join(work, 'step.mlir')
    with open(step_mlir, 'w') as f:
        f.write(text)
    # The contract: state arguments named <param>.<slot>, zero-initialized,
    # in parameter order before `step`; results name what they update.
    args_attrs = ARG_RE.findall(text)
    names = [attr(a, 'kiln.name') for a in args_attrs]
    roles = [attr(a, 'kiln.role') for a in args_attrs]
    want_state = ['%s.%s' % (p, slot) for p, _ in PARAMS for slot in SLOTS[cfg.kind]]
    got_state = [n for n, r in zip(names, roles) if r == 'opt_state']
    if got_state != want_state or names[-1] != 'step' or \
            names[-1 - len(want_state):-1] != want_state:
        raise RuntimeError('state arguments %s (args %s), expected %s before step'
                           % (got_state, names, want_state))
    updates = dict(RESULT_RE.findall(text))  # result name -> argument name
    values = dict(init)
    shapes = dict(PARAMS)
    for n in want_state:
        values[n] = np.zeros(shapes[n.split('.')[0]])
    history = []
    for s, inputs in enumerate(steps):
        d = os.path.join(work, 'step%d' % s)
        os.makedirs(d, exist_ok=True)
        feed = dict(values, step=np.array(s, dtype=np.int64), **inputs)
        cmd = [args.kiln, 'run', step_mlir, '--device', 'reference', '--precision', 'f64',
               '--output-dir', os.path.join(d, 'out')]
        for n in names:
            path = os.path.join(d, n + '.npy')
            np.save(path, feed[n])
            cmd += ['--input', '%s=%s' % (n, path)]
        run(cmd)
        out = lambda n: np.load(os.path.join(d, 'out', n + '.npy'))
        loss = out('loss')
        for result, arg in updates.items():
            values[arg] = out(result)
        history.append(dict(values, loss=loss))
    return history


def torch_steps(cfg, init, steps, lr_scale):
    """The same three steps with torch.optim."""
    params = {n: torch.nn.Parameter(torch.tensor(init[n])) for n, _ in PARAMS}
    plist = [params[n] for n, _ in PARAMS]
    common = {'lr': cfg.lr, 'weight_decay': cfg.wd}
    if cfg.kind in ('sgd', 'momentum', 'nesterov'):
        cls = torch.optim.SGD
        common.update(momentum=0.0 if cfg.kind == 'sgd' else cfg.momentum,
                      dampening=0.0, nesterov=cfg.kind == 'nesterov')
    else:
        cls = torch.optim.Adam if cfg.kind == 'adam' else torch.optim.AdamW
        common.update(betas=(cfg.beta1, cfg.beta2), eps=cfg.eps)
    try:
        opt = cls(plist, foreach=False, **common)
    except TypeError:  # a PyTorch without the foreach switch
        opt = cls(plist, **common)
    count = float(init['count'])
    history = []
    for s, inputs in enumerate(steps):
        x1, x2, x3 = (torch.tensor(inputs[k]) for k in ('x1', 'x2', 'x3'))
        with torch.no_grad():
            w, b = params['w'], params['b']
            loss = (x1 * w).sum()
            params['w'].grad = x1 * w
            params['b'].grad = x2 - b
            params['s'].grad = x3.clone()
            params['u'].grad = None  # kiln.no_gradient
        if cfg.clip > 0:
            torch.nn.utils.clip_grad_norm_([p for p in plist if p.grad is not None], cfg.clip)
        for group in opt.param_groups:
            group['lr'] = lr_at(cfg, s) * lr_scale
        opt.step()
        count += 1.0
        values = {n: params[n].detach().numpy().copy() for n, _ in PARAMS}
        values['count'] = np.array(count)
        values['loss'] = loss.numpy().copy()
        for n, _ in PARAMS:
            for slot in SLOTS[cfg.kind]:
                state = opt.state[params[n]].get(TORCH_STATE[slot])
                values['%s.%s' % (n, slot)] = (np.zeros(params[n].shape) if state is None
                                               else state.detach().numpy().copy())
        history.append(values)
    return history


def rel_err(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape or not np.all(np.isfinite(got)):
        return float('inf')
    return float(np.abs(got - want).max() / max(float(np.abs(want).max()), 1e-300))


def check(cfg, args, root, seed):
    """(worst error, its tensor, messages) of one configuration."""
    work = os.path.join(root, cfg.name)
    os.makedirs(work, exist_ok=True)
    init, steps = data(seed)
    try:
        got = kiln_steps(cfg, args, work, init, steps)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        return float('inf'), 'kiln', [str(e)]
    want = torch_steps(cfg, init, steps, 1 + 1e-8 if args.perturb else 1.0)
    worst, where, problems = 0.0, '', []

    def compare(label, got_value, want_value):
        nonlocal worst, where
        err = rel_err(got_value, want_value)
        if not err <= worst:
            worst, where = err, label
        if not err <= TOL:
            problems.append('%s: relative error %.3e > %.0e' % (label, err, TOL))

    for s in range(STEPS):
        for name in sorted(want[s]):
            if name not in got[s]:
                problems.append('step %d: kiln returned no %s' % (s, name))
                continue
            compare('step %d %s' % (s, name), got[s][name], want[s][name])
        # The change of each parameter since the start, relative to itself:
        # much stricter than the values (and exactly 0 for u).
        for name, _ in PARAMS:
            if name in got[s]:
                compare('step %d %s - initial' % (s, name),
                        got[s][name] - init[name], want[s][name] - init[name])
    return worst, where, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--kiln', required=True)
    ap.add_argument('--kiln-opt', required=True)
    ap.add_argument('-j', type=int, default=2)
    ap.add_argument('--filter', default='')
    ap.add_argument('--seed', type=int, default=7)
    ap.add_argument('--keep', help='keep the modules and .npy files here')
    ap.add_argument('--perturb', action='store_true')
    ap.add_argument('-v', action='store_true')
    args = ap.parse_args()
    torch.set_default_dtype(torch.float64)
    configs = [Config(*c) for c in itertools.product(KINDS, (0.0, 0.05), (0.0, 0.5), SCHEDULES)]
    configs = [c for c in configs if re.search(args.filter, c.name)]
    root = args.keep or tempfile.mkdtemp(prefix='kiln-optimizer-test-')
    try:
        with ThreadPoolExecutor(max(1, args.j)) as pool:
            results = list(pool.map(lambda c: check(c, args, root, args.seed), configs))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    failed = [(c, r) for c, r in zip(configs, results) if r[2]]
    for cfg, (worst, where, problems) in zip(configs, results):
        if args.v or (problems and not args.perturb):
            print('%-40s worst %.2e (%s)' % (cfg.name, worst, where))
            if not args.perturb:
                for p in problems:
                    print('    ' + p)
    finite = [(r[0], c.name, r[1]) for c, r in zip(configs, results) if r[0] != float('inf')]
    worst = max(finite) if finite else (float('inf'), '-', '-')
    if args.perturb:
        detected = len(failed)
        print('perturbed lr: %d of %d configurations detected' % (detected, len(configs)))
        return 0 if configs and detected == len(configs) else 1
    print('%d configurations x %d steps: %d passed, %d failed; worst relative error '
          '%.2e (%s, %s), tolerance %.0e' % (len(configs), STEPS, len(configs) - len(failed),
                                             len(failed), worst[0], worst[1], worst[2], TOL))
    return 1 if failed or not configs else 0


if __name__ == '__main__':
    sys.exit(main())
