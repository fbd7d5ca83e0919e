# Installation: headers, libraries, the CMake package and piperpc.pc.
# (Completed by the foundation work: export set, config files, pkg-config.)
