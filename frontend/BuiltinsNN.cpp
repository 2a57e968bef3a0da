//===- BuiltinsNN.cpp - Neural-network builtins of .kiln ------------------===//
//
// softmax, cross_entropy, layer_norm, batch_norm, dropout, matmul, conv2d and
// pooling: see docs/language.md section 7.3.
//
//===----------------------------------------------------------------------===//
#include "frontend/BuiltinArgs.h"
#include "ir/Dialect.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CheckedArithmetic.h"

using namespace kiln::frontend;
using namespace kiln::frontend::builtins;
using llvm::SMRange;
using llvm::StringRef;
using mlir::RankedTensorType;
using mlir::Type;
using mlir::Value;

namespace {
const char *const kSpatialAxis[2] = {"height", "width"};

/// `in + lo + hi`, the padded extent of one spatial dimension, or nullopt
/// when it overflows int64 (the padding amounts are user-controlled).
std::optional<int64_t> paddedExtent(int64_t in, int64_t lo, int64_t hi) {
  std::optional<int64_t> s = llvm::checkedAdd(in, lo);
  return s ? llvm::checkedAdd(*s, hi) : std::nullopt;
}

/// `dilation * (k - 1) + 1`, the extent of a dilated window, or nullopt on
/// int64 overflow.
std::optional<int64_t> dilatedExtent(int64_t k, int64_t dilation) {
  std::optional<int64_t> s = llvm::checkedMul(dilation, k - 1);
  return s ? llvm::checkedAdd(*s, int64_t(1)) : std::nullopt;
}
} // namespace

