//===- Diagnostics.h - Error reporting of the .kiln frontend ----*- C++ -*-===//
#ifndef KILN_FRONTEND_DIAGNOSTICS_H
#define KILN_FRONTEND_DIAGNOSTICS_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

namespace kiln::frontend {

/// Prints `file:line:col: error: msg`, the source line and a caret under the
/// range (llvm::SourceMgr's format). Stops printing after `maxErrors` so a
/// fuzzed input cannot produce megabytes of output.
class Diagnostics {
public:
  Diagnostics(llvm::SourceMgr &srcMgr, llvm::raw_ostream &os)
      : srcMgr(srcMgr), os(os) {}

  void error(llvm::SMRange range, const llvm::Twine &msg) {
    report(range, llvm::SourceMgr::DK_Error, msg);
  }
  void error(llvm::SMLoc loc, const llvm::Twine &msg) {
    error(llvm::SMRange(loc, loc), msg);
  }
  void note(llvm::SMRange range, const llvm::Twine &msg) {
    if (numErrors <= maxErrors)
      report(range, llvm::SourceMgr::DK_Note, msg, /*count=*/false);
  }
  unsigned errorCount() const { return numErrors; }
  bool tooMany() const { return numErrors >= maxErrors; }

  static constexpr unsigned maxErrors = 20;

private:
  void report(llvm::SMRange range, llvm::SourceMgr::DiagKind kind,
              const llvm::Twine &msg, bool count = true) {
    if (count && ++numErrors > maxErrors) {
      if (numErrors == maxErrors + 1)
        os << "too many errors; stopping\n";
      return;
    }
    llvm::SMLoc loc = range.Start;
    llvm::SmallVector<llvm::SMRange, 1> ranges;
    if (range.isValid() && range.Start != range.End)
      ranges.push_back(range);
    srcMgr.PrintMessage(os, loc, kind, msg, ranges, {}, /*ShowColors=*/false);
  }

  llvm::SourceMgr &srcMgr;
  llvm::raw_ostream &os;
  unsigned numErrors = 0;
};

} // namespace kiln::frontend

#endif // KILN_FRONTEND_DIAGNOSTICS_H
