//===- Parser.cpp - Recursive-descent parser of .kiln files ---------------===//
//
// Grammar (docs/language.md has the reference):
//
//   file   := 'model' IDENT '(' [IDENT '=' expr {',' ...}] ')' '{' stmts '}'
//   stmt   := 'input' IDENT ':' type | ('param'|'buffer') IDENT ':' type '=' expr
//           | 'block' IDENT '(' [IDENT {',' IDENT}] ')' '{' stmts '}'
//           | 'fn' '(' [IDENT {',' IDENT}] ')' ('=' expr | '{' stmts '}')
//           | 'output' IDENT ['=' expr] | 'minimize' expr
//           | 'train' ['minimize' expr] 'with' IDENT ['(' args ')']
//           | 'for' IDENT 'in' expr '..' expr '{' stmts '}'
//           | 'return' expr {',' expr} | IDENT {',' IDENT} '=' expr
//   expr   := sum [('<'|'<='|'>'|'>='|'=='|'!=') sum]
//   sum    := term {('+'|'-') term};  term := unary {('*'|'/'|'%'|'@') unary}
//   unary  := '-' unary | postfix;    postfix := primary {'(' args ')' | '[' idx ']'}
//   primary:= INT | FLOAT | STRING | IDENT | '(' expr ')' | '[' [expr {',' expr}] ']'
//
//===----------------------------------------------------------------------===//
#include "frontend/Parser.h"
#include "frontend/Lexer.h"

#include "llvm/ADT/StringSwitch.h"

#include <cerrno>
#include <cstdlib>
#include <string>

using namespace kiln::frontend;
using llvm::SMLoc;
using llvm::SMRange;
using llvm::StringRef;

namespace {

class Parser {
public:
  Parser(StringRef buffer, Diagnostics &diag) : diag(diag) {
    Lexer lexer(buffer);
    for (;;) {
      tokens.push_back(lexer.next());
      if (tokens.back().kind == Tok::Eof)
        break;
    }
  }

  std::optional<ModelDecl> parseFile();

private:
  // --- token stream ---------------------------------------------------
  const Token &tok() const { return tokens[pos]; }
  const Token &peek(unsigned n = 1) const {
    return tokens[std::min<size_t>(pos + n, tokens.size() - 1)];
  }
  bool is(Tok k) const { return tok().kind == k; }
  bool isKeyword(StringRef kw) const { return is(Tok::Ident) && tok().text == kw; }
  Token consume() {
    Token t = tokens[pos];
    if (pos + 1 < tokens.size())
      ++pos;
    return t;
  }
  bool consumeIf(Tok k) {
    if (!is(k))
      return false;
    consume();
    return true;
  }
  SMLoc prevEnd() const {
    if (pos == 0)
      return tok().loc();
    const Token &p = tokens[pos - 1];
    return SMLoc::getFromPointer(p.text.data() + p.text.size());
  }
  void skipNewlines() {
    while (is(Tok::Newline))
      consume();
  }

  /// Reports "expected WHAT, found TOKEN" at the current token.
  void expected(const llvm::Twine &what) {
    if (failed)
      return;
    failed = true;
    const Token &t = tok();
    std::string found;
    if (t.kind == Tok::Eof || t.kind == Tok::Newline)
      found = tokName(t.kind).str();
    else if (t.kind == Tok::Error && t.text.starts_with("\""))
      found = "an unterminated string";
    else
      found = ("'" + t.text + "'").str();
    SMRange r = t.range();
    if (t.kind == Tok::Newline || t.kind == Tok::Eof)
      r = SMRange(t.loc(), t.loc());
    diag.error(r, "expected " + what + ", found " + found);
  }
  bool expect(Tok k, const llvm::Twine &context = "",
              SMLoc open = SMLoc()) {
    if (consumeIf(k))
      return true;
    bool first = !failed;
    if (context.isTriviallyEmpty())
      expected(tokName(k));
    else
      expected(tokName(k) + " " + context);
    // For a missing ')' or ']' several lines down, show where it opened.
    if (first && open.isValid())
      diag.note(SMRange(open, SMLoc::getFromPointer(open.getPointer() + 1)),
                "to match this " + tokName(k == Tok::RParen ? Tok::LParen
                                                            : Tok::LBracket));
    return false;
  }
  bool expectIdent(StringRef &name, SMRange &range, const llvm::Twine &what) {
    if (!is(Tok::Ident)) {
      expected(what);
      return false;
    }
    Token t = consume();
    name = t.text;
    range = t.range();
    return true;
  }

