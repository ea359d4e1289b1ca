"""What a run is asked to simulate: the scenario file, its checks, the policies and their timeline.

- `scenario`, `validation`: loading and checking a scenario (`BorderScenario`, `ScenarioError`)
- `policies`: one dated class per kind of policy, and the `PolicyBook`
- `timeline`: the policies resolved once per run into per-day arrays the actors read
- `scale_check`: refuses a scale so coarse that a nationality gets no agents

Imports only from `model.state` (and `model.tables_file` to read TOML).
"""
