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


def test_a_moved_formula_moves_its_relative_references_as_excel_copies_it():
    from encaisse.workbook.package import MovedFormula

    # Written in C3, read in D5: one column right, two rows down.
    master = MovedFormula("C3", "SUM(A1:$B$2)+'Mon Été'!C3*Taux+A:A+$1:2+\"A1\"&TEXT(B$1,\"0\")")
    assert master.at(5, 4) == "SUM(B3:$B$2)+'Mon Été'!D5*Taux+B:B+$1:4+\"A1\"&TEXT(C$1,\"0\")"
    assert master.at(3, 3) == "SUM(A1:$B$2)+'Mon Été'!C3*Taux+A:A+$1:2+\"A1\"&TEXT(B$1,\"0\")"
    # A reference moved above row 1 or left of column A is #REF!, as Excel writes it; the others move.
    assert MovedFormula("B2", "A1+$A$1+B2").at(2, 1) == "#REF!+$A$1+A2"
    with pytest.raises(ValueError, match="hors de la feuille"):
        MovedFormula("B2", "A1").at(1, 2, off_sheet=None)
    with pytest.raises(ValueError):
        MovedFormula("A1", 'A1&"x')  # a string never closed: openpyxl's tokenizer refuses it


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


# -- formulas walked from their parse ---------------------------------------------------------------


@pytest.mark.parametrize("text, inputs, expected", [
    ("=IF(A1>0,SUM(B1:B3)*2,1/0)", {"A1": [[1.0]], "B1:B3": [[1.0], [2.0], [3.0]]}, [[12.0]]),
    ("=IF(A1>0,SUM(B1:B3)*2,1/0)", {"A1": [[-1.0]], "B1:B3": [[1.0], [2.0], [3.0]]}, [["#DIV/0!"]]),
    ("=B1:B3*Taux+ROUND(2/3,2)", {"B1:B3": [[1.0], [2.0], [3.0]], "TAUX": [[10.0]]}, [[10.67], [20.67], [30.67]]),
    ("=SUM(1,2)&\"€\"", {}, [["3€"]]),
])
def test_a_formula_walked_from_its_parse_computes_what_the_compiled_one_does(text, inputs, expected):
    from encaisse.recalc.evaluator import _formulas, _Recorder, _Walked

    formulas = _formulas()[0]
    from formulas.ranges import Ranges

    compiled = formulas.Parser().ast(text)[1].compile()
    recording = formulas.Parser()
    recording.ast_builder = _Recorder
    walked = _Walked.walk(recording.ast(text)[1], Ranges)
    assert list(walked.inputs) == list(compiled.inputs) == list(inputs)
    values = [Ranges().push(name, np.array(v, dtype=object)) if name != "TAUX" else np.array(v, dtype=object)
              for name, v in inputs.items()]
    for function in (compiled, walked):
        result = function(*values)
        shown = [[round(v, 2) if isinstance(v, float) else str(v) for v in row]
                 for row in np.atleast_2d(np.asarray(result, dtype=object)).tolist()]
        assert shown == expected


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


def test_references_give_the_r1c1_form_and_where_each_a1_reference_points():
    form, found = columns.references("SUM($d$3:E5,Sheet2!$A1,'My B2'!B2)+A:A+LOG10(4)+\"C3\"+XX1", 4, 3)
    assert form == "SUM(R3C4:R[1]C[2],Sheet2!R[-3]C1,'My B2'!R[-2]C[-1])+A:A+LOG10(4)+\"C3\"+R[-3]C[645]"
    assert found == [("D3:E5", (3, 4, 5, 5)), ("A1", (1, 1, 1, 1)), ("B2", (2, 2, 2, 2)), ("XX1", (1, 648, 1, 648))]
    # filled one row down and one column right: the same form, every reference moved but $D$3 and $A
    moved, found = columns.references("SUM($d$3:F6,Sheet2!$A2,'My B2'!C3)+A:A+LOG10(4)+\"C3\"+XY2", 5, 4)
    assert moved == form
    assert found == [("D3:F6", (3, 4, 6, 6)), ("A2", (2, 1, 2, 1)), ("C3", (3, 3, 3, 3)), ("XY2", (2, 649, 2, 649))]


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


