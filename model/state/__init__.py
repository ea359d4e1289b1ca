"""The run's state and its vocabulary: who people are and where, and the one owner of them.

- `vocabulary`: the enums (Status, Pending, ...) and their integer codes, defined once
- `geography`: sectors and Mexican states; `streams`: the random numbers (one per Decision)
- `people`: the population, column-wise (`Population`), and the compiled status moves
- `calendar`: run dates and the `DueQueue` (who acts on which day)
- `capacity`: whole families under a capacity, room carried over at coarse scales
- `recorder`: the daily counters and the monthly table (the output contract)

Nothing here imports from `model.config` or `model.actors`.
"""
