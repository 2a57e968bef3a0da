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
    test_data_set_0/{input,output}_N.pb. ONNX_TABLE (onnx_cases.py) maps a test
    directory to a builder that turns the ONNX node (attributes, input
    shapes and dtypes, constant inputs such as axes or pads) into kiln MLIR;
    ONNX_SKIPS lists related tests that kiln cannot express, with the reason.
  * NumPy references (numpy_cases.py, numpy_edge_cases.py) for what ONNX
    1.12 has no test of (gelu, rsqrt, iota, scatter_add, rng, dropout, casts between float, int and
    bool, integer semantics, f16/bf16/f64 variants, ...). kiln.rng and
    kiln.dropout are checked bit-for-bit against a NumPy port of the
    Philox4x32-10 stream specified in ir/Philox.h (itself checked against
    the Random123 known-answer vectors), plus statistical checks.

The MLIR builder, tolerances and the Philox port are in common.py.

Usage:
    /usr/bin/python3 test/numeric/conformance.py --kiln build/bin/kiln \
        [--filter REGEX] [-j N] [-v] [--keep DIR]

Prints one line per failure and ends with "N passed, M failed, K skipped";
exits non-zero when a case fails, or (without --filter) when an op of
ir/KilnOps.td has no case. Needs onnx and numpy: run it with /usr/bin/python3.
"""

import argparse
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile

# The harness and the cases live beside this script: common.py (MLIR builder,
# tolerances, Philox port), onnx_cases.py, numpy_cases.py and
# numpy_edge_cases.py. Import them from any cwd, without leaving __pycache__
# in the source tree.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True

import common  # noqa: E402  (exits 77, skipped, without numpy)
import numpy as np  # noqa: E402
from common import (CHECKS, ELEM_TO_NP, EXACT, OPS_TD, PHILOX_KAT, TOLERANCES,  # noqa: E402
                    _U64, philox4x32_10)
# Importing a case module registers its cases; numpy_edge_cases after
# numpy_cases keeps the order of the cases.
import onnx_cases  # noqa: E402
import numpy_cases  # noqa: E402,F401
import numpy_edge_cases  # noqa: E402,F401
import numpy_backward_cases  # noqa: E402,F401

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
            errors += CHECKS[case['check']](outputs, case)
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
    for c in list(onnx_cases.onnx_cases()) + list(common.numpy_cases()):
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
