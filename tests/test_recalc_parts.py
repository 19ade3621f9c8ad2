"""The pure parts of the recalculation, tested alone: dependency ordering, formula-text scanning,
value conversion, and the evaluation context the engine functions share."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from encaisse.excel.args import receivables_arg, table_arg
from encaisse.excel.context import EvaluationContext
from encaisse.recalc import graph, scan, values
from encaisse.recalc.cells import CellProblem, Rect
from encaisse.tables import INVOICES, PAYMENTS
from encaisse.workbook.splice import ErrorValue

# -- ordering -------------------------------------------------------------------------------------


def test_order_puts_each_cell_after_what_it_reads_and_prefers_the_smallest_priority():
    deps = {"c": {"a", "b"}, "a": set(), "b": set(), "d": set()}
    assert graph.order(deps) == ["a", "b", "c", "d"]
    # d and b are ready with a at the start: the priority picks among them
    assert graph.order(deps, priority=lambda k: {"d": 0, "b": 1, "a": 2, "c": 3}[k]) == ["d", "b", "a", "c"]


def test_order_reports_a_cycle_from_its_first_cell_by_position():
    deps = {"x": {"y"}, "y": {"z"}, "z": {"x"}}
    with pytest.raises(graph.Cycle) as found:
        graph.order(deps, position=lambda k: {"x": 2, "y": 0, "z": 1}[k])
    cycle = found.value.cells
    assert cycle[0] == cycle[-1] == "y" and sorted(cycle[:-1]) == ["x", "y", "z"]
    assert cycle == ["y", "x", "z", "y"]  # each cell is read by the next: x reads y, z reads x, y reads z


def test_edges_link_a_cell_to_the_cells_its_ranges_meet():
    refs = {
        ("S", 1, 1): [Rect("S", 2, 1, 10, 1)],  # A1 reads A2:A10
        ("S", 5, 1): [Rect("T", 1, 1, 1, 1)],  # A5 reads T!A1 (not a formula)
        ("T", 1, 2): [Rect("S", 5, 1, 5, 1)],  # T!B1 reads S!A5
    }
    extents = {key: Rect(key[0], key[1], key[2], key[1], key[2]) for key in refs}
    deps = graph.edges(refs, extents)
    assert deps == {("S", 1, 1): {("S", 5, 1)}, ("S", 5, 1): set(), ("T", 1, 2): {("S", 5, 1)}}


def test_added_edges_never_close_a_cycle():
    refs = {"a": [], "b": []}
    deps = graph.edges(refs, {}, add={"a": {"b"}, "b": {"a"}})
    assert deps == {"a": {"b"}, "b": set()}  # a -> b taken first (sorted), b -> a would close a cycle
    assert graph.reaches(deps, "a", "b") and not graph.reaches(deps, "b", "a")


def test_misordered_finds_a_cell_placed_before_its_input():
    deps = {"a": set(), "b": {"a"}}
    assert not graph.misordered(["a", "b"], deps)
    assert graph.misordered(["b", "a"], deps)


# -- formula text ---------------------------------------------------------------------------------


def test_normalise_removes_excel_prefixes_and_the_last_row_outside_strings():
    text = '_xlfn.IFS(A1>0,"_xlfn.x $G$1048576",TRUE,SUM($G$5:$G$1048576))'
    assert scan.normalise(text) == 'IFS(A1>0,"_xlfn.x $G$1048576",TRUE,SUM($G$5:$G$1048575))'


def test_find_calls_gives_the_outermost_calls_and_their_arguments():
    text = 'ROUND(DSO(Factures[#All];Règlements[#All];DateArrete),1)&"DSO(x)"'
    calls = scan.find_calls(text, {"DSO"})
    assert calls == [(6, 53, "DSO", ["Factures[#All]", "Règlements[#All]", "DateArrete"])]
    assert text[6:53] == "DSO(Factures[#All];Règlements[#All];DateArrete)"
    assert scan.find_calls('AGING(T[[#All],[A,B]],{1,2},"a,b")', {"AGING"})[0][3] == ["T[[#All],[A,B]]", "{1,2}", '"a,b"']
    assert scan.find_calls("DSO()", {"DSO"})[0][3] == []


def test_called_functions_skip_strings_and_sheet_names():
    assert scan.called_functions("IF(SUM('X(1)'!A1:A3)>0,\"NOW()\",TODAY())") == ["IF", "SUM", "TODAY"]


def test_an_unclosed_parenthesis_is_a_cell_problem():
    with pytest.raises(CellProblem, match="parenthèse non fermée"):
        scan.find_calls("DSO(A1", {"DSO"})


def test_sheet_and_range_of_a_defined_name():
    from encaisse.workbook.package import DefinedName

    assert DefinedName("X", "'L''été 2026'!$B$2", None).range() == ("L'été 2026", 2, 2, 2, 2)
    assert DefinedName("X", "'A b'!$A$1:$C$10", None).range() == ("A b", 1, 1, 3, 10)
    assert DefinedName("X", "Paramètres!$B$2*2", None).range() is None
    assert DefinedName("X", "0,5", None).range() is None


def test_mentions_find_tables_whole_tables_and_names():
    mentions = scan.Mentions(["Factures", "Clients"], ["DATEARRETE"])
    text = "DSO(Factures[#All],factures [Montant TTC],DateArrete)+COUNTA(Clients[Code])"
    assert mentions.tables(text) == ["FACTURES", "FACTURES", "CLIENTS"]
    assert mentions.whole_tables(text) == ["FACTURES"]
    assert mentions.whole_tables("Factures[#All]") == []  # not passed to a function
    assert mentions.names(text) == ["DateArrete"]
    assert scan.Mentions([], []).tables(text) == []


# -- values ---------------------------------------------------------------------------------------


def test_serials_count_days_from_1899_12_30():
    assert values.to_serial(dt.date(1900, 3, 1)) == 61.0
    assert values.to_serial(dt.date(2024, 1, 1)) == 45292.0
    assert values.to_serial(dt.datetime(2024, 1, 1, 18)) == 45292.75


def test_columns_for_the_library_convert_numbers_dates_and_blanks_at_once():
    empty = values.empty_token()
    numbers = values.xl_column(np.array([1, "", 2.5], dtype=object))
    assert list(numbers) == [1.0, empty, 2.5] and numbers[1] is empty and type(numbers[0]) is float
    dates = values.xl_column(np.array([dt.datetime(2024, 1, 1, 6), dt.date(1900, 3, 1), ""], dtype=object))
    assert list(dates[:2]) == [45292.25, 61.0] and dates[2] is empty
    mixed = values.xl_column(np.array(["a", 3, dt.date(2024, 1, 1), dt.timedelta(hours=12), None], dtype=object))
    assert list(mixed[:4]) == ["a", 3, 45292.0, 0.5] and mixed[4] is empty


def test_block_pads_beyond_the_cells_read():
    grid = np.array([[1, 2], [3, 4]], dtype=object)
    part = values.block(grid, Rect("S", 2, 2, 3, 3))
    assert part.tolist() == [[4, ""], ["", ""]]
    part[0, 0] = 9
    assert grid[1, 1] == 4  # a copy
    assert values.xl_block(grid[1:, 1:], (2, 2))[0, 0] == 4.0


def test_values_as_stored_in_the_file():
    empty = values.empty_token()
    assert values.to_file(1.5) == 1.5
    assert values.to_file(np.int64(3)) == 3.0 and type(values.to_file(np.int64(3))) is float
    assert values.to_file(True) is True
    assert values.to_file(empty) == 0.0 and values.to_file(None) == 0.0
    assert values.to_file(ErrorValue("#N/A")) == ErrorValue("#N/A")
    assert values.to_file("#N/A") == "#N/A" and type(values.to_file("#N/A")) is str  # a text, as =VALUETOTEXT(#N/A)
    from formulas.functions import Error

    assert values.to_file(Error.errors["#N/A"]) == ErrorValue("#N/A")
    assert values.to_file("texte") == "texte"
    assert values.from_xl(empty, "") == "" and values.from_xl(np.float64(2.0), "") == 2.0


def test_shapes_of_results():
    assert values.as_2d(5).shape == (1, 1)
    assert values.as_2d(np.array([1, 2, 3])).shape == (1, 3)
    fitted = values.fit(np.array([[1], [2]], dtype=object), 3, 2)
    assert fitted.tolist() == [[1, 1], [2, 2], [ErrorValue("#N/A"), ErrorValue("#N/A")]]


def test_engine_results_become_excel_values():
    assert values.engine_result("DSO", 42.5) == 42.5
    assert values.engine_result("DSO", "#DIV/0! aucune vente") == "#DIV/0! aucune vente"
    with pytest.raises(CellProblem, match="DSO : #VALEUR! jours vide"):
        values.engine_result("DSO", "#VALEUR! jours vide")
    grid = values.engine_result("AGING", [["Code", "Date", "Total"], ["C1", pd.Timestamp("2024-01-01"), None]])
    assert grid.tolist() == [["Code", "Date", "Total"], ["C1", 45292.0, ""]]


# -- the evaluation context -----------------------------------------------------------------------


def _invoices_range() -> pd.DataFrame:
    return pd.DataFrame([["F1", "C1", dt.datetime(2026, 9, 1), dt.datetime(2026, 10, 1), 100.0, ""]],
                        columns=["N° facture", "Code client", "Date facture", "Échéance", "Montant TTC", "Litige"], dtype=object)


def test_a_context_converts_a_range_once_for_every_call():
    factures, reglements = _invoices_range(), pd.DataFrame(columns=["Date", "Code client", "N° facture", "Montant"], dtype=object)
    context = EvaluationContext()
    first = table_arg(factures, INVOICES, context=context)
    assert table_arg(factures, INVOICES, context=context) is first
    assert first["amount"].tolist() == [100.0]
    without = table_arg(factures, INVOICES)
    assert without is not first and without.equals(first)
    payments = table_arg(reglements, PAYMENTS, optional=True, context=context)
    as_of = dt.date(2026, 10, 31)
    allocated = receivables_arg(factures, reglements, first, payments, as_of, None, context)
    assert receivables_arg(factures, reglements, first, payments, as_of, None, context) is allocated
    assert receivables_arg(factures, reglements, first, payments, dt.date(2026, 11, 30), None, context) is not allocated
    assert receivables_arg(factures, reglements, first, payments, as_of, None) is None  # no context: the KPI allocates


def test_without_a_context_the_functions_give_the_same_figures():
    from encaisse.excel import FUNCTIONS

    factures = [["N° facture", "Code client", "Date facture", "Échéance", "Montant TTC"],
                ["F1", "C1", dt.datetime(2026, 9, 1), dt.datetime(2026, 10, 1), 100.0]]
    reglements = [["Date", "Code client", "N° facture", "Montant"], [dt.datetime(2026, 10, 11), "C1", "F1", 40.0]]
    frame = pd.DataFrame(factures[1:], columns=factures[0], dtype=object)
    payments = pd.DataFrame(reglements[1:], columns=reglements[0], dtype=object)
    context = EvaluationContext()
    alone = FUNCTIONS["DSO"](factures, reglements, dt.date(2026, 10, 31))
    shared = FUNCTIONS["DSO"](frame, payments, dt.date(2026, 10, 31), context=context)
    again = FUNCTIONS["DSO"](frame, payments, dt.date(2026, 10, 31), context=context)
    # 60 € still open on 31 October: no sales in October (31 days), then 60 of September's 100 € (× 30 days)
    assert alone == shared == again == 31 + 60 / 100 * 30


# -- calculated columns ---------------------------------------------------------------------------

from encaisse.recalc import columns  # noqa: E402
from encaisse.workbook.package import FormulaCell  # noqa: E402


def test_relative_form_is_the_same_down_a_column_and_refuses_what_is_not_element_wise():
    assert columns.relative_form('IF(E2>0,DateArrete-D2,"")', 2, 6) == 'IF(R[0]C[-1]>0,DateArrete-R[0]C[-2],"")'
    assert columns.relative_form('IF(E3>0,DateArrete-D3,"")', 3, 6) == columns.relative_form('IF(E2>0,DateArrete-D2,"")', 2, 6)
    assert columns.relative_form("E2*$B$1", 2, 6) == "R[0]C[-1]*R1C2"
    assert columns.relative_form("SUM(A2:C2)", 2, 6) is None  # an aggregate
    assert columns.relative_form("ROUND(A2:C2,0)", 2, 6) is None  # a range moving with the row
    assert columns.relative_form("F1+E2", 2, 6) is None  # its own column (a running balance)
    assert columns.relative_form('IF(E2>0,"SUM(x)",0)', 2, 6) is not None  # text is not a call


def test_spread_turns_relative_cells_into_the_column_range():
    assert columns.spread('IF(E2>0,DateArrete-$D2,"E2")*$B$1', 100) == 'IF(E2:E101>0,DateArrete-$D2:$D101,"E2")*$B$1'


def test_find_columns_keeps_short_or_mixed_runs_cell_by_cell():
    cells = [FormulaCell("S", f"F{r}", r, 6, f"E{r}*2") for r in range(2, 22)]  # 20 rows
    cells.append(FormulaCell("S", "F22", 22, 6, "E22*3"))
    cells += [FormulaCell("S", f"G{r}", r, 7, f"E{r}+1") for r in range(2, 5)]  # 3 rows: too short
    kept, runs = columns.find_columns(cells)
    assert list(runs) == [("S", 2, 6)]
    anchor = runs[("S", 2, 6)].anchor
    assert (anchor.kind, anchor.array_ref, anchor.text) == ("column", "F2:F21", "E2:E21*2")
    assert len(runs[("S", 2, 6)].cells) == 20
    assert sorted(c.ref for c in kept) == ["F2", "F22", "G2", "G3", "G4"]
