"""Bad input is refused before anything runs, with one clear message.

Every refusal must name where the mistake is (the FILE, or the `--set` flag),
the FIELD, and what is wrong, as `error: FILE: FIELD: what is wrong` on one
line of stderr, exit code 2, no model built and nothing written to --out.

Most cases go through `run.main` in-process (fast) with the model class
replaced by a tripwire; a few go through `python run.py` as a subprocess to
check the real command line end to end.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import run as cli  # noqa: E402
from model.config.scenario import load_scenario  # noqa: E402
from model.config.validation import ScenarioError  # noqa: E402

# A small, complete scenario of our own, so these tests do not depend on the
# exact dates and policy ids of scenarios/historical.toml (which is data and
# changes); a few cases below inherit from "historical" for parameters only.
BASE = """description = "bad-input test base"
start = 2019-01-01
end = 2020-12-31
[parameters.push.mexico]
"2019-01" = 1.0
"2020-04" = 0.5
[policies.t42]
kind = "title42"
start = 2020-03-21
end = 2020-12-31
uac_exempt_from = 2020-11-18
exception_share = 0.05
[policies.flights]
kind = "flights"
destination = "guatemala"
origins = ["Mesa"]
start = 2019-01-01
end = 2020-12-31
per_week = 2.0
seats = 135
[policies.charter]
kind = "flights"
destination = "china"
origins = ["United States"]
start = 2019-07-02
end = 2019-07-02
dates = [2019-07-02]
seats = 116
[policies.mpp]
kind = "mpp"
start = 2019-01-28
end = 2020-03-20
vaccination_offered = false
[policies.mpp.site_opening]
san_diego = 2019-01-28
tucson = 2019-11-21
[policies.mpp.daily_capacity]
san_diego = 40
tucson = 20
[policies.interior]
kind = "interior_repatriation"
start = 2019-12-19
end = 2020-12-31
sectors = ["tucson", "yuma"]
[policies.refuses]
kind = "mexico_refuses_families"
start = 2020-03-21
end = 2020-12-31
[policies.refuses.acceptance]
tucson = 1.0
"""
RUN = "(2019-01-01 to 2020-12-31)"


def base_file(tmp_path: Path) -> Path:
    path = tmp_path / "base.toml"
    if not path.exists():
        path.write_text(BASE, encoding="utf-8")
    return path


def write(tmp_path: Path, body: str, name: str = "bad.toml", base: str | None = "") -> Path:
    """A scenario file that inherits everything from `base` and changes what `body` says.

    base "" means our own BASE file; None means no base line at all.
    """
    if base == "":
        base = str(base_file(tmp_path))
    path = tmp_path / name
    head = f'base = "{base}"\n' if base is not None else ""
    path.write_text(head + body, encoding="utf-8")
    return path


@pytest.fixture
def refused(tmp_path, monkeypatch, capsys):
    """Run the CLI in-process on a bad scenario; assert it was refused cleanly.

    Returns the single stderr line. Fails if the model was built, if anything
    was written to --out, if the exit code is not 2, or if stderr is not
    exactly one `error:` line.
    """

    def tripwire(*args, **kwargs):
        pytest.fail("the model was built for a scenario that should have been refused")

    def no_writes(*args, **kwargs):
        pytest.fail("outputs were written for a scenario that should have been refused")

    monkeypatch.setattr(cli, "simulate", tripwire)
    monkeypatch.setattr(cli, "write_outputs", no_writes)

    def run(scenario, *sets: str) -> str:
        out = tmp_path / "out"
        argv = ["run", str(scenario), "--scale", "200", "--out", str(out)]
        for text in sets:
            argv += ["--set", text]
        code = cli.main(argv)
        captured = capsys.readouterr()
        assert code == 2, captured
        assert captured.out == ""
        lines = captured.err.splitlines()
        assert len(lines) == 1, captured.err
        assert lines[0].startswith("error: "), lines[0]
        assert not out.exists(), "the --out folder was created for a refused run"
        # The library refuses it too, not just the CLI.
        with pytest.raises(ScenarioError):
            load_scenario(str(scenario), list(sets))
        return lines[0]

    return run


def assert_names(msg: str, where: str, field: str, *what: str) -> None:
    """`error: FILE: FIELD...` (or `error: --set KEY: ...`) and every fragment of what is wrong."""
    prefix = f"error: --set {field}: " if where == "--set" else f"error: {where}: {field}"
    assert msg.startswith(prefix), msg
    for fragment in what:
        assert fragment in msg, f"{fragment!r} not in {msg!r}"


# --- Scenario files: (body over our BASE, field named, what is wrong) ------------------

FILE_CASES = {
    # unknown names
    "unknown top-level key": (
        'basis = "historical"\n', "basis", ["unknown key", "known:"]),
    "unknown parameter": (
        "[parameters]\napprehension_probability = 0.5\n",
        "parameters.apprehension_probability", ["unknown parameter"]),
    "unknown policy field": (
        "[policies.t42]\nexception_shares = 0.1\n",
        "policies.t42.exception_shares", ["unknown field for a title42 policy", "exception_share"]),
    "unknown policy kind": (
        '[policies.wall]\nkind = "wall"\nstart = 2019-02-01\nend = 2019-12-31\n',
        "policies.wall.kind", ["unknown policy kind 'wall'", "title42"]),
    "policy with no kind": (
        "[policies.extra]\nstart = 2019-02-01\nend = 2019-12-31\n",
        "policies.extra.kind", ["unknown policy kind None"]),
    "disabling a policy id that does not exist": (
        "[policies.t24]\nenabled = false\n",
        "policies.t24.kind", ["unknown policy kind None", "enabled = false"]),
    "policy without an end": (
        '[policies.wall]\nkind = "detention_cap"\nstart = 2019-02-01\n',
        "policies.wall.end", ["missing"]),
    # wrong types
    "string where a number is expected": (
        '[parameters]\ncustody_days = "3"\n',
        "parameters.custody_days", ["expected a number", "'3'"]),
    "string where a number is expected, in a table": (
        '[parameters.apprehension_prob]\ntucson = "high"\n',
        "parameters.apprehension_prob.tucson", ["expected a number", "'high'"]),
    "number where a date is expected (policy)": (
        "[policies.t42]\nstart = 20200321\n",
        "policies.t42.start", ["expected a date", "20200321"]),
    "number where a date is expected (run)": (
        "start = 20190101\n", "start", ["expected a date", "20190101"]),
    "quoted date where a date is expected": (
        '[policies.t42]\nend = "2020-06-30"\n',
        "policies.t42.end", ["expected a date", "'2020-06-30'"]),
    "date and time where a date is expected": (
        "[policies.t42]\nend = 2020-06-30T12:00:00\n",
        "policies.t42.end", ["expected a date"]),
    "bool where a whole number is expected": (
        "[parameters]\ndetention_beds = true\n",
        "parameters.detention_beds", ["expected a whole number", "True"]),
    "bool where a number is expected": (
        "[policies.t42]\nexception_share = false\n",
        "policies.t42.exception_share", ["expected a number", "False"]),
    "number where true/false is expected": (
        "[policies.mpp]\nvaccination_offered = 1\n",
        "policies.mpp.vaccination_offered", ["expected true/false", "1"]),
    "fraction where a whole number is expected": (
        "[parameters]\ndetention_beds = 40000.5\n",
        "parameters.detention_beds", ["expected a whole number", "40000.5"]),
    "number where a table is expected": (
        "[parameters]\napprehension_prob = 0.5\n",
        "parameters.apprehension_prob", ["expected a table", "0.5"]),
    "text where a list is expected": (
        '[policies.interior]\nsectors = "tucson"\n',
        "policies.interior.sectors", ["expected a list", "'tucson'"]),
    "text where enabled true/false is expected": (
        '[policies.t42]\nenabled = "no"\n',
        "policies.t42.enabled", ["expected true/false", "'no'"]),
    "infinite number": (
        "[parameters.departures_per_day]\nmexico = inf\n",
        "parameters.departures_per_day.mexico", ["finite number", "inf"]),
    "not a number": (
        "[parameters]\ncustody_days = nan\n",
        "parameters.custody_days", ["expected a number", "NaN"]),
    # probabilities
    "probability above 1": (
        "[parameters.apprehension_prob]\ntucson = 1.5\n",
        "parameters.apprehension_prob.tucson", ["1.5", "is not a probability in [0, 1]"]),
    "probability below 0 (policy)": (
        "[policies.t42]\nexception_share = -0.1\n",
        "policies.t42.exception_share", ["-0.1", "is not a probability in [0, 1]"]),
    "probability above 1 (scalar parameter)": (
        "[parameters]\ncredible_fear_positive = 1.01\n",
        "parameters.credible_fear_positive", ["1.01", "is not a probability"]),
    "probability above 1 (per-sector policy table)": (
        "[policies.refuses.acceptance]\ntucson = 2.0\n",
        "policies.refuses.acceptance.tucson", ["2.0", "is not a probability"]),
    # negative capacities and durations
    "negative detention beds": (
        "[parameters]\ndetention_beds = -5\n",
        "parameters.detention_beds", ["-5", "is not non-negative"]),
    "negative holding capacity": (
        "[parameters.holding_capacity]\nel_paso = -1\n",
        "parameters.holding_capacity.el_paso", ["-1", "is not non-negative"]),
    "negative flight seats": (
        "[policies.flights]\nseats = -1\n",
        "policies.flights.seats", ["-1", "is not non-negative"]),
    "negative flights per week": (
        "[policies.flights]\nper_week = -2.0\n",
        "policies.flights.per_week", ["-2.0", "is not non-negative"]),
    "negative MPP daily capacity": (
        "[policies.mpp.daily_capacity]\ntucson = -20\n",
        "policies.mpp.daily_capacity.tucson", ["-20", "is not non-negative"]),
    "zero days": (
        "[parameters]\ncustody_days = 0.0\n",
        "parameters.custody_days", ["0.0", "is not positive"]),
    "flight route with no origin": (
        "[policies.flights]\norigins = []\n",
        "policies.flights.origins", ["needs at least one origin"]),
    # end before start
    "policy ends before it starts": (
        "[policies.t42]\nend = 2020-03-01\n",
        "policies.t42.end", ["2020-03-01 is before start 2020-03-21"]),
    "run ends before it starts": (
        "end = 2018-12-31\n", "end", ["2018-12-31 is before start 2019-01-01"]),
    # policy dates outside the run
    "policy starts before the run": (
        "[policies.t42]\nstart = 2018-12-01\n",
        "policies.t42.start", [f"2018-12-01 is outside the run {RUN}"]),
    "policy ends after the run": (
        "[policies.t42]\nend = 2021-01-31\n",
        "policies.t42.end", [f"2021-01-31 is outside the run {RUN}"]),
    "MPP site opens after the run": (
        "[policies.mpp.site_opening]\ntucson = 2021-02-01\n",
        "policies.mpp.site_opening", [f"2021-02-01 is outside the run {RUN}"]),
    "flight date after the run": (
        "[policies.charter]\ndates = [2019-07-02, 2021-01-05]\n",
        "policies.charter.dates", [f"2021-01-05 is outside the run {RUN}"]),
    "title42 UAC exemption before the run": (
        "[policies.t42]\nuac_exempt_from = 2018-01-01\n",
        "policies.t42.uac_exempt_from", [f"2018-01-01 is outside the run {RUN}"]),
    "run shortened so a policy falls outside it": (
        "end = 2020-06-30\n",
        "policies.t42.end", ["2020-12-31 is outside the run (2019-01-01 to 2020-06-30)"]),
    # unknown sectors / nationalities
    "unknown sector in a per-sector parameter": (
        "[parameters.apprehension_prob]\nnowhere = 0.5\n",
        "parameters.apprehension_prob", ["unknown sector 'nowhere'", "tucson"]),
    "station name instead of a sector": (
        "[parameters.holding_capacity]\nnogales = 100\n",
        "parameters.holding_capacity", ["unknown sector 'nogales'"]),
    "unknown nationality in a per-nationality parameter": (
        "[parameters.departures_per_day]\natlantis = 10.0\n",
        "parameters.departures_per_day", ["unknown nationality 'atlantis'", "mexico"]),
    "unknown sector inside sector_weights": (
        "[parameters.sector_weights.mexico]\nnowhere = 5\n",
        "parameters.sector_weights.mexico", ["unknown sector 'nowhere'"]),
    "unknown nationality in sector_weights": (
        "[parameters.sector_weights.atlantis]\ntucson = 5\n",
        "parameters.sector_weights", ["unknown nationality 'atlantis'"]),
    "unknown nationality in push": (
        '[parameters.push.atlantis]\n"2019-06" = 1.0\n',
        "parameters.push", ["unknown nationality 'atlantis'"]),
    "unknown demographic": (
        "[parameters.surrender_prob]\nteenager = 0.5\n",
        "parameters.surrender_prob", ["unknown demographic 'teenager'"]),
    "unknown sector in a policy table": (
        "[policies.mpp.site_opening]\nnowhere = 2019-05-01\n",
        "policies.mpp.site_opening", ["unknown sector 'nowhere'"]),
    "unknown sector in a policy list": (
        '[policies.interior]\nsectors = ["tucson", "nowhere"]\n',
        "policies.interior.sectors", ["unknown sector 'nowhere'"]),
    "unknown nationality in a policy list": (
        '[policies.mpp]\nnationalities = ["guatemala", "atlantis"]\n',
        "policies.mpp.nationalities", ["unknown nationality 'atlantis'"]),
    "unknown flight destination": (
        '[policies.flights]\ndestination = "atlantis"\n',
        "policies.flights.destination", ["unknown destination 'atlantis'"]),
    # push months
    "push month 13": (
        '[parameters.push.mexico]\n"2019-13" = 1.0\n',
        "parameters.push.mexico.2019-13", ["month must be YYYY-MM"]),
    "push month without leading zero": (
        '[parameters.push.mexico]\n"2019-1" = 1.0\n',
        "parameters.push.mexico.2019-1", ["month must be YYYY-MM"]),
    "push month given as a full date": (
        '[parameters.push.mexico]\n"2019-01-01" = 1.0\n',
        "parameters.push.mexico.2019-01-01", ["month must be YYYY-MM"]),
    "push month after the run": (
        '[parameters.push.mexico]\n"2021-03" = 1.0\n',
        "parameters.push.mexico.2021-03", ["outside the run (2019-01 to 2020-12)"]),
    "push month before the run": (
        '[parameters.push.guatemala]\n"2018-12" = 1.0\n',
        "parameters.push.guatemala.2018-12", ["outside the run (2019-01 to 2020-12)"]),
    "negative push": (
        '[parameters.push.mexico]\n"2019-06" = -1.0\n',
        "parameters.push.mexico.2019-06", ["-1.0", "is not non-negative"]),
    # the file itself
    "not TOML": (
        "[parameters\ncustody_days = 3\n", "not valid TOML", []),
}


@pytest.mark.parametrize("case", list(FILE_CASES), ids=list(FILE_CASES))
def test_bad_scenario_file_is_refused(case, tmp_path, refused):
    body, field, what = FILE_CASES[case]
    path = write(tmp_path, body)
    msg = refused(path)
    assert_names(msg, str(path), field, *what)


# The same kind of mistakes in a one-change counterfactual of the real scenario.
HISTORICAL_CASES = {
    "probability above 1": (
        "[parameters.apprehension_prob]\ntucson = 1.5\n",
        "parameters.apprehension_prob.tucson", ["is not a probability in [0, 1]"]),
    "negative detention beds": (
        "[parameters]\ndetention_beds = -5\n",
        "parameters.detention_beds", ["-5", "is not non-negative"]),
    "unknown parameter": (
        "[parameters]\ndetention_bedz = 5\n", "parameters.detention_bedz", ["unknown parameter"]),
    "unknown top-level key": ("[policy.title42]\nenabled = false\n", "policy", ["unknown key"]),
    "disabling a policy id that does not exist": (
        "[policies.title_42_typo]\nenabled = false\n",
        "policies.title_42_typo.kind", ["unknown policy kind None"]),
    "push month 13": (
        '[parameters.push.mexico]\n"2019-13" = 1.0\n',
        "parameters.push.mexico.2019-13", ["month must be YYYY-MM"]),
    "unknown sector": (
        "[parameters.holding_capacity]\nnogales = 100\n",
        "parameters.holding_capacity", ["unknown sector 'nogales'"]),
    # ICE's interior side and the starting state
    "negative starting detention": (
        "[parameters]\ninitial_detained_interior = -1\n",
        "parameters.initial_detained_interior", ["-1", "is not non-negative"]),
    "interior arrests of nobody": (
        "[parameters.interior_arrest_nationality]\nmexico = 0\nguatemala = 0\nhonduras = 0\n"
        "el_salvador = 0\nchina = 0\nother = 0\n",
        "parameters.interior_arrest_nationality", ["all weights are zero"]),
    "negative interior arrest weight": (
        "[parameters.interior_arrest_nationality]\nmexico = -3\n",
        "parameters.interior_arrest_nationality.mexico", ["is not non-negative"]),
    "unknown nationality of interior arrests": (
        "[parameters.interior_arrest_nationality]\natlantis = 3\n",
        "parameters.interior_arrest_nationality", ["unknown nationality 'atlantis'"]),
    "interior removal share above 1": (
        "[parameters]\ndetained_docket_removal_share = 1.2\n",
        "parameters.detained_docket_removal_share", ["is not a probability in [0, 1]"]),
    "detained docket share below 0": (
        "[parameters]\ndetained_docket_share = -0.1\n",
        "parameters.detained_docket_share", ["is not a probability in [0, 1]"]),
    "interior detention of zero days": (
        "[parameters]\ndetained_docket_days = 0\n",
        "parameters.detained_docket_days", ["is not positive"]),
    "negative interior arrests": (
        "[policies.interior_enforcement_2019]\narrests_per_day = -10.0\n",
        "policies.interior_enforcement_2019.arrests_per_day", ["is not non-negative"]),
    "interior detained share above 1": (
        "[policies.interior_enforcement_covid]\ndetained_share = 1.5\n",
        "policies.interior_enforcement_covid.detained_share", ["is not a probability in [0, 1]"]),
    "final-order arrest rate as text": (
        '[policies.interior_enforcement_2021]\nfinal_order_arrest_rate = "often"\n',
        "policies.interior_enforcement_2021.final_order_arrest_rate", ["expected a number"]),
    "priorities arresting more than everyone": (
        "[policies.enforcement_priorities]\ninterior_arrest_share = 2.0\n",
        "policies.enforcement_priorities.interior_arrest_share", ["is not a probability in [0, 1]"]),
    "negative removal processing days": (
        "[parameters]\nremoval_processing_days = -2\n",
        "parameters.removal_processing_days", ["-2", "is not non-negative"]),
    "notice-to-report share above 1": (
        "[policies.notice_to_report]\nshare = 1.5\n",
        "policies.notice_to_report.share", ["is not a probability in [0, 1]"]),
    "formal removal share of port returns as text": (
        '[policies.port_return]\nformal_removal_share = "half"\n',
        "policies.port_return.formal_removal_share", ["expected a number"]),
    "negative family beds": (
        "[policies.family_detention]\nbeds = -100\n",
        "policies.family_detention.beds", ["-100", "is not non-negative"]),
    "family stay limit of zero days": (
        "[policies.family_detention]\nmax_days = 0\n",
        "policies.family_detention.max_days", ["is not positive"]),
    "refused families by air above 1": (
        "[policies.title42]\nrefused_families_by_air = 1.5\n",
        "policies.title42.refused_families_by_air", ["is not a probability in [0, 1]"]),
    "expulsion flight wait of zero days": (
        "[policies.title42]\nflight_wait_days = 0\n",
        "policies.title42.flight_wait_days", ["is not positive"]),
    "unknown expulsion flight destination": (
        '[policies.title42_flights]\ndestination = "title42_mars"\n',
        "policies.title42_flights.destination", ["unknown destination 'title42_mars'"]),
    # metering at the ports
    "negative metering quota": (
        "[policies.metering_2018.daily_quota]\nel_paso = -5\n",
        "policies.metering_2018.daily_quota.el_paso", ["-5", "is not non-negative"]),
    "metering quota of a fraction of a person": (
        "[policies.metering_2018.daily_quota]\nel_paso = 12.5\n",
        "policies.metering_2018.daily_quota.el_paso", ["expected a whole number", "12.5"]),
    "metering quota at a port instead of a sector": (
        "[policies.metering_2019.daily_quota]\nsan_ysidro = 40\n",
        "policies.metering_2019.daily_quota", ["unknown sector 'san_ysidro'"]),
    "metering policy without a quota": (
        '[policies.metering_new]\nkind = "metering"\nstart = 2019-01-01\nend = 2019-12-31\n',
        "policies.metering_new.daily_quota", ["needs the daily quota of at least one sector"]),
    "metering of nobody": (
        "[policies.metering_2018]\nnationalities = []\n",
        "policies.metering_2018.nationalities", ["needs at least one"]),
    "metering of an unknown demographic": (
        '[policies.metering_2018]\ndemographics = ["teenager"]\n',
        "policies.metering_2018.demographics", ["unknown demographic 'teenager'"]),
    "metering ending after the scenario": (
        "[policies.metering_2019]\nend = 2022-03-31\n",
        "policies.metering_2019.end", ["is outside the run"]),
    "daily chance of leaving a metering list above 1": (
        "[parameters]\nmetering_daily_leave = 1.5\n",
        "parameters.metering_daily_leave", ["1.5", "is not a probability in [0, 1]"]),
    "negative people on the metering lists at the start": (
        "[parameters]\ninitial_metering_waiting = -100\n",
        "parameters.initial_metering_waiting", ["-100", "is not non-negative"]),
    "people on the metering lists as text": (
        '[parameters]\ninitial_metering_waiting = "3,440"\n',
        "parameters.initial_metering_waiting", ["expected a whole number"]),
    "interior enforcement field that does not exist": (
        "[policies.interior_enforcement_2019]\nraids_per_day = 3.0\n",
        "policies.interior_enforcement_2019.raids_per_day", ["unknown field"]),
}


@pytest.mark.parametrize("case", list(HISTORICAL_CASES), ids=list(HISTORICAL_CASES))
def test_bad_counterfactual_of_historical_is_refused(case, tmp_path, refused):
    body, field, what = HISTORICAL_CASES[case]
    path = write(tmp_path, body, base="historical")
    msg = refused(path)
    assert_names(msg, str(path), field, *what)


def test_unknown_base_scenario_is_refused(tmp_path, refused):
    path = write(tmp_path, "", base="no_such_scenario")
    msg = refused(path)
    assert_names(msg, str(path), "base", "unknown scenario 'no_such_scenario'",
                 "no_such_scenario.toml")


def test_base_that_is_not_a_name_is_refused(tmp_path, refused):
    path = write(tmp_path, "base = 5\n", base=None)
    msg = refused(path)
    assert_names(msg, str(path), "base", "expected a scenario name", "5")


def test_unknown_key_in_a_base_file_names_that_file(tmp_path, refused):
    parent = write(tmp_path, 'colour = "red"\n', name="parent.toml")
    child = write(tmp_path, "", name="child.toml", base=str(parent))
    msg = refused(child)
    assert_names(msg, str(parent), "colour", "unknown key")


def test_base_loop_is_refused(tmp_path, refused):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    write(tmp_path, "", name="a.toml", base=str(b))
    write(tmp_path, "", name="b.toml", base=str(a))
    msg = refused(a)
    assert_names(msg, str(a), "base", "loop")


def test_scenario_based_on_itself_is_refused(tmp_path, refused):
    a = tmp_path / "a.toml"
    write(tmp_path, "", name="a.toml", base=str(a))
    msg = refused(a)
    assert_names(msg, str(a), "base", "loop")


def test_base_chain_deeper_than_20_files_is_refused_naming_the_file_run(tmp_path, refused):
    """5,000 files each naming the next as its base: one line, not a RecursionError."""
    for i in range(5000):
        body = f'base = "c{i + 1}.toml"\n' if i < 4999 else ""
        (tmp_path / f"c{i}.toml").write_text(body, encoding="utf-8")
    top = tmp_path / "c0.toml"
    msg = refused(top)
    assert_names(msg, str(top.resolve()), "base", "more than 20 files deep")


def test_base_chain_of_20_files_still_loads(tmp_path):
    for i in range(19):
        (tmp_path / f"c{i}.toml").write_text(f'base = "c{i + 1}.toml"\n', encoding="utf-8")
    (tmp_path / "c19.toml").write_text(BASE, encoding="utf-8")
    assert load_scenario(str(tmp_path / "c0.toml")).sources[0] == str(tmp_path / "c19.toml")


@pytest.mark.parametrize("body, what", [
    ("[" + ".".join(["t"] * 5000) + "]\nx = 1\n", "tables nested more than 10 deep"),
    ("description = " + "[" * 5000 + "]" * 5000 + "\n", "not valid TOML: nested too deep"),
    ("[parameters]\nx = " + "{a = " * 12 + "1" + "}" * 12 + "\n",
     "tables nested more than 10 deep"),
    ('description = "' + "x" * 1_000_001 + '"\n', "larger than 1,000,000 bytes"),
], ids=["tables 5,000 deep", "arrays 5,000 deep", "inline tables 12 deep", "2 MB file"])
def test_deeply_nested_or_huge_scenario_file_is_refused(tmp_path, refused, body, what):
    path = tmp_path / "deep.toml"
    path.write_text(body, encoding="utf-8")
    assert_names(refused(path), str(path), "", what)


def test_description_longer_than_2000_characters_is_refused(tmp_path, refused):
    path = write(tmp_path, 'description = "' + "x" * 2001 + '"\n')
    assert_names(refused(path), str(path), "description", "2,001 characters long",
                 "at most 2,000")
    ok = write(tmp_path, 'description = "' + "x" * 2000 + '"\n', name="ok.toml")
    assert len(load_scenario(str(ok)).description) == 2000


def test_scenario_that_is_not_utf8_or_is_a_folder_is_refused(tmp_path, refused):
    latin = tmp_path / "latin.toml"
    latin.write_bytes('description = "Cañón"\n'.encode("latin-1"))
    assert_names(refused(latin), str(latin), "", "not valid TOML", "utf-8")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(bytes(range(256)))
    assert_names(refused(binary), str(binary), "", "not valid TOML")
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    assert_names(refused(folder), str(folder), "", "no such scenario file")


def test_missing_scenario_file_is_refused(tmp_path, refused):
    path = tmp_path / "nope.toml"
    msg = refused(path)
    assert_names(msg, str(path), "no such scenario file")


def test_the_base_itself_is_good(tmp_path):
    """Each bad case differs from an accepted file only in its one mistake."""
    loaded = load_scenario(str(write(tmp_path, "")))
    assert {p.id for p in loaded.policies} == {"t42", "flights", "charter", "mpp", "interior",
                                               "refuses"}
    path = write(tmp_path, "[parameters.apprehension_prob]\ntucson = 0.9\n"
                           "[policies.t42]\nexception_share = 0.1\n", name="good.toml")
    loaded = load_scenario(str(path))
    assert loaded.parameters["apprehension_prob"]["tucson"] == 0.9
    assert loaded.parameters["apprehension_prob"]["el_paso"] == 0.75  # default kept
    assert [p for p in loaded.policies if p.id == "t42"][0].exception_share == 0.1


def test_disabling_an_existing_policy_still_works(tmp_path):
    path = write(tmp_path, "[policies.t42]\nenabled = false\n")
    assert "t42" not in [p.id for p in load_scenario(str(path)).policies]


# --- --set mistakes on our BASE: (override, key named, what is wrong) -------------------

SET_CASES = {
    "no equals sign": ("detention_beds", "detention_beds", ["expected key=value"]),
    "unknown parameter": ("detention_bedz=5", "detention_bedz", ["unknown parameter 'detention_bedz'"]),
    "unknown policy id": ("policies.t24.end=2020-06-30", "policies.t24.end",
                          ["unknown policy id 't24'", "t42"]),
    "unknown policy field": ("policies.t42.ends=2020-06-30", "policies.t42.ends",
                             ["unknown field for a title42 policy", "end"]),
    "policy key without a field": ("policies.t42=off", "policies.t42",
                                   ["expected policies.ID.FIELD=value"]),
    "text for a whole number": ("detention_beds=lots", "detention_beds",
                                ["expected a whole number", "'lots'"]),
    "fraction for a whole number": ("detention_beds=1.5", "detention_beds",
                                    ["expected a whole number", "'1.5'"]),
    "text for a number": ("apprehension_prob.tucson=high", "apprehension_prob.tucson",
                          ["expected a number", "'high'"]),
    "bad date": ("policies.t42.end=2020-13-01", "policies.t42.end",
                 ["expected a date", "'2020-13-01'"]),
    "bad run date": ("end=June", "end", ["expected a date", "'June'"]),
    "yes for true/false": ("policies.mpp.vaccination_offered=yes",
                           "policies.mpp.vaccination_offered", ["expected true/false", "'yes'"]),
    "number for a table": ("apprehension_prob=0.5", "apprehension_prob", ["expected a table"]),
    "probability out of range": ("apprehension_prob.tucson=1.5", "apprehension_prob.tucson",
                                 ["1.5", "is not a probability in [0, 1]"]),
    "policy probability out of range": ("policies.t42.exception_share=-0.1",
                                        "policies.t42.exception_share",
                                        ["-0.1", "is not a probability in [0, 1]"]),
    "negative count": ("detention_beds=-5", "detention_beds", ["-5", "is not non-negative"]),
    "negative seats": ("policies.flights.seats=-1", "policies.flights.seats",
                       ["-1", "is not non-negative"]),
    "infinite number": ("custody_days=inf", "custody_days", ["finite number"]),
    "unknown sector": ("apprehension_prob.nowhere=0.5", "apprehension_prob.nowhere",
                       ["unknown sector 'nowhere'"]),
    "key inside a number": ("detention_beds.total=5", "detention_beds.total",
                            ["detention_beds is not a table"]),
    "key inside a table's number": ("apprehension_prob.tucson.day=0.5",
                                    "apprehension_prob.tucson.day",
                                    ["apprehension_prob.tucson is not a table"]),
    # sizes no scenario needs: refused, not an int64 overflow or a MemoryError in the model
    "count past int64": ("detention_beds=99999999999999999999999", "detention_beds",
                         ["99999999999999999999999", "at most 10,000,000"]),
    "capacity of 20 million": ("holding_capacity.tucson=20000000", "holding_capacity.tucson",
                               ["at most 10,000,000"]),
    "days past a million": ("custody_days=1e300", "custody_days", ["at most 1,000,000"]),
    "a flight every minute": ("policies.flights.per_week=10080", "policies.flights.per_week",
                              ["at most 1,000 flights a week"]),
    "seats in the billions": ("policies.flights.seats=5000000000", "policies.flights.seats",
                              ["at most 10,000,000"]),
    "inline tables 3,000 deep": ("sector_weights=" + "{a=" * 3000 + "1" + "}" * 3000,
                                 "sector_weights", ["expected a table"]),
}


@pytest.mark.parametrize("case", list(SET_CASES), ids=list(SET_CASES))
def test_bad_set_is_refused(case, tmp_path, refused):
    override, key, what = SET_CASES[case]
    msg = refused(base_file(tmp_path), override)
    assert_names(msg, "--set", key, *what)


def test_people_a_day_in_the_billions_are_refused(tmp_path, refused):
    msg = refused(base_file(tmp_path), "departures_per_day.mexico=1e12")
    assert_names(msg, f"{base_file(tmp_path)} (with --set)", "parameters.departures_per_day.mexico",
                 "at most 10,000,000")


def test_bad_set_on_historical_is_refused(refused):
    msg = refused("historical", "apprehension_prob.tucson=1.5")
    assert_names(msg, "--set", "apprehension_prob.tucson", "is not a probability in [0, 1]")
    msg = refused("historical", "policies.no_such_policy.end=2020-06-30")
    assert_names(msg, "--set", "policies.no_such_policy.end", "unknown policy id")
    msg = refused("historical", "policies.metering_2018.daily_quota.el_paso=-1")
    assert_names(msg, "--set", "policies.metering_2018.daily_quota.el_paso",
                 "expected policies.ID.FIELD=value")
    msg = refused("historical", "metering_daily_leave=often")
    assert_names(msg, "--set", "metering_daily_leave", "expected a number", "'often'")


def test_set_moving_a_policy_outside_the_run_names_file_and_field(tmp_path, refused):
    path = base_file(tmp_path)
    msg = refused(path, "policies.t42.end=2021-06-30")
    assert_names(msg, f"{path} (with --set)", "policies.t42.end", f"2021-06-30 is outside the run {RUN}")


def test_set_ending_the_run_before_it_starts(tmp_path, refused):
    path = base_file(tmp_path)
    msg = refused(path, "end=2018-01-01")
    assert_names(msg, f"{path} (with --set)", "end", "2018-01-01 is before start 2019-01-01")


def test_set_on_a_policy_whose_kind_is_unknown(tmp_path, refused):
    path = write(tmp_path, '[policies.t42]\nkind = "title_42"\n')
    msg = refused(path, "policies.t42.start=2020-03-22")
    assert_names(msg, "--set", "policies.t42.start", "unknown policy kind 'title_42'")


def test_good_set_is_applied(tmp_path):
    loaded = load_scenario(str(base_file(tmp_path)), ["apprehension_prob.tucson=0.8",
                                                      "policies.t42.end=2020-06-30"])
    assert loaded.parameters["apprehension_prob"]["tucson"] == 0.8
    assert [p for p in loaded.policies if p.id == "t42"][0].end.isoformat() == "2020-06-30"


# --- The real command line ------------------------------------------------------------

def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", "run", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("body, sets, field, what", [
    ("[parameters.apprehension_prob]\ntucson = 1.5\n", [],
     "parameters.apprehension_prob.tucson", "is not a probability in [0, 1]"),
    ('base = "no_such_scenario"\n', [], "base", "unknown scenario 'no_such_scenario'"),
    ("", ["policies.t42.ends=2020-06-30"],
     "policies.t42.ends", "unknown field for a title42 policy"),
], ids=["probability", "unknown base", "set unknown policy field"])
def test_cli_refuses_bad_scenario(tmp_path, body, sets, field, what):
    base = None if body.startswith("base") else ""
    path = write(tmp_path, body, base=base)
    out = tmp_path / "out"
    set_args = [a for s in sets for a in ("--set", s)]
    result = run_cli(str(path), "--scale", "200", "--out", str(out), *set_args)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    where = "--set" if sets else str(path)
    assert_names(lines[0], where, field, what)
    assert result.stdout == ""
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("flag, value, what", [
    ("--scale", "0", "must be >= 1"),
    ("--scale", "abc", "must be a whole number"),
    ("--seed", "-1", "must be >= 0"),
])
def test_cli_refuses_bad_flags(tmp_path, flag, value, what):
    out = tmp_path / "out"
    result = run_cli("historical", flag, value, "--out", str(out))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert f"{flag} {what}" in result.stderr, result.stderr
    assert repr(value) in result.stderr or value in result.stderr
    assert not out.exists()


COUNTERFACTUAL = ('base = "historical"\ndescription = "fewer beds"\n'
                  "[parameters]\ndetention_beds = 30000\n")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A tiny valid counterfactual run, written by the real CLI."""
    folder = tmp_path_factory.mktemp("finished")
    scenario = folder / "fewer_beds.toml"
    scenario.write_text(COUNTERFACTUAL, encoding="utf-8")
    out = folder / "out"
    result = run_cli(str(scenario), "--scale", "500", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert (out / "run.json").is_file()
    return scenario, out


def test_out_folder_of_a_different_run_is_refused(finished_run):
    scenario, out = finished_run
    before = tree_bytes(out)
    result = run_cli(str(scenario), "--scale", "500", "--seed", "1", "--out", str(out))
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert_names(lines[0], f"--out {out}", "", "different run")
    assert tree_bytes(out) == before  # same files, same bytes, nothing added


def test_different_run_is_refused_before_the_model_is_built(finished_run, tmp_path, monkeypatch,
                                                             capsys):
    scenario, out = finished_run
    before = tree_bytes(out)
    monkeypatch.setattr(cli, "simulate", lambda *a, **k: pytest.fail("model was built"))
    code = cli.main(["run", "historical", "--scale", "500", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert_names(err.strip(), f"--out {out}", "", "different run")
    assert tree_bytes(out) == before


def test_non_empty_folder_without_a_run_is_refused(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    monkeypatch.setattr(cli, "simulate", lambda *a, **k: pytest.fail("model was built"))
    code = cli.main(["run", "historical", "--scale", "500", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert_names(err.strip(), f"--out {out}", "", "not empty")
    assert tree_bytes(out) == {"notes.txt": b"mine"}


def test_out_that_is_a_file_is_refused(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.write_text("mine")
    monkeypatch.setattr(cli, "simulate", lambda *a, **k: pytest.fail("model was built"))
    code = cli.main(["run", "historical", "--scale", "500", "--out", str(out)])
    assert code == 2
    assert_names(capsys.readouterr().err.strip(), f"--out {out}", "", "not a folder")
    assert out.read_text() == "mine"


def test_same_run_may_rerun_into_its_folder(finished_run, tmp_path):
    scenario, out = finished_run
    again = tmp_path / "again"
    shutil.copytree(out, again)
    result = run_cli(str(scenario), "--scale", "500", "--out", str(again))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert sorted(tree_bytes(again)) == sorted(tree_bytes(out))


def test_relative_base_resolves_from_the_naming_files_folder(tmp_path, monkeypatch):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "mine.toml").write_text('base = "historical"\n[parameters]\ndetention_beds = 30000\n')
    (sub / "child.toml").write_text('base = "mine.toml"\n')
    monkeypatch.chdir(tmp_path)  # not the folder the files are in
    loaded = load_scenario(str(sub / "child.toml"))
    assert loaded.parameters["detention_beds"] == 30000


def test_cli_refuses_a_count_past_int64_in_one_line_writing_nothing(tmp_path):
    """Issue 16: this crashed in metering.seed_lists with a traceback."""
    out = tmp_path / "out"
    result = run_cli("historical", "--scale", "400", "--set", "end=2019-01-31", "--set",
                     "detention_beds=99999999999999999999999", "--out", str(out))
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "error: --set detention_beds: 99999999999999999999999 is not non-negative (>= 0) and "
        "at most 10,000,000"]
    assert not out.exists()


def test_cli_refuses_a_scenario_too_large_for_memory_at_its_scale(tmp_path):
    out = tmp_path / "out"
    result = run_cli("historical", "--set", "departures_per_day.mexico=9000000", "--out",
                     str(out))
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: scale: at scale 1 this scenario would make about "), line
    assert "at most 100,000,000" in line and "use --scale " in line
    assert not out.exists()


def test_set_push_month_typo_is_blamed_on_the_flag():
    with pytest.raises(ScenarioError, match=r"^--set push\.mexico\.2019-13: month must be YYYY-MM"):
        load_scenario("historical", ["push.mexico.2019-13=1.0"])


# --- compare: its default report folder ------------------------------------------------

def test_compare_from_a_sweep_with_three_varied_keys_gets_a_short_safe_folder(
        tmp_path, monkeypatch, capsys):
    """Issue 16: with three varied keys the default folder name (the selections joined,
    full of `:`, `,` and `=`) was too long to create; now a slug and a hash, < 100 chars."""
    from experiments import load_spec, runner

    spec = tmp_path / "three.toml"
    spec.write_text('scenarios = ["historical"]\nseeds = 2\nscale = 300\nstart = 2019-01-01\n'
                    'end = 2019-03-31\n[vary]\n"apprehension_prob.tucson" = [0.6, 0.75, 0.9]\n'
                    '"detention_beds" = [30000]\n"retry_days.title42" = [3.0]\n',
                    encoding="utf-8")
    report = runner.run_sweep(load_spec(spec), tmp_path / "sweep", workers=1, processes=False,
                              progress=False)
    assert not report.failed and len(report.finished) == 6
    rest = "detention_beds=30000,retry_days.title42=3.0"
    picks = [f"historical:apprehension_prob.tucson={v},{rest}" for v in ("0.6", "0.75", "0.9")]
    assert len("compare-" + "-".join(picks)) > 255  # the old name: more than a file name holds
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compare", *picks, "--from", str(tmp_path / "sweep")]) == 0, \
        capsys.readouterr().err
    (folder,) = (tmp_path / "runs").iterdir()
    assert len(folder.name) < 100 and re.fullmatch(r"[A-Za-z0-9_.-]+", folder.name), folder.name
    assert folder.name.startswith("compare-historical_apprehension_prob.tucson_0.6_detention")
    assert (folder / "report.html").is_file()


@pytest.mark.parametrize("labels", [
    ["historical", "title42_off"],
    ["a:" + ",".join(f"key{i}=value{i}" for i in range(40)), "b:x=1"],
    ["/tmp/one/x.toml", "/tmp/two/x.toml"],
    ["..", "..."],
])
def test_compare_default_folder_names_are_short_safe_and_distinct(labels):
    from experiments.compare import default_out_dir

    name = default_out_dir(labels).name
    assert default_out_dir(labels).parent == Path("runs")
    assert len(name) < 100 and re.fullmatch(r"compare-[A-Za-z0-9_][A-Za-z0-9_.-]*", name), name
    assert default_out_dir(labels[::-1]) != default_out_dir(labels)
    if labels == ["historical", "title42_off"]:  # a plain pair keeps its plain name
        assert name == "compare-historical-title42_off"


def test_compare_out_name_too_long_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = "x" * 300
    code = cli.main(["compare", "historical", "title42_off", "--seeds", "2", "--scale", "300",
                     "--end", "2019-01-31", "--out", out])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [f"error: --out {out}: File name too long"]
    assert list(tmp_path.iterdir()) == []