# -- calculated columns evaluated with numpy ------------------------------------------------------

from encaisse.recalc.values import empty_token  # noqa: E402


def _column(text: str, data: dict[str, list], names: dict | None = None) -> list:
    """The column `text` (its top cell's formula, in row 2) evaluated down len(E) rows; `data`
    gives the cells of each column from row 2 (None for a blank), `names` single-cell names."""
    n = len(next(iter(data.values())))

    def cells(sheet, ref, rows):
        column, row = ref.replace("$", "")[0], int(ref.replace("$", "")[1:])
        got = [empty_token() if v is None else v for v in data[column][row - 2:row - 2 + rows]]
        return np.array(got, dtype=object)

    def name(text):
        return np.array([names[text]], dtype=object)

    return columns.evaluate(columns.parse(columns.spread(text, n)), 2, n, cells, name)[:, 0].tolist()


def test_a_column_gives_excel_s_values_for_blanks_texts_and_errors():
    e = [5.0, 0.0, None, "x", ErrorValue("#N/A"), True]
    assert _column('IF(E2>0,DateArrete-D2,"")', {"E": e, "D": [10.0] * 6}, {"DateArrete": 40.0}) == \
        [30.0, "", "", 30.0, ErrorValue("#N/A"), 30.0]  # a text and TRUE are above every number
    assert _column('IF(E2="",1,2)', {"E": e}) == [2.0, 2.0, 1.0, 2.0, ErrorValue("#N/A"), 2.0]  # a blank equals ""
    assert _column("ISBLANK(E2)", {"E": e}) == [False, False, True, False, False, False]
    assert _column('IFERROR(1/E2,"zéro")', {"E": [4.0, 0.0, None]}) == [0.25, "zéro", "zéro"]
    assert _column("-E2^2+E2%", {"E": [3.0, None]}) == [9.03, 0.0]  # Excel: unary minus first, -3^2 = 9
    assert _column('E2&"-"&F2', {"E": ["a", None, 12.0], "F": [True, "b", "c"]}) == ["a-TRUE", "-b", "12-c"]
    assert _column("E2", {"E": [None, 2.0]}) == [0.0, 2.0]  # a blank read alone is 0
    assert _column("E2+0.2=0.3", {"E": [0.1, 0.2]}) == [True, False]  # equal to 15 digits, as Excel (and IronCalc)


def test_if_evaluates_only_the_branch_each_row_takes():
    # 1/E2 on a text row would need Excel's reading of numbers in text: only the rows where E2 is a number get there
    assert _column('IF(ISNUMBER(E2),E2*2,"texte")', {"E": [1.5, "abc", None]}) == [3.0, "texte", "texte"]


def test_what_numpy_cannot_do_as_excel_goes_back_to_the_library():
    for text in ("SUM(E2:E3)", "VLOOKUP(E2,$A$1:$B$9,2,0)", "E2 E3", "{1,2}"):
        with pytest.raises(columns.Unsupported):
            columns.parse(text)
    with pytest.raises(columns.Unsupported):
        _column("E1+1", {"E": [1.0, 2.0]})  # the row above: not the column's own rows (spread gives E1:E2)
    with pytest.raises(columns.Unsupported):
        _column("E2+1", {"E": ["12"]})  # Excel reads "12" as a number: not reproduced here
    with pytest.raises(columns.Unsupported):
        _column('E2<"b"', {"E": ["a"]})  # text ordered by Excel's collation


