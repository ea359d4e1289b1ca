"""The actors: who decides what happens to people each day.

- `migrants` (with `behaviour`, what migrants decide): setting out, crossing, going back
- `border_patrol`: the nine sectors and the day's consequences for the apprehended
- `mexico`, `metering`: Mexico's side (MPP reception, transit enforcement), the ports' lists
- `ice`, `ice_interior`, `family_detention`: detention, removals, interior arrests
- `courts`: hearings and the backlog; `flights`: removal and expulsion flights

Actors read `model.config` (the timeline) and change people only through `model.state`.
"""
