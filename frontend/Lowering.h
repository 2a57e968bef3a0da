//===- Lowering.h - Elaboration of a .kiln model into kiln IR ---*- C++ -*-===//
//
// The elaborator walks the AST once, evaluating it: integer and float
// expressions are folded at compile time, blocks are instantiated (their
// params become @forward arguments), and every tensor expression is checked
// (names, arity, dtypes, shapes with NumPy broadcasting) *before* the kiln op
// for it is built, so errors are reported in the user's terms. Broadcasting
// is made explicit with kiln.broadcast. Ops are built generically from their
// names and attribute names; the module is verified at the end, so a
// disagreement with the dialect shows up as an internal error, never as a
// crash.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_LOWERING_H
#define KILN_FRONTEND_LOWERING_H

#include "frontend/AST.h"
#include "frontend/Diagnostics.h"
#include "ir/Dialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"

#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace kiln::frontend {

struct Scope;
struct Instance;

/// Number of elements of the strided range [start, limit) taken with `step`,
/// i.e. ceil((limit - start) / step), for 0 <= start <= limit and step >= 1.
/// Written as e / step + (e % step != 0): the textbook
/// (limit - start + step - 1) / step overflows int64 for huge steps
/// (`x[0:4:9223372036854775807]`).
inline int64_t stridedCount(int64_t start, int64_t limit, int64_t step) {
  int64_t e = limit - start;
  return e / step + (e % step != 0);
}

/// A compile-time value: a number, a list, a dtype, a tensor (an SSA value
/// of a static tensor type), a block, a block instance (or a repetition of
/// instances), or Poison after an error (operations on Poison are silent, so
/// one mistake gives one message).
struct Val {
  enum Kind { Poison, Int, Float, Bool, String, DType, Tensor, List, Tuple,
              BlockDef, Inst };
  Kind kind = Poison;
  int64_t i = 0;
  double f = 0;
  std::string s;
  mlir::Type dtype;             // DType
  mlir::Value v;                // Tensor
  std::vector<Val> elems;       // List, Tuple
  const Stmt *block = nullptr;  // BlockDef
  std::shared_ptr<Scope> blockScope; // BlockDef: where it was declared
  std::vector<std::shared_ptr<Instance>> insts; // Inst (several: repeat)

  static Val poison() { return Val(); }
  static Val ofInt(int64_t x) { Val r; r.kind = Int; r.i = x; return r; }
  static Val ofFloat(double x) { Val r; r.kind = Float; r.f = x; return r; }
  static Val ofBool(bool x) { Val r; r.kind = Bool; r.i = x; return r; }
  static Val ofTensor(mlir::Value x) { Val r; r.kind = Tensor; r.v = x; return r; }
  bool isPoison() const { return kind == Poison; }
  bool isNumber() const { return kind == Int || kind == Float; }
  double num() const { return kind == Int ? double(i) : f; }
  mlir::RankedTensorType type() const {
    return mlir::cast<mlir::RankedTensorType>(v.getType());
  }
};

struct Binding {
  Val val;
  llvm::SMRange defRange;
  bool fixed = false; // inputs, params, blocks, instances: not rebindable
};

/// A lexical scope. Block instances keep theirs alive (shared_ptr) so that
/// calling an instance sees its params and sub-instances.
struct Scope {
  std::shared_ptr<Scope> parent;
  llvm::StringMap<Binding> vars;
  const Binding *lookup(llvm::StringRef name) const {
    for (const Scope *s = this; s; s = s->parent.get()) {
      auto it = s->vars.find(name);
      if (it != s->vars.end())
        return &it->second;
    }
    return nullptr;
  }
};

/// One instantiated block: its dotted path, its scope (args, params,
/// sub-instances, bindings) and its `fn`.
struct Instance {
  std::string path;
  llvm::StringRef blockName;
  std::shared_ptr<Scope> scope;
  const Stmt *fn = nullptr;
};

/// Where statements are being executed; decides which statements are legal.
enum class StmtContext { Model, Block, Fn };

class Elaborator {
public:
  Elaborator(llvm::SourceMgr &srcMgr, Diagnostics &diag,
             mlir::MLIRContext &ctx, llvm::StringRef filename);
  ~Elaborator();

  /// Builds the module; null on error (after reporting).
  mlir::OwningOpRef<mlir::ModuleOp>
  run(const ModelDecl &model,
      llvm::ArrayRef<std::pair<std::string, int64_t>> overrides);

  // --- used by the builtins (Builtins.cpp) -----------------------------
  Val eval(const Expr &e, Scope &scope);
  Val evalBuiltin(llvm::StringRef name, const Expr &call, Scope &scope,
                  bool &found);
  Val evalNNBuiltin(llvm::StringRef name, const Expr &call, Scope &scope,
                    bool &found);
  Val evalShapeBuiltin(llvm::StringRef name, const Expr &call, Scope &scope,
                       bool &found);
  static llvm::ArrayRef<llvm::StringRef> builtinNames();