def test_a_calculated_column_agrees_with_the_cell_by_cell_evaluation(tmp_path, monkeypatch):
    """The same columns recalculated as one each (numpy) and cell by cell (by IronCalc: MIN_ROWS too
    high for a run), over numbers, texts, booleans and blanks."""
    import xlsxwriter

    from encaisse.recalc import recalc

    path = tmp_path / "col.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Data")
    inputs = [3, 0, None, "x", -2.5, True, "", 7, None, 1e-3, "y", 0, 4, -1, 2, 8, 9, 11]
    for r, v in enumerate(inputs, start=2):
        if v is not None:
            sheet.write(f"A{r}", v)
        sheet.write_number(f"B{r}", r * 1.5)
        sheet.write_formula(f"C{r}", f'=IF(ISNUMBER(A{r}),IF(A{r}>0,B{r}/A{r},-B{r}),IF(A{r}="","vide","texte"))')
        sheet.write_formula(f"D{r}", f'=IFERROR(1/(B{r}-3),"div")')
        sheet.write_formula(f"E{r}", f'=NOT(ISBLANK(A{r}))&"|"&ABS(INT(-B{r}))')
        sheet.write_formula(f"F{r}", f'=IF(C{r}="vide",0,IF(ISTEXT(C{r}),1,C{r}>2))')
    book.close()
    evaluated = []
    numpy_columns = columns.evaluate
    monkeypatch.setattr(columns, "evaluate", lambda *a: evaluated.append(1) or numpy_columns(*a))
    one = recalc(path, tmp_path / "one.xlsx").values
    assert len(evaluated) == 4  # each column at once
    monkeypatch.setattr(columns, "MIN_ROWS", 10 ** 6)
    each = recalc(path, tmp_path / "each.xlsx").values
    assert one == each
    assert [one[f"Data!C{r}"] for r in range(2, 9)] == [1.0, -4.5, "vide", "texte", -9.0, "texte", "vide"]
    assert (one["Data!D2"], one["Data!D3"], one["Data!E2"], one["Data!E4"]) == ("div", 1 / 1.5, "TRUE|3", "FALSE|6")
    assert [one[f"Data!F{r}"] for r in range(2, 6)] == [False, False, 0.0, 1.0]


# -- plain formula cells read and written in one pass -----------------------------------------------

from encaisse.workbook.package import read_formulas  # noqa: E402
from encaisse.workbook.splice import CellUpdate, patch_sheet  # noqa: E402

_SHEET = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:C3"/><sheetData>'
          b'<row r="1" spans="1:3"><c r="A1"><v>1</v></c><c r="B1" s="2" t="str"><f>IF(A1&gt;0,"a&amp;b","")</f><v>a&amp;b</v></c>'
          b'<c r="C1"><f t="shared" ref="C1:C2" si="0">A1*2</f><v>2</v></c></row>'
          b'<row r="2"><c r="A2"><v>3</v></c><c r="B2"><f>A2&amp;"&lt;"</f></c><c r="C2"><f t="shared" si="0"/><v>6</v></c></row>'
          b'</sheetData></worksheet>')


def test_plain_formulas_and_the_others_are_read_in_sheet_order():
    cells = read_formulas(_SHEET, "S", set())
    assert [(c.ref, c.row, c.col, c.text, c.kind) for c in cells] == [
        ("B1", 1, 2, 'IF(A1>0,"a&b","")', "normal"), ("C1", 1, 3, "A1*2", "normal"),
        ("B2", 2, 2, 'A2&"<"', "normal"), ("C2", 2, 3, "A2*2", "normal")]
    plain = _SHEET.replace(b'<f t="shared" ref="C1:C2" si="0">A1*2</f>', b"<f>A1*2</f>").replace(b'<f t="shared" si="0"/>', b"<f>A2*2</f>")
    assert read_formulas(plain, "S", set()) == cells  # all plain: read without the parser, same cells


