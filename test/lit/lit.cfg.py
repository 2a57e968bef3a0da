# -*- Python -*-
# lit configuration for Kiln: run on the build tree's test/lit folder.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "Kiln"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".kiln", ".test"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py", "CMakeLists.txt"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.kiln_obj_root, "test", "lit")

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%kiln_src_root", config.kiln_src_root))

llvm_config.with_system_environment(["HOME", "TMPDIR", "XDG_CACHE_HOME"])
llvm_config.use_default_substitutions()

# Tools: ours first, then LLVM's (FileCheck, not, count, split-file).
tool_dirs = [config.kiln_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(["kiln", "kiln-opt", "kiln-translate"], tool_dirs)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.kiln_tools_dir, append_path=True)

# Debian's python3 (with NumPy) for tests that make or read .npy files.
config.substitutions.append(("%python", "/usr/bin/python3"))