  mlir::Location loc(llvm::SMRange r);
  mlir::Value emit(llvm::StringRef opName, mlir::ValueRange operands,
                   mlir::TypeRange results,
                   llvm::ArrayRef<mlir::NamedAttribute> attrs, llvm::SMRange r);
  mlir::Value constantScalar(mlir::Type dtype, double value, llvm::SMRange r);
  mlir::Value splat(mlir::RankedTensorType type, double value, llvm::SMRange r);
  mlir::Value broadcastTo(mlir::Value v, llvm::ArrayRef<int64_t> shape,
                          llvm::SMRange r);
  mlir::Value reshape(mlir::Value v, llvm::ArrayRef<int64_t> shape,
                      llvm::SMRange r);
  /// NumPy broadcast of two shapes; reports "cannot broadcast" on failure.
  std::optional<llvm::SmallVector<int64_t>>
  broadcastShapes(mlir::RankedTensorType a, mlir::RankedTensorType b,
                  llvm::SMRange r, llvm::StringRef what);
  /// Tensor-or-number operands of an elementwise op, made the same type.
  bool unify(Val &a, Val &b, llvm::SMRange ra, llvm::SMRange rb,
             llvm::SMRange whole, llvm::StringRef what);
  Val binaryOp(llvm::StringRef op, Val a, Val b, llvm::SMRange ra,
               llvm::SMRange rb, llvm::SMRange whole);
  Val matmul(Val a, Val b, bool ta, bool tb, llvm::SMRange ra,
             llvm::SMRange rb, llvm::SMRange whole);
  bool checkShape(llvm::ArrayRef<int64_t> shape, llvm::SMRange r);
  std::optional<mlir::RankedTensorType>
  makeType(mlir::Type dtype, llvm::ArrayRef<int64_t> shape, llvm::SMRange r);
  /// Counts emitted ops; reports once and returns false past the budget.
  bool spend(llvm::SMRange r, uint64_t n = 1);
  /// Records that `updated` is the next value of the buffer argument `old`
  /// (batch_norm running statistics); returns false if `old` is not a buffer.
  bool recordBufferUpdate(mlir::Value old, mlir::Value updated,
                          llvm::SMRange r);

  static std::string fmt(mlir::Type t);
  static std::string fmtNum(double x) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%g", x);
    return buf;
  }
  static std::string describe(const Val &v);
  std::optional<mlir::Type> parseDType(llvm::StringRef name);

  Diagnostics &diag;
  mlir::MLIRContext &ctx;
  mlir::OpBuilder b;
  int64_t dropoutSeed = 0;
  int64_t dropoutSite = 0;

private:
  struct ParamInfo {
    std::string name;
    bool isBuffer;
    mlir::Attribute init;
    llvm::SmallVector<double> initArgs;
  };
  struct Output {
    std::string name;
    mlir::Value value;
    llvm::SMRange range;
    std::string updates; // buffer updates: the param they replace
  };

  /// Runs a statement list. In a fn body, a `return` stores its value in
  /// `*ret` and stops.
  bool exec(const StmtList &stmts, const std::shared_ptr<Scope> &scope,
            StmtContext context, const std::string &pathPrefix,
            std::optional<Val> *ret);
  bool declareParam(const Stmt &s, const std::shared_ptr<Scope> &scope,
                    const std::string &pathPrefix);
  bool bind(Scope &scope, llvm::StringRef name, llvm::SMRange r, Val v,
            bool fixed);
  Val instantiate(const Expr &call, const Val &blockDef, Scope &scope,
                  const std::string &path);
  Val bindInstance(const Stmt &let, Scope &scope, const std::string &path);
  Val callInstance(const Expr &call, const Val &inst, Scope &scope);
  Val callFn(const Instance &inst, llvm::ArrayRef<Val> args,
             const Expr &call);
  Val evalImpl(const Expr &e, Scope &scope);
  Val evalName(const Expr &e, Scope &scope);
  Val evalIndex(const Expr &e, Scope &scope);
  std::optional<mlir::RankedTensorType> evalType(const TypeExpr &t,
                                                 Scope &scope);
  void unknownName(llvm::StringRef name, llvm::SMRange r, const Scope &scope);
  bool setLoss(Val v, llvm::SMRange r);

  llvm::SourceMgr &srcMgr;
  mlir::StringAttr file;
  mlir::func::FuncOp func;
  mlir::Block *entry = nullptr;
  std::vector<std::string> inputNames;
  std::vector<ParamInfo> params;
  llvm::StringMap<llvm::SMRange> paramPaths;
  std::vector<Output> outputs;
  mlir::Value loss;
  llvm::SMRange lossRange;
  /// From the train clause; null without one.
  kiln::OptimizerAttr optimizer;
  std::shared_ptr<Scope> newScope();
  std::vector<std::shared_ptr<Scope>> scopes; // every scope, see ~Elaborator
  unsigned instDepth = 0;
  unsigned evalDepth = 0;
  uint64_t opsEmitted = 0;
  bool budgetReported = false;
};

} // namespace kiln::frontend

#endif // KILN_FRONTEND_LOWERING_H