def test_plain_formula_cells_get_their_values_where_they_stand():
    out = patch_sheet(_SHEET, {(1, 2): CellUpdate(4.0, True), (2, 2): CellUpdate("3<", True), (2, 3): CellUpdate(6.5, True)})
    assert b'<c r="B1" s="2"><f>IF(A1&gt;0,"a&amp;b","")</f><v>4</v></c>' in out  # t="str" gone with the text
    assert b'<c r="B2" t="str"><f>A2&amp;"&lt;"</f><v>3&lt;</v></c>' in out
    assert b'<c r="C2"><f t="shared" si="0"/><v>6.5</v></c>' in out  # not plain: patched row by row
    row_1 = (b'<row r="1" spans="1:3"><c r="A1"><v>1</v></c><c r="B1" s="2"><f>IF(A1&gt;0,"a&amp;b","")</f><v>4</v></c>'
             b'<c r="C1"><f t="shared" ref="C1:C2" si="0">A1*2</f><v>2</v></c></row>')
    assert row_1 in out  # the rest of the row as it was


def test_a_column_without_relative_row_is_found_by_its_identical_text():
    """Excel writes a table's calculated column with structured references: the same text in every row."""
    cells = [FormulaCell("S", f"F{r}", r, 6, 'IF(Factures[@Montant]>0,"oui","non")') for r in range(2, 40)]
    kept, runs = columns.find_columns(cells)
    assert [c.kind for c in kept] == ["column"] and list(runs) == [("S", 2, 6)] and runs[("S", 2, 6)].anchor.array_ref == "F2:F39"


def test_a_table_s_calculated_column_with_structured_references_is_evaluated_at_once(tmp_path, monkeypatch):
    import xlsxwriter

    from encaisse.recalc import recalc

    path = tmp_path / "table.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Factures")
    amounts = [50.0 * k for k in range(1, 31)]
    sheet.add_table(0, 0, len(amounts), 1, {"name": "Factures", "columns": [{"header": "Montant"}, {"header": "Remise"}]})
    for r, amount in enumerate(amounts, start=1):
        sheet.write_number(r, 0, amount)
        sheet.write_formula(r, 1, "=IF(Factures[[#This Row],[Montant]]>100,Factures[[#This Row],[Montant]]*0.1,0)")
    book.close()
    evaluated = []
    numpy_columns = columns.evaluate
    monkeypatch.setattr(columns, "evaluate", lambda *a: evaluated.append(1) or numpy_columns(*a))
    report = recalc(path, tmp_path / "out.xlsx")
    assert len(evaluated) == 1
    assert [report.values[f"Factures!B{r}"] for r in range(2, 32)] == [a * 0.1 if a > 100 else 0.0 for a in amounts]


# -- calculated columns kept as offsets and lists from reading to splicing --------------------------

from encaisse.workbook import package, splice  # noqa: E402

_COLUMN_SHEET = (
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:C20"/><sheetData>'
    + b"".join(
        b'<row r="%d"><c r="A%d"><v>%d</v></c><c r="B%d" s="2"%s><f>IF(A%d&gt;3,A%d*2,"x&amp;y")</f>%s</c>'
        b'<c r="C%d"><f t="shared" si="0"/><v>1</v></c></row>'
        % (r, r, r, r, b' t="str"' if r % 3 == 0 else b"", r, r, b"<v>x&amp;y</v>" if r % 3 == 0 else b"<v>0</v>" if r % 2 else b"", r)
        for r in range(2, 21))
    + b'<row r="1048576"><c r="XFD1048576"><f>1+1</f></c></row></sheetData></worksheet>')


def test_plain_formula_cells_are_found_where_the_regex_finds_them():
    plain = package.plain_formulas(_COLUMN_SHEET)
    matches = list(package.PLAIN_FORMULA_CELL.finditer(_COLUMN_SHEET))
    assert plain.starts.tolist() == [m.start() for m in matches]
    assert plain.attrs.tolist() == [m.start(3) for m in matches]
    assert plain.opens.tolist() == [m.start(4) for m in matches]
    assert plain.closes.tolist() == [m.end(4) for m in matches]
    assert plain.ends.tolist() == [m.end() for m in matches]
    assert plain.rows == list(range(2, 21)) + [1048576] and plain.cols == [2] * 19 + [16384]
    assert plain.texts[:2] == ['IF(A2>3,A2*2,"x&y")', 'IF(A3>3,A3*2,"x&y")'] and plain.texts[-1] == "1+1"
    assert (plain.count, plain.valid) == (39, False)  # the shared formulas of column C are not plain