  // --- grammar --------------------------------------------------------
  bool parseStmtList(StmtList &out, unsigned depth);
  StmtPtr parseStmt(unsigned depth);
  bool parseType(TypeExpr &type);
  bool parseNameList(llvm::SmallVectorImpl<StringRef> &names,
                     llvm::SmallVectorImpl<SMRange> &ranges);
  ExprPtr parseExpr(unsigned depth);
  ExprPtr parseSum(unsigned depth);
  ExprPtr parseTerm(unsigned depth);
  ExprPtr parseUnary(unsigned depth);
  ExprPtr parsePostfix(unsigned depth);
  ExprPtr parsePrimary(unsigned depth);
  bool parseArgs(std::vector<Arg> &args, unsigned depth);
  bool parseIndexItem(IndexItem &item, unsigned depth);
  ExprPtr binary(ExprPtr lhs, const Token &op, ExprPtr rhs);
  bool tooDeep(unsigned depth) {
    if (depth <= kMaxNesting)
      return false;
    if (!failed)
      diag.error(tok().range(), "nesting is too deep (more than " +
                                    llvm::Twine(kMaxNesting) + " levels)");
    failed = true;
    return true;
  }
  /// After an error: skips to the end of the statement (a newline or the
  /// '}' that closes the enclosing list), keeping braces balanced.
  void recover();

  std::vector<Token> tokens;
  size_t pos = 0;
  Diagnostics &diag;
  bool failed = false;   // an error in the current statement
  bool anyError = false; // an error anywhere
};

} // namespace

void Parser::recover() {
  int braces = 0;
  while (!is(Tok::Eof)) {
    if (is(Tok::LBrace))
      ++braces;
    else if (is(Tok::RBrace)) {
      if (braces == 0)
        return;
      --braces;
    } else if (is(Tok::Newline) && braces == 0) {
      consume();
      return;
    }
    consume();
  }
}

std::optional<ModelDecl> Parser::parseFile() {
  ModelDecl model;
  skipNewlines();
  if (!isKeyword("model")) {
    expected("'model NAME(...) { ... }' at the start of the file");
    return std::nullopt;
  }
  consume();
  if (!expectIdent(model.name, model.nameRange, "a model name after 'model'"))
    return std::nullopt;
  if (consumeIf(Tok::LParen)) {
    if (!is(Tok::RParen)) {
      do {
        Arg arg;
        if (!expectIdent(arg.name, arg.nameRange, "a model argument name"))
          return std::nullopt;
        if (!expect(Tok::Equal, "and a default value after the model argument "
                                "name (e.g. 'batch = 32')"))
          return std::nullopt;
        arg.value = parseExpr(1);
        if (!arg.value)
          return std::nullopt;
        model.args.push_back(std::move(arg));
      } while (consumeIf(Tok::Comma));
    }
    if (!expect(Tok::RParen, "after the model arguments"))
      return std::nullopt;
  }
  skipNewlines();
  if (!expect(Tok::LBrace, "to open the model body"))
    return std::nullopt;
  bool ok = parseStmtList(model.body, 1);
  if (ok && !is(Tok::RBrace)) {
    expected("'}' to close the model body");
    ok = false;
  }
  if (ok) {
    consume();
    skipNewlines();
    if (!is(Tok::Eof)) {
      failed = false;
      expected("end of file after the model body");
      ok = false;
    }
  }
  if (!ok || anyError || failed)
    return std::nullopt;
  return model;
}

