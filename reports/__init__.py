"""What a person sees of one run, beside its data files: the report page `run.py run`
writes (`run_report`) and the terminal's feedback while it runs (`progress`).

Built on `model.simulate`'s `RunResult`; called by run.py's `run` verb. Nothing here
changes a run or its monthly.csv, daily.parquet and flights.csv.
"""