def test_runs_found_from_lists_are_those_found_from_cells():
    rows, cols = list(range(2, 40)) + list(range(2, 40)) + [50], [6] * 38 + [7] * 38 + [6]
    texts = [f"E{r}*2" if r != 30 else "E30*3" for r in range(2, 40)] + [f"F{r}+E{r}" for r in range(2, 40)] + ["1"]
    order = sorted(range(len(rows)), key=lambda i: (rows[i], cols[i]))  # sheet order: row by row
    rows, cols, texts = [rows[i] for i in order], [cols[i] for i in order], [texts[i] for i in order]
    kept, runs = columns.find_plain_columns("S", rows, cols, texts)
    cells = [FormulaCell("S", f"{'FG'[c - 6]}{r}", r, c, t) for r, c, t in zip(rows, cols, texts)]
    want_kept, want_runs = columns.find_columns(cells)
    assert kept == want_kept
    assert list(runs) == list(want_runs) == [("S", 2, 6), ("S", 2, 7)]  # F30 breaks F's run; F31:F39 too short
    for key, run in runs.items():
        assert run.anchor == want_runs[key].anchor and run.cells == want_runs[key].cells
        assert [rows[i] for i in run.positions] == [c.row for c in run.cells]


def test_a_column_spliced_from_its_offsets_is_written_as_cell_by_cell():
    plain = package.plain_formulas(_COLUMN_SHEET)
    values = [float(r) * 2.5 if r % 4 else "x<&y" if r % 8 else True for r in range(2, 21)]
    values[5], values[6] = ErrorValue("#DIV/0!"), -0.0
    updates = {(r, 2): CellUpdate(v, True) for r, v in zip(range(2, 21), values)}
    by_cell = patch_sheet(_COLUMN_SHEET, updates)
    positions = np.arange(19)
    assert patch_sheet(_COLUMN_SHEET, {}, plain, [(positions, values)]) == by_cell
    prepared = splice.prepare_splice(plain, [positions])
    assert patch_sheet(_COLUMN_SHEET, {}, plain, [(positions, values)], prepared) == by_cell
    assert b'<c r="B3" s="2"><f>IF(A3&gt;3,A3*2,"x&amp;y")</f><v>7.5</v></c>' in by_cell  # t="str" gone with the text
    assert b'<c r="B7" s="2" t="e"><f>IF(A7&gt;3,A7*2,"x&amp;y")</f><v>#DIV/0!</v></c>' in by_cell
    assert b'<c r="B8" s="2"><f>IF(A8&gt;3,A8*2,"x&amp;y")</f><v>-0</v></c>' in by_cell
    assert b'<c r="B4" s="2" t="str"><f>IF(A4&gt;3,A4*2,"x&amp;y")</f><v>x&lt;&amp;y</v></c>' in by_cell
    assert b'<c r="B16" s="2" t="b"><f>IF(A16&gt;3,A16*2,"x&amp;y")</f><v>1</v></c>' in by_cell


def test_cached_values_are_formatted_at_once_as_one_by_one():
    numbers = [0.0, -0.0, 1.0, -5.0, 0.1 + 0.2, 1e-7, 5e-324, 123456789012345.0, 999999999999999.0, 1e15, 2e15, 1e16,
               4503599627370496.5, 2.0 ** 60, -1e15, 1e300, 46023.0, 152.5]
    others = [float("inf"), float("nan"), "", "a<b", "_x0041_", True, False, ErrorValue("#N/A")]
    for values in (numbers, numbers + others):
        ends, cached = splice._cached_xml(values)
        expected = [splice._value_xml(v) for v in values]
        assert cached.tolist() == [v for _, v in expected]
        assert ends.tolist() == [b">" if t is None else b' t="' + t + b'">' for t, _ in expected]


