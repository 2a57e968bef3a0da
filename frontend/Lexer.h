//===- Lexer.h - Tokens of the .kiln language -------------------*- C++ -*-===//
#ifndef KILN_FRONTEND_LEXER_H
#define KILN_FRONTEND_LEXER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"

namespace kiln::frontend {

enum class Tok {
  Eof,
  Newline, // statement separator: a newline outside (), [] or ';'
  Ident,
  Int,
  Float,
  String,
  LParen, RParen, LBracket, RBracket, LBrace, RBrace,
  Comma, Colon, Equal, Plus, Minus, Star, Slash, Percent, At,
  Less, LessEq, Greater, GreaterEq, EqEq, NotEq, DotDot, Dot,
  Error, // an unexpected character; the lexer already reported nothing
};

/// Human-readable spelling of a token kind, for "expected X, found Y".
llvm::StringRef tokName(Tok kind);

struct Token {
  Tok kind = Tok::Eof;
  llvm::StringRef text; // points into the source buffer
  llvm::SMLoc loc() const { return llvm::SMLoc::getFromPointer(text.data()); }
  llvm::SMRange range() const {
    return {loc(), llvm::SMLoc::getFromPointer(text.data() + text.size())};
  }
};

/// Splits a buffer into tokens. Newlines are significant (they end
/// statements) except inside parentheses and brackets; `#` starts a comment
/// that runs to the end of the line.
class Lexer {
public:
  explicit Lexer(llvm::StringRef buffer)
      : cur(buffer.begin()), end(buffer.end()) {}
  Token next();

private:
  Token make(Tok kind, const char *start) {
    return Token{kind, llvm::StringRef(start, cur - start)};
  }
  const char *cur, *end;
  int nesting = 0; // depth of open ( and [
};

} // namespace kiln::frontend

#endif // KILN_FRONTEND_LEXER_H