bool Parser::parseStmtList(StmtList &out, unsigned depth) {
  if (tooDeep(depth)) {
    anyError = true;
    return false;
  }
  for (;;) {
    skipNewlines();
    // The caller reports a missing '}' at end of file.
    if (is(Tok::RBrace) || is(Tok::Eof))
      return true;
    if (diag.tooMany())
      return false;
    failed = false;
    StmtPtr stmt = parseStmt(depth);
    if (stmt && !failed && !is(Tok::Newline) && !is(Tok::RBrace) &&
        !is(Tok::Eof))
      expected("end of line after the statement");
    if (failed || !stmt) {
      anyError = true;
      recover();
      continue;
    }
    out.push_back(std::move(stmt));
  }
}

bool Parser::parseNameList(llvm::SmallVectorImpl<StringRef> &names,
                           llvm::SmallVectorImpl<SMRange> &ranges) {
  if (!consumeIf(Tok::LParen)) {
    expected("'(' before the argument names");
    return false;
  }
  if (!is(Tok::RParen)) {
    do {
      StringRef n;
      SMRange r;
      if (!expectIdent(n, r, "an argument name"))
        return false;
      names.push_back(n);
      ranges.push_back(r);
    } while (consumeIf(Tok::Comma));
  }
  return expect(Tok::RParen, "after the argument names");
}

StmtPtr Parser::parseStmt(unsigned depth) {
  if (!is(Tok::Ident)) {
    expected("a statement (input, param, block, fn, output, train, for, "
             "return or NAME = ...)");
    return nullptr;
  }
  Token first = tok();
  StringRef kw = first.text;
  auto make = [&](Stmt::Kind k) {
    auto s = std::make_unique<Stmt>(k);
    s->keywordLoc = first.loc();
    s->range = first.range();
    return s;
  };
  // `NAME = ...` and `a, b = ...` are bindings even if NAME is a keyword
  // spelling such as `loss`; keywords are only keywords in statement position
  // when not followed by '=' or ','.
  bool isBinding = peek().kind == Tok::Equal || peek().kind == Tok::Comma;

  if (!isBinding && (kw == "input" || kw == "param" || kw == "buffer")) {
    consume();
    auto s = make(kw == "input" ? Stmt::Input : Stmt::Param);
    s->isBuffer = kw == "buffer";
    StringRef n;
    SMRange r;
    if (!expectIdent(n, r, ("a name after '" + kw + "'").str()))
      return nullptr;
    s->names.push_back(n);
    s->nameRanges.push_back(r);
    if (!expect(Tok::Colon, "and a type after the name (e.g. 'x : f32[batch, 64]')"))
      return nullptr;
    if (!parseType(s->type))
      return nullptr;
    if (kw != "input") {
      if (!expect(Tok::Equal, ("and an initializer (e.g. '= zeros') after the " +
                               kw + " type").str()))
        return nullptr;
      s->value = parseExpr(depth);
      if (!s->value)
        return nullptr;
    }
    return s;
  }
  if (!isBinding && kw == "block") {
    consume();
    auto s = make(Stmt::Block);
    StringRef n;
    SMRange r;
    if (!expectIdent(n, r, "a block name after 'block'"))
      return nullptr;
    s->names.push_back(n);
    s->nameRanges.push_back(r);
    if (is(Tok::LParen) && !parseNameList(s->names, s->nameRanges))
      return nullptr;
    skipNewlines();
    if (!expect(Tok::LBrace, "to open the block body"))
      return nullptr;
    if (!parseStmtList(s->body, depth + 1))
      return nullptr;
    if (!expect(Tok::RBrace, "to close the block body"))
      return nullptr;
    return s;
  }
  if (!isBinding && kw == "fn") {
    consume();
    auto s = make(Stmt::Fn);
    if (!parseNameList(s->names, s->nameRanges))
      return nullptr;
    if (consumeIf(Tok::Equal)) {
      s->exprBody = true;
      s->value = parseExpr(depth);
      return s->value ? std::move(s) : nullptr;
    }
    skipNewlines();
    if (!expect(Tok::LBrace, "or '=' after 'fn(...)'"))
      return nullptr;
    if (!parseStmtList(s->body, depth + 1))
      return nullptr;
    if (!expect(Tok::RBrace, "to close the fn body"))
      return nullptr;
    return s;
  }
  if (!isBinding && kw == "for") {
    consume();
    auto s = make(Stmt::For);
    StringRef n;
    SMRange r;
    if (!expectIdent(n, r, "a loop variable after 'for'"))
      return nullptr;
    s->names.push_back(n);
    s->nameRanges.push_back(r);
    if (!isKeyword("in")) {
      expected("'in' after the loop variable");
      return nullptr;
    }
    consume();
    s->value = parseSum(depth);
    if (!s->value)
      return nullptr;
    if (!expect(Tok::DotDot, "in the loop range (e.g. 'for t in 0..seq')"))
      return nullptr;
    s->hi = parseSum(depth);
    if (!s->hi)
      return nullptr;
    skipNewlines();
    if (!expect(Tok::LBrace, "to open the loop body"))
      return nullptr;
    if (!parseStmtList(s->body, depth + 1))
      return nullptr;
    if (!expect(Tok::RBrace, "to close the loop body"))
      return nullptr;
    return s;
  }
  if (!isBinding && kw == "return") {
    consume();
    auto s = make(Stmt::Return);
    do {
      ExprPtr e = parseExpr(depth);
      if (!e)
        return nullptr;
      s->values.push_back(std::move(e));
    } while (consumeIf(Tok::Comma));
    return s;
  }
  if (!isBinding && kw == "output") {
    consume();
    auto s = make(Stmt::Output);
    StringRef n;
    SMRange r;
    if (!expectIdent(n, r, "an output name after 'output'"))
      return nullptr;
    s->names.push_back(n);
    s->nameRanges.push_back(r);
    if (consumeIf(Tok::Equal)) {
      s->value = parseExpr(depth);
      if (!s->value)
        return nullptr;
    }
    return s;
  }
  if (!isBinding && kw == "minimize") {
    consume();
    auto s = make(Stmt::Minimize);
    s->value = parseExpr(depth);
    return s->value ? std::move(s) : nullptr;
  }
  if (!isBinding && kw == "train") {
    consume();
    auto s = make(Stmt::Train);
    if (isKeyword("minimize")) {
      consume();
      s->value = parseExpr(depth);
      if (!s->value)
        return nullptr;
    }
    if (!isKeyword("with")) {
      expected("'with OPTIMIZER(...)' in the train clause");
      return nullptr;
    }
    consume();
    if (!expectIdent(s->optimizer, s->optimizerRange,
                     "an optimizer name (sgd, momentum, nesterov, adam, adamw)"))
      return nullptr;
    if (consumeIf(Tok::LParen)) {
      if (!parseArgs(s->args, depth))
        return nullptr;
    }
    return s;
  }
  // Binding: NAME {',' NAME} '=' expr.
  auto s = make(Stmt::Let);
  do {
    StringRef n;
    SMRange r;
    if (!expectIdent(n, r, "a name to bind"))
      return nullptr;
    s->names.push_back(n);
    s->nameRanges.push_back(r);
  } while (consumeIf(Tok::Comma));
  if (!is(Tok::Equal)) {
    if (s->names.size() == 1)
      expected("'=' after '" + s->names[0] +
               "' (a statement starts with input, param, buffer, block, fn, "
               "output, minimize, train, for, return, or is NAME = EXPR)");
    else
      expected("'=' after the names to bind");
    return nullptr;
  }
  consume();
  s->value = parseExpr(depth);
  return s->value ? std::move(s) : nullptr;
}

