"""Contract suites: every registered router and gate, held to the same promises."""
