//===- Lexer.cpp - Tokens of the .kiln language ---------------------------===//
#include "frontend/Lexer.h"

#include <cctype>

using namespace kiln::frontend;

llvm::StringRef kiln::frontend::tokName(Tok kind) {
  switch (kind) {
  case Tok::Eof: return "end of file";
  case Tok::Newline: return "end of line";
  case Tok::Ident: return "identifier";
  case Tok::Int: return "integer";
  case Tok::Float: return "number";
  case Tok::String: return "string";
  case Tok::LParen: return "'('";
  case Tok::RParen: return "')'";
  case Tok::LBracket: return "'['";
  case Tok::RBracket: return "']'";
  case Tok::LBrace: return "'{'";
  case Tok::RBrace: return "'}'";
  case Tok::Comma: return "','";
  case Tok::Colon: return "':'";
  case Tok::Equal: return "'='";
  case Tok::Plus: return "'+'";
  case Tok::Minus: return "'-'";
  case Tok::Star: return "'*'";
  case Tok::Slash: return "'/'";
  case Tok::Percent: return "'%'";
  case Tok::At: return "'@'";
  case Tok::Less: return "'<'";
  case Tok::LessEq: return "'<='";
  case Tok::Greater: return "'>'";
  case Tok::GreaterEq: return "'>='";
  case Tok::EqEq: return "'=='";
  case Tok::NotEq: return "'!='";
  case Tok::DotDot: return "'..'";
  case Tok::Dot: return "'.'";
  case Tok::Error: return "invalid character";
  }
  return "token";
}

static bool isIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
static bool isIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}
static bool isDigit(char c) { return c >= '0' && c <= '9'; }

Token Lexer::next() {
  for (;;) {
    if (cur == end)
      return make(Tok::Eof, cur);
    char c = *cur;
    if (c == '#') {
      while (cur != end && *cur != '\n')
        ++cur;
      continue;
    }
    if (c == '\n') {
      const char *start = cur++;
      if (nesting > 0)
        continue;
      return make(Tok::Newline, start);
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      ++cur;
      continue;
    }
    break;
  }

  const char *start = cur;
  char c = *cur++;
  if (isIdentStart(c)) {
    while (cur != end && isIdentChar(*cur))
      ++cur;
    return make(Tok::Ident, start);
  }
  if (isDigit(c) || (c == '.' && cur != end && isDigit(*cur))) {
    bool isFloat = c == '.';
    while (cur != end && isDigit(*cur))
      ++cur;
    // A '.' followed by another '.' is the range operator, not a fraction.
    if (!isFloat && cur != end && *cur == '.' &&
        !(cur + 1 != end && cur[1] == '.')) {
      isFloat = true;
      ++cur;
      while (cur != end && isDigit(*cur))
        ++cur;
    } else if (isFloat) {
      // ".5": digits already consumed.
    }
    if (cur != end && (*cur == 'e' || *cur == 'E')) {
      const char *save = cur++;
      if (cur != end && (*cur == '+' || *cur == '-'))
        ++cur;
      if (cur != end && isDigit(*cur)) {
        isFloat = true;
        while (cur != end && isDigit(*cur))
          ++cur;
      } else {
        cur = save;
      }
    }
    return make(isFloat ? Tok::Float : Tok::Int, start);
  }
  switch (c) {
  case '"': {
    while (cur != end && *cur != '"' && *cur != '\n')
      ++cur;
    if (cur == end || *cur != '"')
      return make(Tok::Error, start);
    ++cur;
    return make(Tok::String, start);
  }
  case '(': ++nesting; return make(Tok::LParen, start);
  case '[': ++nesting; return make(Tok::LBracket, start);
  case ')': if (nesting > 0) --nesting; return make(Tok::RParen, start);
  case ']': if (nesting > 0) --nesting; return make(Tok::RBracket, start);
  // Braces open statement lists, where newlines matter again: a block body
  // inside a call's parentheses is not part of the language.
  case '{': return make(Tok::LBrace, start);
  case '}': return make(Tok::RBrace, start);
  case ',': return make(Tok::Comma, start);
  case ':': return make(Tok::Colon, start);
  case ';': return make(Tok::Newline, start);
  case '+': return make(Tok::Plus, start);
  case '-': return make(Tok::Minus, start);
  case '*': return make(Tok::Star, start);
  case '/': return make(Tok::Slash, start);
  case '%': return make(Tok::Percent, start);
  case '@': return make(Tok::At, start);
  case '.':
    if (cur != end && *cur == '.') {
      ++cur;
      return make(Tok::DotDot, start);
    }
    return make(Tok::Dot, start);
  case '<':
    if (cur != end && *cur == '=') { ++cur; return make(Tok::LessEq, start); }
    return make(Tok::Less, start);
  case '>':
    if (cur != end && *cur == '=') { ++cur; return make(Tok::GreaterEq, start); }
    return make(Tok::Greater, start);
  case '=':
    if (cur != end && *cur == '=') { ++cur; return make(Tok::EqEq, start); }
    return make(Tok::Equal, start);
  case '!':
    if (cur != end && *cur == '=') { ++cur; return make(Tok::NotEq, start); }
    return make(Tok::Error, start);
  default:
    // Consume a whole UTF-8 sequence so the caret covers one character.
    while (cur != end && (static_cast<unsigned char>(*cur) & 0xC0) == 0x80)
      ++cur;
    return make(Tok::Error, start);
  }
}
