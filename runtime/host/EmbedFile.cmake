# Turns the file IN into a C++ source OUT defining `const char *const NAME`
# (namespace kiln::rt::host) as a raw string literal of its contents.
file(READ "${IN}" text)
file(WRITE "${OUT}.tmp" "// Generated from ${IN}; do not edit.\nnamespace kiln::rt::host {\nextern const char *const ${NAME};\nconst char *const ${NAME} = R\"KILNSIMTEMBED(${text})KILNSIMTEMBED\";\n}\n")
file(RENAME "${OUT}.tmp" "${OUT}")
