//===- Parser.h - Recursive-descent parser of .kiln files -------*- C++ -*-===//
#ifndef KILN_FRONTEND_PARSER_H
#define KILN_FRONTEND_PARSER_H

#include "frontend/AST.h"
#include "frontend/Diagnostics.h"

#include <optional>

namespace kiln::frontend {

/// Parses a whole model file. Reports every syntax error (at most one per
/// statement, to avoid cascades) and returns std::nullopt if there was any.
std::optional<ModelDecl> parseModel(llvm::StringRef buffer, Diagnostics &diag);

/// Nesting limit of expressions and statement blocks, so that hostile input
/// cannot exhaust the stack of the parser or of anything that walks the AST.
constexpr unsigned kMaxNesting = 200;

} // namespace kiln::frontend

#endif // KILN_FRONTEND_PARSER_H