def test_column_letters_are_those_of_openpyxl():
    from openpyxl.utils import cell

    assert all(package.get_column_letter(i) == cell.get_column_letter(i) for i in range(1, 18279))
    assert [package.column_index_from_string(s) for s in ("A", "z", "AA", "xfd", "ZZZ")] == [1, 26, 27, 16384, 18278]
    for bad in ("", "AAAA", "A1", "É"):
        with pytest.raises(ValueError):
            package.column_index_from_string(bad)
    with pytest.raises(ValueError):
        package.get_column_letter(18279)


def test_range_boundaries_are_those_of_openpyxl():
    from openpyxl.utils import cell

    assert package.range_boundaries("B3") == (2, 3, 2, 3)
    assert package.range_boundaries("$a$1:$D$120") == (1, 1, 4, 120)
    assert package.range_boundaries("C:E") == (3, None, 5, None)
    assert package.range_boundaries("2:7") == (None, 2, None, 7)
    texts = ["A1", "xfd1048576", "B3:A1", "A1:B", "A:B2", "A1:", ":", "", "A", "1", "AAAA1", "A0", "A1:B2:C3", "É1", "A1\n"]
    for text in texts:
        try:
            expected = cell.range_boundaries(text)
        except ValueError:
            with pytest.raises(ValueError):
                package.range_boundaries(text)
        else:
            assert package.range_boundaries(text) == expected


def test_a_new_row_is_written_as_cell_by_cell():
    cells = {1: splice.CellUpdate(1250.5, False), 2: splice.CellUpdate(12.0, False), 3: splice.CellUpdate(-0.0, False),
             5: splice.CellUpdate(3.0, False, style=4), 6: splice.CellUpdate(float("nan"), False), 7: splice.CellUpdate("Dupont", False),
             28: splice.CellUpdate(1e16, False)}
    assert splice._new_row(12, cells) == (b'<row r="12"><c r="A12"><v>1250.5</v></c><c r="B12"><v>12</v></c><c r="C12"><v>-0</v></c>'
                                          b'<c r="E12" s="4"><v>3</v></c><c r="F12" t="e"><v>#NUM!</v></c>'
                                          b'<c r="G12" t="str"><v>Dupont</v></c><c r="AB12"><v>1e+16</v></c></row>')


def test_a_big_sheet_s_far_cells_and_error_cells_are_found_in_one_pass(tmp_path):
    import zipfile

    rows = b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (r, r, r) for r in range(1, 60_000))
    error = b'<row r="30000"><c r="C30000" t="e"><v>#N/A</v></c></row>'
    half = rows.index(b'<row r="30000">')
    rows = rows[:half] + error + rows[half:].replace(b'<row r="30000"><c r="A30000"><v>30000</v></c></row>', b"")
    for stray, extent, problem in (
            (b"", (59_999, 26), None),
            (b'<row r="60000"><c r="AB60000"><v>1</v></c></row>', (60_000, 28), None),
            (b'<row r="60000"><c r="ZZ60000"><v>1</v></c></row>', (60_000, 702), "zone utilisée de la feuille trop grande"),
            (b'<row r="1048570"><c r="B1048570"><v>1</v></c></row>', (1_048_570, 26), None),
            (b'<row r="1048577"><c r="A1048577"><v>1</v></c></row>', (1_048_577, 26), "au-delà des limites"),
            (b'<row r="2000000"/>', (2_000_000, 26), "au-delà des limites")):
        path = tmp_path / "big.xlsx"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("xl/worksheets/sheet1.xml", b"<worksheet><sheetData>" + rows + stray + b"</sheetData></worksheet>")
        with zipfile.ZipFile(path) as zf:
            assert zf.getinfo("xl/worksheets/sheet1.xml").file_size > package.SCAN_BYTES
            assert package.used_extent(zf, "xl/worksheets/sheet1.xml") == extent
            scan = package.scan_sheet(zf, "xl/worksheets/sheet1.xml", "Feuil1")
            assert scan.errors == {(30_000, 2): "#N/A"}
            assert (scan.problem is None) if problem is None else problem in scan.problem.message, stray