bool Parser::parseType(TypeExpr &type) {
  SMRange r;
  if (!expectIdent(type.dtype, type.dtypeRange,
                   "a type such as f32[batch, 64]"))
    return false;
  type.range = type.dtypeRange;
  if (consumeIf(Tok::LBracket)) {
    if (!is(Tok::RBracket)) {
      do {
        ExprPtr d = parseExpr(1);
        if (!d)
          return false;
        type.dims.push_back(std::move(d));
      } while (consumeIf(Tok::Comma));
    }
    if (!expect(Tok::RBracket, "to close the shape"))
      return false;
    type.range.End = prevEnd();
  }
  return true;
}

ExprPtr Parser::binary(ExprPtr lhs, const Token &op, ExprPtr rhs) {
  auto e = std::make_unique<Expr>(Expr::Binary,
                                  SMRange(lhs->range.Start, rhs->range.End));
  e->text = op.text;
  e->opLoc = op.loc();
  e->depth = 1 + std::max(lhs->depth, rhs->depth);
  e->lhs = std::move(lhs);
  e->rhs = std::move(rhs);
  // Left-associative chains grow without recursion in the parser, but
  // everything that walks the tree recurses: bound the height.
  if (e->depth > 4 * kMaxNesting) {
    if (!failed)
      diag.error(SMRange(op.loc(), op.loc()),
                 "expression is too long (more than " +
                     llvm::Twine(4 * kMaxNesting) +
                     " chained operators); split it with bindings");
    failed = true;
    return nullptr;
  }
  return e;
}

