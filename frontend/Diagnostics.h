//===- Diagnostics.h - Error reporting of the .kiln frontend ----*- C++ -*-===//
#ifndef KILN_FRONTEND_DIAGNOSTICS_H
#define KILN_FRONTEND_DIAGNOSTICS_H

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace kiln::frontend {

/// Collects `file:line:col: error: msg` diagnostics, each with the source
/// line and a caret under the range (llvm::SourceMgr's format), and prints
/// them in source order on flush(). Elaboration visits a block's body when
/// it is instantiated, not where it is written, so sorting keeps the output
/// in the order a reader expects. A note attaches to the error before it.
/// At most `maxErrors` errors are kept, so a fuzzed input cannot produce
/// megabytes of output.
class Diagnostics {
public:
  Diagnostics(llvm::SourceMgr &srcMgr, llvm::raw_ostream &os)
      : srcMgr(srcMgr), os(os) {}
  ~Diagnostics() { flush(); }

  void error(llvm::SMRange range, const llvm::Twine &msg) {
    if (++numErrors > maxErrors)
      return;
    entries.push_back({range.Start.getPointer(), order++,
                       render(range, llvm::SourceMgr::DK_Error, msg)});
  }
  void error(llvm::SMLoc loc, const llvm::Twine &msg) {
    error(llvm::SMRange(loc, loc), msg);
  }
  /// Adds a note to the most recent error.
  void note(llvm::SMRange range, const llvm::Twine &msg) {
    if (entries.empty() || numErrors > maxErrors)
      return;
    entries.back().text += render(range, llvm::SourceMgr::DK_Note, msg);
  }
  unsigned errorCount() const { return numErrors; }
  bool tooMany() const { return numErrors >= maxErrors; }

  /// Prints the collected diagnostics in source order.
  void flush() {
    llvm::stable_sort(entries, [](const Entry &a, const Entry &b) {
      return a.pos != b.pos ? std::less<const char *>()(a.pos, b.pos)
                            : a.order < b.order;
    });
    for (const Entry &e : entries)
      os << e.text;
    if (numErrors > maxErrors)
      os << "too many errors (" << numErrors << "); showing the first "
         << maxErrors << "\n";
    entries.clear();
    numErrors = 0;
    os.flush();
  }

  static constexpr unsigned maxErrors = 20;

private:
  struct Entry {
    const char *pos;
    unsigned order;
    std::string text;
  };

  std::string render(llvm::SMRange range, llvm::SourceMgr::DiagKind kind,
                     const llvm::Twine &msg) {
    std::string text;
    llvm::raw_string_ostream out(text);
    llvm::SmallVector<llvm::SMRange, 1> ranges;
    if (range.isValid() && range.Start != range.End)
      ranges.push_back(range);
    srcMgr.PrintMessage(out, range.Start, kind, msg, ranges, {},
                        /*ShowColors=*/false);
    return text;
  }

  llvm::SourceMgr &srcMgr;
  llvm::raw_ostream &os;
  std::vector<Entry> entries;
  unsigned numErrors = 0;
  unsigned order = 0;
};

} // namespace kiln::frontend

#endif // KILN_FRONTEND_DIAGNOSTICS_H
