"""The bottom layer, imported by all and importing no other: errors, scores and levels, atomic I/O, where a
run's files live, the one-writer protocol, shared names and library versions."""