ExprPtr Parser::parseExpr(unsigned depth) {
  if (tooDeep(depth))
    return nullptr;
  ExprPtr lhs = parseSum(depth);
  if (!lhs)
    return nullptr;
  switch (tok().kind) {
  case Tok::Less: case Tok::LessEq: case Tok::Greater:
  case Tok::GreaterEq: case Tok::EqEq: case Tok::NotEq: {
    Token op = consume();
    ExprPtr rhs = parseSum(depth);
    if (!rhs)
      return nullptr;
    return binary(std::move(lhs), op, std::move(rhs));
  }
  default:
    return lhs;
  }
}

ExprPtr Parser::parseSum(unsigned depth) {
  ExprPtr lhs = parseTerm(depth);
  while (lhs && (is(Tok::Plus) || is(Tok::Minus))) {
    Token op = consume();
    ExprPtr rhs = parseTerm(depth);
    if (!rhs)
      return nullptr;
    lhs = binary(std::move(lhs), op, std::move(rhs));
  }
  return lhs;
}

ExprPtr Parser::parseTerm(unsigned depth) {
  ExprPtr lhs = parseUnary(depth);
  while (lhs && (is(Tok::Star) || is(Tok::Slash) || is(Tok::Percent) ||
                 is(Tok::At))) {
    Token op = consume();
    ExprPtr rhs = parseUnary(depth);
    if (!rhs)
      return nullptr;
    lhs = binary(std::move(lhs), op, std::move(rhs));
  }
  return lhs;
}

ExprPtr Parser::parseUnary(unsigned depth) {
  if (is(Tok::Minus)) {
    if (tooDeep(depth + 1))
      return nullptr;
    Token op = consume();
    ExprPtr operand = parseUnary(depth + 1);
    if (!operand)
      return nullptr;
    auto e = std::make_unique<Expr>(Expr::Unary,
                                    SMRange(op.loc(), operand->range.End));
    e->text = op.text;
    e->opLoc = op.loc();
    e->depth = operand->depth + 1;
    e->lhs = std::move(operand);
    return e;
  }
  return parsePostfix(depth);
}

bool Parser::parseArgs(std::vector<Arg> &args, unsigned depth) {
  // The '(' is consumed.
  SMLoc open = pos > 0 ? tokens[pos - 1].loc() : SMLoc();
  if (!is(Tok::RParen)) {
    do {
      Arg arg;
      if (is(Tok::Ident) && peek().kind == Tok::Equal) {
        Token n = consume();
        consume();
        arg.name = n.text;
        arg.nameRange = n.range();
      }
      arg.value = parseExpr(depth + 1);
      if (!arg.value)
        return false;
      if (arg.name.empty() && !args.empty() && !args.back().name.empty()) {
        if (!failed)
          diag.error(arg.value->range,
                     "expected a keyword argument (NAME = VALUE) after "
                     "keyword arguments, found a positional argument");
        failed = true;
        return false;
      }
      args.push_back(std::move(arg));
    } while (consumeIf(Tok::Comma));
  }
  return expect(Tok::RParen, "to close the argument list", open);
}

