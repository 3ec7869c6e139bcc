"""The spec the tests play with the scripted LM (nanoflux.testing): small, two topics, the default rubric."""

SCRIPTED_SPEC = """
name: jars
description: Counting jars on shelves.
topics: [shelves, crates]
rubric:
  dimensions:
    - {name: correctness, description: right}
    - {name: rigor, description: valid}
    - {name: completeness, description: all steps}
    - {name: clarity, description: clear}
rounds: 6
"""
