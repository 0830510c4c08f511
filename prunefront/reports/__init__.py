"""Reports on a finished study: compute the records, then render them; select and card.

``study -> trials frame -> records`` (``ParetoInfo``, ``IsoTable``, ``HypervolumeInfo``, failures,
provenance, search cost, gathered in ``ReportData``) is plain data that tests assert on;
``write_report`` renders it as an offline HTML page, PNG/SVG figures, CSV and JSON.
``select_trial`` applies deployment requirements and ``deployment_card`` describes the choice.
"""

from __future__ import annotations

from prunefront.reports._card import card_markdown, deployment_card, reproduce_command, write_card
from prunefront.reports._frame import LARGE_SPARSE, SMALL_DENSE, StudyMeta, study_meta, trials_frame
from prunefront.reports._hypervolume import HypervolumeInfo, hypervolume_history
from prunefront.reports._iso import IsoCandidate, IsoRow, IsoSide, IsoTable, iso_footprint_table
from prunefront.reports._json import dumps
from prunefront.reports._pareto import PAIRWISE_AXES, ParetoInfo, pareto_info, pareto_mask
from prunefront.reports._select import select_trial
from prunefront.reports._selection import PREFERENCES, Binding, Requirements, Selection
from prunefront.reports._summary import (
    Failure,
    Provenance,
    ReportData,
    SearchCost,
    build_report,
    report_data,
)
from prunefront.reports._verdict import Verdict, verdict
from prunefront.reports._views import ScatterView, scatter_views
from prunefront.reports._write import ReportFiles, check_out_dir, write_report
from prunefront.studies import JOURNAL_NAME, mask_url, open_storage, open_study

__all__ = [
    "JOURNAL_NAME",
    "LARGE_SPARSE",
    "PAIRWISE_AXES",
    "PREFERENCES",
    "SMALL_DENSE",
    "Binding",
    "Failure",
    "HypervolumeInfo",
    "IsoCandidate",
    "IsoRow",
    "IsoSide",
    "IsoTable",
    "ParetoInfo",
    "Provenance",
    "ReportData",
    "ReportFiles",
    "Requirements",
    "ScatterView",
    "SearchCost",
    "Selection",
    "StudyMeta",
    "Verdict",
    "build_report",
    "card_markdown",
    "check_out_dir",
    "deployment_card",
    "dumps",
    "hypervolume_history",
    "iso_footprint_table",
    "mask_url",
    "open_storage",
    "open_study",
    "pareto_info",
    "pareto_mask",
    "report_data",
    "reproduce_command",
    "scatter_views",
    "select_trial",
    "study_meta",
    "trials_frame",
    "verdict",
    "write_card",
    "write_report",
]