bool Parser::parseIndexItem(IndexItem &item, unsigned depth) {
  SMLoc start = tok().loc();
  auto atSliceEnd = [&] {
    return is(Tok::Colon) || is(Tok::Comma) || is(Tok::RBracket);
  };
  ExprPtr first;
  if (!atSliceEnd()) {
    first = parseExpr(depth + 1);
    if (!first)
      return false;
  }
  if (!is(Tok::Colon)) {
    if (!first) {
      expected("an index or a slice 'start:stop'");
      return false;
    }
    item.index = std::move(first);
    item.range = SMRange(start, prevEnd());
    return true;
  }
  consume();
  item.isSlice = true;
  item.start = std::move(first);
  if (!atSliceEnd()) {
    item.stop = parseExpr(depth + 1);
    if (!item.stop)
      return false;
  }
  if (consumeIf(Tok::Colon) && !atSliceEnd()) {
    item.step = parseExpr(depth + 1);
    if (!item.step)
      return false;
  }
  item.range = SMRange(start, prevEnd());
  return true;
}

ExprPtr Parser::parsePostfix(unsigned depth) {
  ExprPtr e = parsePrimary(depth);
  while (e && (is(Tok::LParen) || is(Tok::LBracket))) {
    if (tooDeep(e->depth + depth))
      return nullptr;
    bool call = is(Tok::LParen);
    SMLoc open = consume().loc();
    auto post = std::make_unique<Expr>(call ? Expr::Call : Expr::Index,
                                       e->range);
    post->depth = e->depth + 1;
    if (call) {
      if (!parseArgs(post->args, depth))
        return nullptr;
      for (auto &a : post->args)
        post->depth = std::max(post->depth, a.value->depth + 1);
    } else {
      do {
        IndexItem item;
        if (!parseIndexItem(item, depth))
          return nullptr;
        post->indices.push_back(std::move(item));
      } while (consumeIf(Tok::Comma));
      if (!expect(Tok::RBracket, "to close the index", open))
        return nullptr;
    }
    post->range.End = prevEnd();
    post->lhs = std::move(e);
    e = std::move(post);
  }
  return e;
}

ExprPtr Parser::parsePrimary(unsigned depth) {
  if (tooDeep(depth))
    return nullptr;
  const Token &t = tok();
  switch (t.kind) {
  case Tok::Int: {
    Token n = consume();
    auto e = std::make_unique<Expr>(Expr::Int, n.range());
    if (n.text.getAsInteger(10, e->intValue) || e->intValue < 0) {
      diag.error(n.range(), "integer literal '" + n.text +
                                "' is too large (the limit is 2^63 - 1)");
      failed = true;
      return nullptr;
    }
    return e;
  }
  case Tok::Float: {
    Token n = consume();
    auto e = std::make_unique<Expr>(Expr::Float, n.range());
    std::string s = n.text.str();
    errno = 0;
    char *endp = nullptr;
    e->floatValue = std::strtod(s.c_str(), &endp);
    if (errno == ERANGE && std::abs(e->floatValue) > 1.0) {
      diag.error(n.range(), "number '" + n.text + "' is out of range for f64");
      failed = true;
      return nullptr;
    }
    return e;
  }
  case Tok::String: {
    Token n = consume();
    auto e = std::make_unique<Expr>(Expr::String, n.range());
    e->text = n.text.drop_front().drop_back();
    return e;
  }
  case Tok::Ident: {
    Token n = consume();
    auto e = std::make_unique<Expr>(Expr::Name, n.range());
    e->text = n.text;
    return e;
  }
  case Tok::LParen: {
    SMLoc open = consume().loc();
    ExprPtr inner = parseExpr(depth + 1);
    if (!inner)
      return nullptr;
    if (!expect(Tok::RParen, "to close the parenthesis", open))
      return nullptr;
    return inner;
  }
  case Tok::LBracket: {
    Token open = consume();
    auto e = std::make_unique<Expr>(Expr::List, open.range());
    if (!is(Tok::RBracket)) {
      do {
        ExprPtr el = parseExpr(depth + 1);
        if (!el)
          return nullptr;
        e->depth = std::max(e->depth, el->depth + 1);
        e->elements.push_back(std::move(el));
      } while (consumeIf(Tok::Comma));
    }
    if (!expect(Tok::RBracket, "to close the list", open.loc()))
      return nullptr;
    e->range.End = prevEnd();
    return e;
  }
  default:
    expected("an expression");
    return nullptr;
  }
}

std::optional<ModelDecl> kiln::frontend::parseModel(StringRef buffer,
                                                    Diagnostics &diag) {
  Parser parser(buffer, diag);
  return parser.parseFile();
}
