//===- AST.h - Syntax tree of the .kiln language ----------------*- C++ -*-===//
//
// The parser's output. Every node keeps the source range it came from so the
// elaborator can point at it. Nodes own their children.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_FRONTEND_AST_H
#define KILN_FRONTEND_AST_H

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"

#include <memory>
#include <vector>

namespace kiln::frontend {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

/// `name = value` inside a call's argument list; `name` is empty for a
/// positional argument.
struct Arg {
  llvm::StringRef name;
  llvm::SMRange nameRange;
  ExprPtr value;
};

/// One item of `x[...]`: a single index (drops the dimension) or a slice
/// `start:stop:step` whose parts may be missing.
struct IndexItem {
  bool isSlice = false;
  ExprPtr index, start, stop, step;
  llvm::SMRange range;
};

struct Expr {
  enum Kind { Int, Float, String, Name, Unary, Binary, Call, Index, List };
  Kind kind;
  llvm::SMRange range;
  unsigned depth = 1; // height of this subtree, bounded by the parser

  int64_t intValue = 0;     // Int
  double floatValue = 0;    // Float
  llvm::StringRef text;     // Name, String (without quotes), operator spelling
  ExprPtr lhs, rhs;         // Unary (lhs), Binary; Call and Index: callee/base
  std::vector<Arg> args;    // Call
  std::vector<IndexItem> indices; // Index
  std::vector<ExprPtr> elements;  // List
  llvm::SMLoc opLoc;        // Binary/Unary operator location

  Expr(Kind kind, llvm::SMRange range) : kind(kind), range(range) {}
};

/// `f32[batch, 64]`: a dtype and dimension expressions (integers).
struct TypeExpr {
  llvm::StringRef dtype;
  llvm::SMRange dtypeRange;
  std::vector<ExprPtr> dims;
  llvm::SMRange range;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using StmtList = std::vector<StmtPtr>;

struct Stmt {
  enum Kind {
    Input,    // input NAME : TYPE
    Param,    // param NAME : TYPE = INIT       (also `buffer`)
    Block,    // block NAME(ARGS) { BODY }
    Fn,       // fn(ARGS) = EXPR | fn(ARGS) { BODY }
    Let,      // NAME[, NAME...] = EXPR
    Output,   // output NAME [= EXPR]
    Train,    // train [minimize EXPR] with OPT(ARGS)
    Minimize, // minimize EXPR
    For,      // for NAME in LO..HI { BODY }
    Return,   // return EXPR[, EXPR...]
  };
  Kind kind;
  llvm::SMRange range;   // the whole statement's first line, roughly
  llvm::SMLoc keywordLoc;

  llvm::SmallVector<llvm::StringRef, 2> names; // declared/bound names
  llvm::SmallVector<llvm::SMRange, 2> nameRanges;
  bool isBuffer = false;          // Param: `buffer` (not trained)
  TypeExpr type;                  // Input, Param
  ExprPtr value;                  // Param init, Let/Output value, Minimize/Train loss, For lo
  ExprPtr hi;                     // For hi
  std::vector<ExprPtr> values;    // Return
  StmtList body;                  // Block, Fn ({...} form), For
  bool exprBody = false;          // Fn: `fn(x) = EXPR` (value holds EXPR)
  llvm::StringRef optimizer;      // Train
  llvm::SMRange optimizerRange;
  std::vector<Arg> args;          // Train hyperparameters

  explicit Stmt(Kind kind) : kind(kind) {}
};

/// `model NAME(arg = default, ...) { BODY }`.
struct ModelDecl {
  llvm::StringRef name;
  llvm::SMRange nameRange;
  std::vector<Arg> args; // every model argument has a default (an expression)
  StmtList body;
};

} // namespace kiln::frontend

#endif // KILN_FRONTEND_AST_H
