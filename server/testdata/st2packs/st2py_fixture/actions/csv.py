# A module in the actions folder named like a standard module: it must never
# shadow the standard library for the pack's actions.
raise ImportError("the actions folder shadowed the standard library's csv")
