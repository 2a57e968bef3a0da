/*===- CApiSmoke.c - kiln/runtime.h from C, through libkiln_runtime.so ---===//
 *
 * Checks that the header is valid C and that the shared library exports the
 * API: loading a missing file fails with KILN_IO_ERROR and a message that
 * names the file; loading junk fails with KILN_INVALID_ARTIFACT.
 * Exits 0 on success.
 *
 *===----------------------------------------------------------------------===*/
#include "kiln/runtime.h"

#include <stdio.h>
#include <string.h>

int main(void) {
  kiln_runtime_t *rt = NULL;
  static const char junk[16] = "junk";
  if (kiln_load("/nonexistent/smoke.kart", "auto", NULL, &rt) != KILN_IO_ERROR || rt) {
    fprintf(stderr, "kiln_load of a missing file: unexpected result\n");
    return 1;
  }
  if (!strstr(kiln_last_error(), "smoke.kart")) {
    fprintf(stderr, "message does not name the file: %s\n", kiln_last_error());
    return 1;
  }
  if (kiln_load_memory(junk, sizeof junk, "host", NULL, &rt) != KILN_INVALID_ARTIFACT) {
    fprintf(stderr, "junk accepted: %s\n", kiln_last_error());
    return 1;
  }
  kiln_free(NULL);
  printf("ok: %s\n", kiln_last_error());
  return 0;
}