Val Elaborator::evalNNBuiltin(StringRef name, const Expr &call, Scope &scope,
                             bool &found) {
  found = true;
  Args a(*this, call, scope, name);
  SMRange r = call.range;
  auto tensorResult = [&](Value v) { return Val::ofTensor(v); };

  // --- composites ------------------------------------------------------
  if (name == "softmax" || name == "log_softmax") {
    static const Param sig[] = {{"x", nullptr}, {"dim", "-1"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.floatTensor(0);
    auto d = a.integer(1, -1);
    if (!x || !d)
      return Val::poison();
    auto dim = a.dim(1, *d, x->type().getRank());
    if (!dim)
      return Val::poison();
    return tensorResult(emit("kiln." + name.str(), {x->v}, {x->type()},
                             {b.getNamedAttr("dim", b.getI64IntegerAttr(*dim))},
                             r));
  }

  if (name == "cross_entropy") {
    static const Param sig[] = {
        {"logits", nullptr}, {"labels", nullptr}, {"reduction", "\"mean\""}};
    if (!a.bind(sig))
      return Val::poison();
    auto lg = a.floatTensor(0);
    auto lb = a.tensor(1);
    auto red = a.string(2, "mean");
    if (!lg || !lb || !red)
      return Val::poison();
    auto kind = kiln::symbolizeLossReduction(*red);
    if (!kind) {
      diag.error(a.range(2), "expected \"mean\", \"sum\" or \"none\" for "
                             "argument 'reduction' of cross_entropy, found \"" +
                                 *red + "\"");
      return Val::poison();
    }
    RankedTensorType lt = lg->type(), bt = lb->type();
    Type le = bt.getElementType();
    if (!(le.isInteger(32) || le.isInteger(64))) {
      a.wrong(1, "integer class labels (i32 or i64)", *lb);
      return Val::poison();
    }
    if (lt.getRank() != 2 || bt.getRank() != 1 ||
        lt.getDimSize(0) != bt.getDimSize(0)) {
      diag.error(r, "cross_entropy expects logits [N, C] and labels [N], "
                    "found " + fmt(lt) + " and " + fmt(bt) +
                        (lt.getRank() > 2
                             ? "; flatten them first, e.g. reshape(logits, "
                               "[-1, C]) and reshape(labels, [-1])"
                             : ""));
      return Val::poison();
    }
    llvm::SmallVector<int64_t> shape;
    if (*kind == kiln::LossReduction::none)
      shape.push_back(lt.getDimSize(0));
    llvm::SmallVector<mlir::NamedAttribute> attrs;
    if (*kind != kiln::LossReduction::mean)
      attrs.push_back(b.getNamedAttr(
          "reduction", kiln::LossReductionAttr::get(&ctx, *kind)));
    return tensorResult(emit("kiln.cross_entropy", {lg->v, lb->v},
                             {RankedTensorType::get(shape, lt.getElementType())},
                             attrs, r));
  }

  if (name == "layer_norm") {
    static const Param sig[] = {
        {"x", nullptr}, {"gamma", nullptr}, {"beta", nullptr}, {"eps", "1e-5"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.floatTensor(0), g = a.floatTensor(1), be = a.floatTensor(2);
    auto eps = a.number(3, 1e-5);
    if (!x || !g || !be || !eps)
      return Val::poison();
    if (!(*eps >= 0)) {
      diag.error(a.range(3), "expected eps >= 0 for layer_norm, found " +
                                 fmtNum(*eps));
      return Val::poison();
    }
    RankedTensorType xt = x->type(), gt = g->type();
    int64_t axis = xt.getRank() - gt.getRank();
    if (gt.getRank() == 0 || axis < 0 ||
        xt.getShape().drop_front(axis) != gt.getShape() ||
        be->type() != gt || gt.getElementType() != xt.getElementType()) {
      diag.error(r, "layer_norm expects gamma and beta shaped like the "
                    "trailing dims of x, found x " + fmt(xt) + ", gamma " +
                        fmt(gt) + ", beta " + fmt(be->type()));
      return Val::poison();
    }
    return tensorResult(
        emit("kiln.layer_norm", {x->v, g->v, be->v}, {xt},
             {b.getNamedAttr("axis", b.getI64IntegerAttr(axis)),
              b.getNamedAttr("epsilon", b.getF64FloatAttr(*eps))},
             r));
  }

  if (name == "batch_norm") {
    static const Param sig[] = {{"x", nullptr},
                                {"gamma", nullptr},
                                {"beta", nullptr},
                                {"running_mean", nullptr},
                                {"running_var", nullptr},
                                {"eps", "1e-5"},
                                {"momentum", "0.1"},
                                {"training", "true"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.floatTensor(0), g = a.floatTensor(1), be = a.floatTensor(2),
         rm = a.floatTensor(3), rv = a.floatTensor(4);
    auto eps = a.number(5, 1e-5), mom = a.number(6, 0.1);
    auto training = a.boolean(7, true);
    if (!x || !g || !be || !rm || !rv || !eps || !mom || !training)
      return Val::poison();
    if (!(*eps >= 0) || !(*mom >= 0 && *mom <= 1)) {
      diag.error(a.range(*eps >= 0 ? 6 : 5),
                 "expected eps >= 0 and momentum in [0, 1] for batch_norm, "
                 "found eps " + fmtNum(*eps) + " and momentum " +
                 fmtNum(*mom));
      return Val::poison();
    }
    RankedTensorType xt = x->type();
    if (xt.getRank() < 2) {
      a.wrong(0, "a tensor [N, C, ...]", *x);
      return Val::poison();
    }
    auto ct = RankedTensorType::get({xt.getDimSize(1)}, xt.getElementType());
    for (size_t i = 1; i <= 4; ++i) {
      Val v = i == 1 ? *g : i == 2 ? *be : i == 3 ? *rm : *rv;
      if (v.type() != ct) {
        a.wrong(i, "a tensor " + fmt(ct) + " (one value per channel of x " +
                       fmt(xt) + ")",
                v);
        return Val::poison();
      }
    }
    llvm::SmallVector<mlir::NamedAttribute> attrs = {
        b.getNamedAttr("epsilon", b.getF64FloatAttr(*eps)),
        b.getNamedAttr("momentum", b.getF64FloatAttr(*mom))};
    if (*training)
      attrs.push_back(b.getNamedAttr("training", b.getUnitAttr()));
    mlir::OperationState state(loc(r), "kiln.batch_norm");
    state.addOperands({x->v, g->v, be->v, rm->v, rv->v});
    state.addTypes({xt, ct, ct});
    state.addAttributes(attrs);
    if (!spend(r))
      return Val::poison();
    mlir::Operation *op = b.create(state);
    if (*training) {
      bool okm = recordBufferUpdate(rm->v, op->getResult(1), a.range(3));
      bool okv = recordBufferUpdate(rv->v, op->getResult(2), a.range(4));
      if (!okm || !okv) {
        diag.error(a.range(okm ? 4 : 3),
                   "in training mode the running statistics of batch_norm "
                   "must be declared with 'buffer NAME : TYPE = INIT' so "
                   "that their updates can be stored");
        return Val::poison();
      }
    }
    return tensorResult(op->getResult(0));
  }

  if (name == "dropout") {
    static const Param sig[] = {{"x", nullptr}, {"p", nullptr}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.floatTensor(0);
    auto p = a.number(1);
    if (!x || !p)
      return Val::poison();
    if (!(*p >= 0 && *p < 1)) {
      diag.error(a.range(1), "expected a dropout probability in [0, 1), "
                             "found " + fmtNum(*p));
      return Val::poison();
    }
    Value seed = constantScalar(b.getI64Type(), double(dropoutSeed), r);
    Value offset = constantScalar(b.getI64Type(), double(dropoutSite++), r);
    return tensorResult(emit("kiln.dropout", {x->v, seed, offset}, {x->type()},
                             {b.getNamedAttr("ratio", b.getF64FloatAttr(*p))},
                             r));
  }

  // --- linear algebra and shapes ---------------------------------------
  if (name == "matmul") {
    static const Param sig[] = {{"a", nullptr},
                                {"b", nullptr},
                                {"transpose_a", "false"},
                                {"transpose_b", "false"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.tensor(0), y = a.tensor(1);
    auto ta = a.boolean(2, false), tb = a.boolean(3, false);
    if (!x || !y || !ta || !tb)
      return Val::poison();
    if ((*ta || *tb) && x->type().getRank() != y->type().getRank()) {
      diag.error(r, "matmul with transpose flags needs operands of equal "
                    "rank, found " + fmt(x->type()) + " and " +
                        fmt(y->type()));
      return Val::poison();
    }
    return matmul(*x, *y, *ta, *tb, a.range(0), a.range(1), r);
  }

  if (name == "conv2d") {
    static const Param sig[] = {{"x", nullptr},     {"w", nullptr},
                                {"bias", "none"},   {"stride", "1"},
                                {"padding", "0"},   {"dilation", "1"},
                                {"groups", "1"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.floatTensor(0), w = a.floatTensor(1);
    if (!x || !w)
      return Val::poison();
    std::optional<Val> bias;
    if (a.has(2) && !(bias = a.floatTensor(2)))
      return Val::poison();
    llvm::SmallVector<int64_t> stride{1, 1}, pad{0, 0, 0, 0}, dil{1, 1};
    if (a.has(3)) {
      auto s = a.ints(3, 2);
      if (!s)
        return Val::poison();
      stride = *s;
    }
    if (a.has(4)) {
      auto p = a.ints(4, 2);
      if (!p)
        return Val::poison();
      pad = *p;
      if (pad.size() == 2)
        pad = {pad[0], pad[1], pad[0], pad[1]};
    }
    if (a.has(5)) {
      auto d = a.ints(5, 2);
      if (!d)
        return Val::poison();
      dil = *d;
    }
    auto groups = a.integer(6, 1);
    if (!groups)
      return Val::poison();
    RankedTensorType xt = x->type(), wt = w->type();
    if (stride.size() != 2 || dil.size() != 2 || pad.size() != 4 ||
        llvm::any_of(stride, [](int64_t v) { return v < 1; }) ||
        llvm::any_of(dil, [](int64_t v) { return v < 1; }) ||
        llvm::any_of(pad, [](int64_t v) { return v < 0; }) || *groups < 1) {
      diag.error(r, "conv2d expects stride and dilation as 1 or [h, w] "
                    "(positive), padding as p, [h, w] or [top, left, bottom, "
                    "right] (non-negative), groups >= 1");
      return Val::poison();
    }
    if (xt.getRank() != 4 || wt.getRank() != 4) {
      diag.error(r, "conv2d expects x [N, C, H, W] and w [O, C/groups, KH, "
                    "KW], found " + fmt(xt) + " and " + fmt(wt));
      return Val::poison();
    }
    if (xt.getElementType() != wt.getElementType() ||
        xt.getDimSize(1) % *groups || wt.getDimSize(0) % *groups ||
        xt.getDimSize(1) / *groups != wt.getDimSize(1)) {
      diag.error(r, "cannot convolve " + fmt(xt) + " with filter " +
                        fmt(wt) + ": input channels " +
                        llvm::Twine(xt.getDimSize(1)) + " / groups " +
                        llvm::Twine(*groups) +
                        " must equal the filter's dimension 1 (" +
                        llvm::Twine(wt.getDimSize(1)) + ")");
      return Val::poison();
    }
    int64_t oh = 0, ow = 0;
    for (int i = 0; i < 2; ++i) {
      int64_t kd = wt.getDimSize(2 + i);
      if (kd < 1) { // the dialect rejects KH or KW == 0 too
        diag.error(r, "conv2d expects a filter with positive KH and KW, "
                      "found " + fmt(wt));
        return Val::poison();
      }
      std::optional<int64_t> in =
          paddedExtent(xt.getDimSize(2 + i), pad[i], pad[2 + i]);
      if (!in) {
        diag.error(r, "conv2d padding " + shapeStr(pad) + " is too large for "
                      "x " + fmt(xt) + ": the padded " + kSpatialAxis[i] +
                          " " + llvm::Twine(xt.getDimSize(2 + i)) + " + " +
                          llvm::Twine(pad[i]) + " + " +
                          llvm::Twine(pad[2 + i]) +
                          " overflows a 64-bit integer");
        return Val::poison();
      }
      std::optional<int64_t> k = dilatedExtent(kd, dil[i]);
      if (!k) {
        diag.error(r, "conv2d dilation " + shapeStr(dil) + " is too large "
                      "for filter " + fmt(wt) + ": the dilated " +
                          kSpatialAxis[i] + " " + llvm::Twine(dil[i]) +
                          " * (" + llvm::Twine(kd) +
                          " - 1) + 1 overflows a 64-bit integer");
        return Val::poison();
      }
      int64_t o = *in < *k ? 0 : (*in - *k) / stride[i] + 1;
      (i ? ow : oh) = o;
    }
    if (oh <= 0 || ow <= 0) {
      diag.error(r, "conv2d filter " + fmt(wt) + " is larger than the "
                    "padded input " + fmt(xt));
      return Val::poison();
    }
    auto rt = RankedTensorType::get({xt.getDimSize(0), wt.getDimSize(0), oh, ow},
                                    xt.getElementType());
    if (!checkShape(rt.getShape(), r))
      return Val::poison();
    Value out = emit("kiln.conv2d", {x->v, w->v}, {rt},
                     {b.getNamedAttr("strides", b.getDenseI64ArrayAttr(stride)),
                      b.getNamedAttr("padding", b.getDenseI64ArrayAttr(pad)),
                      b.getNamedAttr("dilations", b.getDenseI64ArrayAttr(dil)),
                      b.getNamedAttr("groups", b.getI64IntegerAttr(*groups))},
                     r);
    if (bias) {
      if (bias->type() !=
          RankedTensorType::get({wt.getDimSize(0)}, xt.getElementType())) {
        a.wrong(2, "a bias " + fmt(RankedTensorType::get(
                                   {wt.getDimSize(0)}, xt.getElementType())),
                *bias);
        return Val::poison();
      }
      Value bb = emit("kiln.broadcast", {bias->v}, {rt},
                      {b.getNamedAttr("dims", b.getDenseI64ArrayAttr({1}))},
                      a.range(2));
      out = emit("kiln.add", {out, bb}, {rt}, {}, r);
    }
    return tensorResult(out);
  }

  if (name == "max_pool2d" || name == "avg_pool2d") {
    static const Param sig[] = {
        {"x", nullptr}, {"window", nullptr}, {"stride", "window"},
        {"padding", "0"}};
    if (!a.bind(sig))
      return Val::poison();
    auto x = a.floatTensor(0);
    auto win = a.ints(1, 2);
    if (!x || !win)
      return Val::poison();
    llvm::SmallVector<int64_t> stride = *win, pad{0, 0, 0, 0};
    if (a.has(2)) {
      auto s = a.ints(2, 2);
      if (!s)
        return Val::poison();
      stride = *s;
    }
    if (a.has(3)) {
      auto p = a.ints(3, 2);
      if (!p)
        return Val::poison();
      pad = *p;
      if (pad.size() == 2)
        pad = {pad[0], pad[1], pad[0], pad[1]};
    }
    RankedTensorType xt = x->type();
    if (win->size() != 2 || stride.size() != 2 || pad.size() != 4 ||
        llvm::any_of(*win, [](int64_t v) { return v < 1; }) ||
        llvm::any_of(stride, [](int64_t v) { return v < 1; }) ||
        llvm::any_of(pad, [](int64_t v) { return v < 0; }) ||
        xt.getRank() != 4) {
      diag.error(r, name + " expects x [N, C, H, W], window and stride as k "
                           "or [kh, kw] (positive), padding as p, [h, w] or "
                           "[top, left, bottom, right]; found x " + fmt(xt));
      return Val::poison();
    }
    int64_t oh = 0, ow = 0;
    for (int i = 0; i < 2; ++i) {
      std::optional<int64_t> in =
          paddedExtent(xt.getDimSize(2 + i), pad[i], pad[2 + i]);
      if (!in) {
        diag.error(r, name + " padding " + shapeStr(pad) + " is too large "
                             "for x " + fmt(xt) + ": the padded " +
                          kSpatialAxis[i] + " " +
                          llvm::Twine(xt.getDimSize(2 + i)) + " + " +
                          llvm::Twine(pad[i]) + " + " +
                          llvm::Twine(pad[2 + i]) +
                          " overflows a 64-bit integer");
        return Val::poison();
      }
      int64_t o = *in < (*win)[i] ? 0 : (*in - (*win)[i]) / stride[i] + 1;
      (i ? ow : oh) = o;
    }
    if (oh <= 0 || ow <= 0) {
      diag.error(r, name + " window " + shapeStr(*win) +
                        " is larger than the padded input " + fmt(xt));
      return Val::poison();
    }
    // A huge padding makes a huge (but int64) output: bound it like any
    // other tensor.
    auto rt = RankedTensorType::get(
        {xt.getDimSize(0), xt.getDimSize(1), oh, ow}, xt.getElementType());
    if (!checkShape(rt.getShape(), r))
      return Val::poison();
    auto kind = name == "max_pool2d" ? kiln::PoolKind::max : kiln::PoolKind::avg;
    return tensorResult(emit(
        "kiln.pool2d", {x->v}, {rt},
        {b.getNamedAttr("kind", kiln::PoolKindAttr::get(&ctx, kind)),
         b.getNamedAttr("window", b.getDenseI64ArrayAttr(*win)),
         b.getNamedAttr("strides", b.getDenseI64ArrayAttr(stride)),
         b.getNamedAttr("padding", b.getDenseI64ArrayAttr(pad))},
        r));
  }

  found = false;
  return Val::poison();
}