# -- work done while IronCalc is tried in a child ----------------------------------------------------


def test_the_library_functions_reading_scipy_are_told_from_the_others():
    from encaisse.recalc.evaluator import _reads_scipy
    from encaisse.recalc.library import get_functions

    functions = get_functions()
    # directly (BETA.DIST: scipy.stats.beta), through a partial (RANK.EQ: stats.rankdata; SKEW:
    # a partial given as a keyword), through the module's function it calls (LINEST: scipy.linalg)
    for name in ("BETA.DIST", "RANK.EQ", "SKEW", "LINEST", "WEIBULL.DIST"):
        assert _reads_scipy(functions[name]) is True, name
    for name in ("SUM", "AVERAGE", "VLOOKUP", "BESSELI"):  # BESSELI reads scipy.special only, cheap
        assert _reads_scipy(functions[name]) is False, name


def test_scipy_imported_ahead_keeps_its_docstring_parser_and_its_results():
    import scipy._lib._array_api as array_api
    from scipy._lib._docscrape import FunctionDoc

    from encaisse.recalc.evaluator import _import_scipy

    _import_scipy()
    assert array_api.FunctionDoc is FunctionDoc
    import scipy.stats

    # BETA.DIST(0.3; 2; 3; TRUE): the integral of 12·x·(1 − x)² from 0 to 0.3,
    # 12·(0.3²/2 − 2·0.3³/3 + 0.3⁴/4) = 0.3483
    assert scipy.stats.beta.cdf(0.3, 2, 3) == pytest.approx(0.3483, abs=1e-12)


def test_a_short_column_is_converted_as_its_whole_column_conversion_would():
    import datetime as dt
    import math

    import numpy as np

    from encaisse.recalc import values
    from encaisse.workbook.splice import ErrorValue

    def whole(column):
        saved, values._SMALL_COLUMN = values._SMALL_COLUMN, -1
        try:
            return values.xl_column(column)
        finally:
            values._SMALL_COLUMN = saved

    cases = [[1.0, 2.0, "", 3.5], [1, 2, 3], [1, 2.5, ""], ["a", "b", ""], ["", ""], [], [float("nan"), 1.0], [True, 1.0],
             ["a", 1.0], [ErrorValue("#N/A"), ""], [None, 1.0], [dt.date(2020, 1, 1), ""]]
    for case in cases:
        column = np.empty(len(case), dtype=object)
        column[:] = case
        short, long = values.xl_column(column), whole(column)
        assert [type(v) for v in short] == [type(v) for v in long], case
        assert all(a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)) for a, b in zip(short, long)), case
    column = np.empty(3, dtype=object)
    column[:] = [4, "", 2.5]
    assert [type(v).__name__ for v in values.xl_column(column)] == ["float", "Token", "float"]


def test_a_big_rewritten_part_deflated_in_two_halves_reads_back_whole(tmp_path, monkeypatch):
    import zipfile
    import zlib

    from encaisse.workbook import splice

    sheet = b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (r, r, r * 7919 % 10007) for r in range(1, 20_001))
    crc, raw = splice._deflate_in_two(sheet)
    assert zlib.decompress(raw, -15) == sheet and crc == zlib.crc32(sheet)
    source, target = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    with zipfile.ZipFile(source, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"<worksheet/>")
        zf.writestr("xl/workbook.xml", b"<workbook/>")
    monkeypatch.setattr(splice, "_PARALLEL_DEFLATE", 1000)
    splice.write_package(source, target, {"xl/worksheets/sheet1.xml": sheet})
    with zipfile.ZipFile(target) as zf:
        assert zf.testzip() is None  # every member's CRC checked
        assert zf.read("xl/worksheets/sheet1.xml") == sheet and zf.read("xl/workbook.xml") == b"<workbook/>"
        assert zf.getinfo("xl/worksheets/sheet1.xml").compress_type == zipfile.ZIP_DEFLATED


