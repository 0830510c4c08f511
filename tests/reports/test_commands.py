"""``report`` and ``select`` from the command line: files, JSON, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import optuna
import pytest
import typer
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from prunefront.commands import report, select
from prunefront.errors import PrunefrontError
from prunefront.reports import mask_url

XSS = "<script>alert(1)</script>"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the commands as ``prunefront.cli.main`` does: PrunefrontError -> one line, exit 2."""
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    app.command("report")(report)
    app.command("select")(select)
    try:
        app(args=args, prog_name="prunefront")
    except SystemExit as exit_info:
        code = exit_info.code if isinstance(exit_info.code, int) else 1
    except PrunefrontError as error:
        out, err = capsys.readouterr()
        return 2, out, err + f"error: {error}"
    else:
        code = 0
    out, err = capsys.readouterr()
    return code, out, err


def test_report_writes_every_file(written_report: Path) -> None:
    out = written_report
    files = set(json.loads((out / "summary.json").read_text())["files"])
    assert {"report.html", "trials.csv", "pareto.csv", "summary.json"} <= files
    for stem in (
        "front_latency_ms",
        "front_energy_mj",  # energy was measured
        "front_footprint_bytes",
        "paper_footprint_bytes",
        "paper_params_nonzero",
        "hypervolume",
        "states",
    ):
        assert {f"figures/{stem}.png", f"figures/{stem}.svg"} <= files
    for name in files:
        assert (out / name).stat().st_size > 0
    assert (out / "figures" / "states.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "figures" / "states.svg").read_text().lstrip().startswith("<?xml")
    trials = (out / "trials.csv").read_text().splitlines()
    assert len(trials) == 11 and trials[0].startswith("number,state,")
    pareto = (out / "pareto.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in pareto[1:]] == ["3", "2", "4", "5"]
    assert json.loads((out / "summary.json").read_text())["states"]["FAIL"] == 1


def test_report_html_is_offline_and_escapes_user_text(written_report: Path) -> None:
    import plotly.offline

    page = (written_report / "report.html").read_text()
    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text
    assert "ValueError in layer &lt;script&gt;" in page  # the failure reason, escaped
    bundle = plotly.offline.get_plotlyjs()
    assert bundle in page  # plotly.js inline
    rest = page.replace(bundle, "")
    assert "http://" not in rest and "https://" not in rest  # nothing to fetch
    assert rest.count('class="figure"') == 7


def _fake_old_report(out: Path) -> None:
    out.mkdir()
    (out / "report.html").write_text("old")
    (out / "summary.json").write_text("{}")
    (out / "stale.txt").write_text("from last time")


def test_report_replaces_an_earlier_report_and_prints_one_json_document(
    journal_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rep"
    _fake_old_report(out)
    code, stdout, err = run(
        ["report", "--run", str(journal_run), "--out", str(out), "--json"], capsys
    )
    assert code == 0, err
    document = json.loads(stdout)
    assert document["summary"]["pareto"]["front"] == [3, 2, 4, 5]
    assert document["out"] == str(out) and "report.html" in document["files"]
    assert not (out / "stale.txt").exists() and (out / "report.html").stat().st_size > 10**6
    # no temporary folder left next to it, nothing written into the run folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep", "run"]
    assert sorted(p.name for p in journal_run.iterdir()) == ["study.journal"]


def test_report_refuses_an_unrelated_folder(
    journal_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("precious")
    code, _, err = run(["report", "--run", str(journal_run), "--out", str(mine)], capsys)
    assert code == 2 and "not a prunefront report folder" in err
    assert (mine / "chapter1.tex").read_text() == "precious"


def test_a_failure_while_writing_leaves_the_old_report_intact(
    journal_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "rep"
    _fake_old_report(out)

    def broken(*args: object, **kwargs: object) -> list[Path]:
        raise RuntimeError("disk full")

    monkeypatch.setattr("prunefront.reports._write.write_static_figures", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run(["report", "--run", str(journal_run), "--out", str(out)], capsys)
    assert (out / "stale.txt").read_text() == "from last time"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep", "run"]


def test_unknown_study_lists_the_studies_and_writes_nothing(
    journal_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rep"
    code, _, err = run(
        ["report", "--run", str(journal_run), "--study", "nigth", "--out", str(out)], capsys
    )
    assert code == 2
    assert "--study 'nigth' not found" in err and "studies there: 'night'" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run", "/nonexistent/run"], "--run: /nonexistent/run is not a directory"),
        (["--storage", "sqlite:////nonexistent/x.db"], "does not exist"),
        ([], "give exactly one of --storage URL and --run DIR"),
    ],
)
def test_bad_storage_is_a_one_line_error(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["report", *args, "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and message in err
    assert len(err.strip().splitlines()) == 1


def test_run_folder_without_journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["select", "--run", str(tmp_path)], capsys)
    assert code == 2 and "no study journal" in err
    assert list(tmp_path.iterdir()) == []  # reading never creates a journal


def test_storage_passwords_never_appear_in_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql://alice:s3cr3t@127.0.0.1:1/optuna"
    code, out, err = run(["report", "--storage", url, "--out", str(tmp_path / "r")], capsys)
    assert code == 2
    assert "s3cr3t" not in out + err and "alice:***@127.0.0.1" in err


def test_mask_url_hides_userinfo_and_query_passwords() -> None:
    assert mask_url("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert mask_url("mysql://h/db?user=u&password=pw") == "mysql://h/db?user=u&password=***"
    assert mask_url("sqlite:///tmp/x.db") == "sqlite:///tmp/x.db"


def test_unusable_out_dir_is_a_one_line_error_and_nothing_is_written(
    journal_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # /proc refuses new directories even to root (for whom permission bits mean nothing)
    code, _, err = run(["report", "--run", str(journal_run), "--out", "/proc/pf-none/r"], capsys)
    assert code == 2 and "--out /proc/pf-none/r: cannot write there" in err
    (tmp_path / "file").write_text("x")
    code, _, err = run(
        ["report", "--run", str(journal_run), "--out", str(tmp_path / "file")], capsys
    )
    assert code == 2 and "is a file, not a directory" in err
    code, _, err = run(["select", "--run", str(journal_run), "--out", "/proc/pf-none"], capsys)
    assert code == 2 and "cannot create the directory" in err


def test_report_of_a_study_without_complete_trials_says_so(
    studies: type, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from optuna.trial import TrialState

    journal = tmp_path / "j.journal"
    spec = studies.spec(
        width=1.0,
        sparsity=0.5,
        metric=0.0,
        latency_ms=0.0,
        footprint_bytes=1,
        state=TrialState.FAIL,
        fail_reason="segfault",
    )
    studies.make([spec], name="empty", storage=JournalStorage(JournalFileBackend(str(journal))))
    code, _, err = run(["report", "--storage", str(journal), "--out", str(tmp_path / "r")], capsys)
    assert code == 0
    assert "no complete trial yet (1 fail)" in err
    assert "segfault" in (tmp_path / "r" / "report.html").read_text()
    code, _, err = run(["select", "--storage", str(journal)], capsys)
    assert code == 2 and "no complete feasible trial" in err


def test_select_writes_a_deployment_card(
    journal_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ship"
    code, stdout, err = run(
        [
            "select",
            "--run",
            str(journal_run),
            "--min-metric",
            "0.8",
            "--max-latency-ms",
            "1.6",
            "--out",
            str(out),
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    document = json.loads(stdout)
    assert document["chosen"] == 2
    assert document["card"]["reproduce"].startswith("prunefront train --task mnist1d-cnn")
    assert json.loads((out / "deployment.json").read_text())["trial"] == 2
    assert "## Reproduce" in (out / "deployment.md").read_text()


def test_select_with_no_answer_exits_1_and_names_the_binding_constraint(
    journal_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, _ = run(["select", "--run", str(journal_run), "--max-bytes", "1000"], capsys)
    assert code == 1
    assert "Binding: footprint_bytes <= 1000 excludes 7 of the 7" in stdout
    code, stdout, _ = run(
        ["select", "--run", str(journal_run), "--max-bytes", "1000", "--json"], capsys
    )
    assert code == 1
    document = json.loads(stdout)
    assert document["chosen"] is None
    assert document["selection"]["binding"]["closest_trial"] == 5


def test_select_bad_prefer_is_exit_2(journal_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["select", "--run", str(journal_run), "--prefer", "cheap"], capsys)
    assert code == 2 and "--prefer must be one of" in err


def test_sqlite_and_journal_prefix_storages_are_read(
    studies: type, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    studies.make(studies.paper_specs(), name="sq", storage=f"sqlite:///{db}")
    code, stdout, err = run(["select", "--storage", f"sqlite:///{db}", "--json"], capsys)
    assert code == 0, err
    assert json.loads(stdout)["chosen"] == 3
    journal = tmp_path / "j.journal"
    studies.make(
        studies.paper_specs(), name="jn", storage=JournalStorage(JournalFileBackend(str(journal)))
    )
    code, stdout, err = run(["select", "--storage", f"journal:{journal}", "--json"], capsys)
    assert code == 0, err
    assert json.loads(stdout)["card"]["source"] == f"journal:{journal}"


def test_study_is_optional_when_the_storage_holds_one(
    journal_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, _ = run(["select", "--run", str(journal_run), "--json"], capsys)
    assert code == 0 and json.loads(stdout)["study"] == "night"
    storage = JournalStorage(JournalFileBackend(str(journal_run / "study.journal")))
    optuna.create_study(study_name="second", storage=storage)
    code, _, err = run(["select", "--run", str(journal_run)], capsys)
    assert code == 2 and "--study is required" in err and "'second'" in err


def test_report_leads_with_the_verdict_on_stdout_and_in_the_page(
    journal_run: Path, written_report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, err = run(
        ["report", "--run", str(journal_run), "--out", str(tmp_path / "rep")], capsys
    )
    assert code == 0, err
    lines = stdout.splitlines()
    verdict = lines[lines.index("verdict:") + 1 :]
    assert verdict[0].strip().startswith("At 20,000 B (width 0.5 dense")
    # One seed per side in this study: no interval, so no metric winner is named.
    assert "accuracy: undecided — raise search.pair_seeds" in verdict[0]
    page = (written_report / "report.html").read_text()
    assert page.index('id="verdict"') < page.index('id="summary"') < page.index('id="iso"')
    assert "footprint budget" in page and "60,000 B" in page


def test_the_deployment_card_shows_user_strings_as_text_not_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.reports.conftest import make_study, paper_specs

    journal = tmp_path / "study.journal"
    specs = paper_specs()
    study = make_study(specs, name=XSS, storage=JournalStorage(JournalFileBackend(str(journal))))
    study.set_user_attr(
        "metric", {"name": '<img src=x onerror="alert(1)">', "direction": "maximize"}
    )
    out = tmp_path / "ship"
    code, _, err = run(["select", "--storage", str(journal), "--out", str(out)], capsys)
    assert code == 0, err
    card = (out / "deployment.md").read_text()
    assert "<script>" not in card and "<img" not in card
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card  # shown, as text


def test_a_report_removes_the_staging_folders_of_killed_reports_only(
    journal_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rep"
    dead = 2**22 + 12345  # above the default pid_max: no such process
    killed = [tmp_path / f".rep.tmp-{dead}-abc", tmp_path / f".rep.old-{dead}-def"]
    old_style = tmp_path / ".rep.tmp-k2j3h4"  # an older version's name, no pid
    live = tmp_path / f".rep.tmp-{os.getpid()}-ghi"  # a report being written right now
    for folder in [*killed, old_style, live]:
        folder.mkdir()
        (folder / "summary.json").write_text("{}")
    os.utime(old_style, (0, 0))  # from long ago
    code, _, err = run(["report", "--run", str(journal_run), "--out", str(out)], capsys)
    assert code == 0, err
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".rep."))
    assert left == [live.name]