def test_a_result_s_values_as_stored_are_to_file_s_whatever_their_types():
    import numpy as np

    from encaisse.recalc.evaluator import _file_values
    from encaisse.recalc.values import empty_token, to_file
    from encaisse.workbook.splice import ErrorValue

    for cells in ([1.5, "x", 2.0], [1.5, True], [np.float64(3.0), "a"], [empty_token(), 1.0], [None, "b"], [ErrorValue("#N/A"), 2.0], [7, ""]):
        result = np.empty((len(cells), 1), dtype=object)
        result[:, 0] = cells
        expected = [to_file(v) for v in cells]
        assert _file_values(result) == expected and [type(v) for v in _file_values(result)] == [type(v) for v in expected], cells


def test_plain_formula_cells_are_found_where_the_regex_finds_them_in_any_mix_of_cells():
    import random

    pieces = [b'<c r="A1"><f>1+1</f></c>', b'<c r="B2" s="3"><f>A1*2</f><v>2</v></c>', b'<c r="C3" t="str"><f>"x"</f><v>' + b"y" * 50 + b"</v></c>",
              b'<c r="D4" ' + b's="1" ' * 20 + b"><f>A1</f><v>1</v></c>", b'<c r="E5"><f>A1&lt;2</f><v>1</v></c>', b'<c r="F6"><f>A\r1</f></c>',
              b'<c r="G7"><f></f></c>', b'<c r="H8"><f t="shared" si="0"/><v>1</v></c>', b'<c r="I9"><f t="shared" ref="I9:I10" si="0">A1</f></c>',
              b'<c r="J10"><v>5</v></c>', b'<c r="K11"><f>A1</f><v>1</v><is/></c>', b'<c s="1" r="L12"><f>A1</f></c>', b'<c r="M13"><f>A1<x/></f></c>',
              b'<c r="N14/"><f>A1</f></c>', b'<c r="O015"><f>A1</f></c>', b'<c r="P16"><f>SUM(A1:A3)</f><v></v></c>', b"<f>1</f>",
              b'<c r="Q17"><f>1</f> </c>', b'<c r="AAAA1"><f>1</f></c>', b'<c r="XFD1048576"><f>1</f></c>', b'<c r="R18" t="e"><f>1/0</f><v>#DIV/0!</v></c>']
    draw = random.Random(5)
    for _ in range(600):
        cells = b"".join(draw.choice(pieces) for _ in range(draw.randint(0, 12)))
        data = cells if draw.random() < 0.1 else b'<worksheet><sheetData><row r="1">' + cells + b"</row></sheetData></worksheet>"
        plain = package.plain_formulas(data)
        matches = list(package.PLAIN_FORMULA_CELL.finditer(data))
        assert plain.starts.tolist() == [m.start() for m in matches], data
        assert plain.ends.tolist() == [m.end() for m in matches], data
        assert plain.count == data.count(b"<f>") + data.count(b"<f t="), data


def test_a_shared_formula_is_moved_without_importing_the_openpyxl_package():
    import subprocess
    import sys

    code = ("import sys; from encaisse.workbook.package import MovedFormula; m = MovedFormula('B2', 'SUM(A1:A3)+$C$1*Feuil2!D4'); "
            "print('openpyxl' in sys.modules, m.pieces[0], len(m.pieces))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "SUM(", "7"]  # SUM( · A1:A3 · ) · + · $C$1 · * · Feuil2!D4
