"""The formula library's function table is loaded without scipy; statistical functions still work."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import zipfile

from encaisse.recalc import recalc
from test_recalc import build, values

# Each check runs in a fresh interpreter: another test may already have imported scipy.stats.
CHECK = textwrap.dedent("""
    import json, sys
    from encaisse.recalc.library import get_functions
    functions = get_functions()
    loaded_after_table = sorted(m for m in ("scipy.stats", "scipy.linalg", "scipy.interpolate") if m in sys.modules)
    import formulas
    results = {f: float(formulas.Parser().ast(f)[1].compile()()) for f in (
        "=NORM.S.DIST(1,TRUE)", "=PERCENTILE({1,2,3,4,5},0.3)", "=T.INV(0.9,5)", "=SLOPE({2,4,7},{1,2,3})")}
    import scipy.stats
    print(json.dumps({"loaded_after_table": loaded_after_table, "results": results, "has_sumifs": "SUMIFS" in functions,
                      "real_module": type(scipy.stats).__name__, "norm_cdf": float(scipy.stats.norm.cdf(1))}))
""")


def test_scipy_is_imported_only_when_a_statistical_function_runs():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    assert report["loaded_after_table"] == []
    assert report["has_sumifs"]
    # Independent figures: Φ(1), Excel's PERCENTILE interpolation (1 + 0.3 × 4 = 2.2 → between 2 and 3),
    # Student's t quantile (tables: t(0.90; 5) = 1.475884), least-squares slope of (1,2),(2,4),(3,7) = 5/2.
    assert abs(report["results"]["=NORM.S.DIST(1,TRUE)"] - 0.8413447460685429) < 1e-12
    assert report["results"]["=PERCENTILE({1,2,3,4,5},0.3)"] == 2.2
    assert abs(report["results"]["=T.INV(0.9,5)"] - 1.475884) < 1e-6
    assert abs(report["results"]["=SLOPE({2,4,7},{1,2,3})"] - 2.5) < 1e-12
    # a later `import scipy.stats` gets the real module, not the stand-in
    assert report["real_module"] == "module" and abs(report["norm_cdf"] - 0.8413447460685429) < 1e-12


def test_recalc_evaluates_statistical_functions(tmp_path):
    book = build(tmp_path / "stat.xlsx", [
        ("A1", "=PERCENTILE(Factures[Montant TTC],0.5)"),
        ("A2", "=MEDIAN(Factures[Montant TTC])"),
        ("A3", "=NORM.S.DIST(0,TRUE)"),
    ])
    recalc(book)
    # amounts 100 ; 250,5 ; 80 ; 1 200: median (100 + 250,5) / 2 = 175,25
    assert [row[0] for row in values(book)[:3]] == [175.25, 175.25, 0.5]


def test_console_command_flushes_its_output_and_exit_code(tmp_path):
    """`encaisse` leaves without the interpreter's teardown: its messages must still all be there."""
    good = build(tmp_path / "ok.xlsx", [("A1", "=SUM(Factures[Montant TTC])")])
    done = subprocess.run([sys.executable, "-m", "encaisse.cli", "recalc", str(good)], capture_output=True, text=True)
    assert done.returncode == 0
    assert re.fullmatch(r"Recalcul de .*ok\.xlsx : 1 cellule à formule évaluée \(0 appel aux fonctions encaisse\) "
                        r"en \d+,\d\d s\.\nValeurs enregistrées dans .*ok\.xlsx \(feuilles : Calc\)\.\n", done.stdout)
    bad = build(tmp_path / "bad.xlsx", [("A1", "=NOSUCHFUNCTION(1)")])
    done = subprocess.run([sys.executable, "-m", "encaisse.cli", "recalc", str(bad)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "NOSUCHFUNCTION" in done.stderr and "Calc!A1" in done.stderr


def test_a_stand_in_gives_the_real_attribute_to_anyone_else():
    """During the load, another thread asking a stand-in for `scipy.stats.norm` gets the real one."""
    code = textwrap.dedent("""
        import json, sys
        from encaisse.recalc.library import _DeferredModule
        stand_in = _DeferredModule("scipy.stats", ())
        sys.modules["scipy.stats"] = stand_in
        cdf = float(stand_in.norm.cdf(1))
        print(json.dumps({"cdf": cdf, "replaced": sys.modules["scipy.stats"] is not stand_in,
                          "real": type(sys.modules["scipy.stats"]).__name__}))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    assert abs(report["cdf"] - 0.8413447460685429) < 1e-12
    assert report["replaced"] and report["real"] == "module"


def test_yearfrac_as_excel_computes_it(tmp_path):
    book = build(tmp_path / "yf.xlsx", [
        ("A1", "=YEARFRAC(DATE(2004,2,29),DATE(2005,2,28),1)"),  # under a year holding 29 Feb: 365 / 366
        ("A2", "=YEARFRAC(DATE(2001,2,28),DATE(2004,2,29),1)"),  # 1 096 days / average of 2001-2004 (365,25)
        ("A3", "=YEARFRAC(DATE(2001,3,31),DATE(2001,1,31),1)"),  # dates swapped; 59 days in a 365-day year
        ("A4", "=YEARFRAC(DATE(2001,2,28),DATE(2004,2,29),0)"),  # end of February to end of February: 3 years
        ("A5", "=YEARFRAC(DATE(2001,1,30),DATE(2001,3,31),0)"),  # 30 -> 31 counts as 30 -> 30: 60 / 360
        ("A6", '=YEARFRAC(1,200,"x")'),
        ("A7", "=YEARFRAC(1/0,200,5)"),  # the basis is checked before the dates
        ("A8", "=YEARFRAC(1,200,4)"),  # 1900-01-01 to 1900-07-18: 197 / 360
    ])
    recalc(book)
    got = [row[0] for row in values(book)[:8]]
    assert got[:5] == [365 / 366, 1096 / 365.25, 59 / 365, 3.0, 60 / 360] and got[7] == 197 / 360
    xml = zipfile.ZipFile(book).read("xl/worksheets/sheet1.xml").decode()
    assert "<v>#VALUE!</v>" in re.search(r'<c r="A6".*?</c>', xml).group(0)
    assert "<v>#NUM!</v>" in re.search(r'<c r="A7".*?</c>', xml).group(0)


def test_base_conversions_check_places_and_signs_as_excel(tmp_path):
    book = build(tmp_path / "bases.xlsx", [
        ("A1", "=-1"), ("A2", "=0"), ("A3", '="E"'),
        ("B1", "=BIN2DEC(A1)"),  # "-1" is no binary number
        ("B2", "=DEC2BIN(A1,A2)"),  # places 0: #NUM! even for a negative number
        ("B3", "=DEC2BIN(A1,3)"),  # a negative number ignores places: 10 digits
        ("B4", "=DEC2BIN(A3,A2)"),  # places checked before the number
        ("B5", "=DEC2BIN(A3,1)"),
        ("B6", "=DEC2HEX(5,11)"),
        ("B7", "=HEX2DEC(C9)"),  # a blank is 0
    ])
    recalc(book)
    xml = zipfile.ZipFile(book).read("xl/worksheets/sheet1.xml").decode()
    cached = {ref: re.search(rf'<c r="{ref}"[^>]*>.*?<v>(.*?)</v>', xml).group(1) for ref in ("B1", "B2", "B3", "B4", "B5", "B6", "B7")}
    assert cached == {"B1": "#NUM!", "B2": "#NUM!", "B3": "1111111111", "B4": "#NUM!", "B5": "#VALUE!", "B6": "#NUM!", "B7": "0"}


def test_totals_row_subtotals_of_a_table(tmp_path):
    import xlsxwriter

    path = tmp_path / "totals.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Ventes")
    sheet.add_table("A1:C5", {"name": "Ventes", "total_row": True, "data": [["a", 10, 1], ["b", 20, 2], ["c", 45, 3]],
                              "columns": [{"header": "Client", "total_string": "Total"},
                                          {"header": "Montant", "total_function": "sum"},
                                          {"header": "Lignes", "total_function": "average"}]})
    sheet.write_formula("E1", "=SUBTOTAL(9,Ventes[Montant])+SUBTOTAL(104,Ventes[Lignes])")
    sheet.write_formula("E2", "=SUBTOTAL(12,Ventes[Montant])")
    book.close()
    recalc(path)
    grid = values(path, "Ventes")
    assert grid[4][1:3] == [75.0, 2.0] and grid[0][4] == 78.0  # =SUBTOTAL(109,[Montant]) in the totals row
    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>SUBTOTAL(109,[Montant])</f><v>75</v>" in xml and "<v>#VALUE!</v>" in re.search(r'<c r="E2".*?</c>', xml).group(0)


def test_rounding_with_any_number_of_digits(tmp_path, monkeypatch):
    from encaisse.recalc import core

    monkeypatch.setattr(core, "_NATIVE_BYTES_PER_FORMULA", 0)  # every formula by the library evaluator
    # the library computed 10 ** digits as a whole number: ROUND(x, 1E+308) never ended
    book = build(tmp_path / "r.xlsx", [
        ("A1", "=ROUND(1.5,1E+308)"),  # past a float's 17 digits the number is already rounded
        ("A2", "=ROUNDUP(2.25,1)"),
        ("A3", "=ROUNDDOWN(-2.25,1)"),
        ("A4", "=ROUND(1234.5,-400)"),  # to a place above 1E+308: 0
        ("A5", "=ROUNDUP(5,-400)"),  # would overflow
        ("A6", "=TRUNC(-2.789,2)"),
        ("A7", "=ROUND(2.5,0)"),
        ("A8", "=TRUNC(8.9)"),
        ("A9", "=ROUND(-1234.5678,-2)"),
    ])
    recalc(book)
    got = [row[0] for row in values(book)[:9]]
    assert got[:4] == [1.5, 2.3, -2.2, 0.0] and got[5:] == [-2.78, 3.0, 8.0, -1200.0]
    xml = zipfile.ZipFile(book).read("xl/worksheets/sheet1.xml").decode()
    assert "<v>#NUM!</v>" in re.search(r'<c r="A5".*?</c>', xml).group(0)


# Excel's results (its documented format codes; the odd ones as Excel writes them in the corpus).
TEXT_CASES = [
    (1234567.891, "#,##0.00", "1,234,567.89"),
    (-1234.5, "#,##0.00;(#,##0.00)", "(1,234.50)"),  # the negative section writes no sign
    (0, "0.00;(0.00);zero", "zero"),
    (-1, "w;x@", "-w"),  # one number section (the last holds @): the sign leads
    (0, "w;x;z@", "w"),  # two number sections: zero takes the first
    (-1, "", "-"),
    (2, "[<=1]a;[=2]xx;xcx", "xx"),
    (1234567, "#,##0,", "1,235"),  # a comma after the last placeholder divides by 1 000
    (890123.456789, "%#%#%", "%89012345678%9%"),  # each % multiplies by 100
    (890123.456789, "#x,0,#.00.0", "890,1x,23.45.7"),  # the leftmost placeholder takes the rest
    (890123.456789, ".#", "890123.5"),
    (890123.456789, "#.#####00#0", "890123.45678900"),
    (1, "#.###", "1."),
    (1234, "5000700", "5012734"),  # digits 1-9 are text
    (1234567890, "0,## ##, ##", "1,234,56 7,8 90"),
    (1.000000001, "00###.##.0000.00", "001..0000.00"),
    (1234.5, "0.00E+00", "1.23E+03"),
    (0.000123, "0.0E-0", "1.2E-4"),
    (45000.75, "dddd d mmmm yyyy hh:mm AM/PM", "Wednesday 15 March 2023 06:00 PM"),
    (0, '"SS"m', "SS1"),  # serial 0 is 0 January 1900
    (60, "d/m/yyyy", "29/2/1900"),  # Excel's 29 February 1900
    (130.63332, "h hh hhh hhhh", "15 15 15 15"),
    (130.31322, "m:s ss", "31:2 02"),  # m before s is minutes
    (71003160, "[hh]", "1704075840"),  # an elapsed time may pass the last date
    (-1, "[m]", "-1440"),
    (0, "[s].000", "0.000"),
    (3.5, "General", "3.5"),
]


def test_text_writes_numbers_as_excel():
    from encaisse.recalc.text_format import format_number

    assert [format_number(v, code) for v, code, _ in TEXT_CASES] == [want for _, _, want in TEXT_CASES]


def test_text_refuses_what_excel_refuses():
    import pytest

    from encaisse.recalc.text_format import FormatRefused, format_number, format_text, number_from_text

    for value, code in [(1, '#,#"ZZ"#.0Y00'), (1, "0@"), (-1, "[h]:m"), (-1, "h"), (2958466, "yy"), (1, '#"x'),
                        (1, ";-  ##.0;\"ZERO\"@;\"X\"")]:
        with pytest.raises(FormatRefused):
            format_number(value, code)
    assert format_text("X", '##.00;-  ##.0;"ZERO";->@<-@') == "->X<-X"
    assert format_text("Plugh", "0.00") == "Plugh"
    # a time as Excel reads it: h:m with minutes past 59, m:s.f, seconds under 10 000
    assert [number_from_text(t) for t in ("23:99", "59:9999.0", "24:99", "0:0:10000")] == [
        (23 * 60 + 99) / 1440, (59 * 60 + 9999) / 86400, None, None]


def test_text_in_a_workbook(tmp_path):
    book = build(tmp_path / "text.xlsx", [
        ("A1", '=TEXT(1234.5,"#,##0.00 €")'),  # codes are read in Excel's English, whatever the language
        ("A2", '=TEXT(TRUE,"0.00")'),  # a logical value is written as a text
        ("A3", '=TEXT(-1,C9)'),  # a blank format
        ("A4", '=TEXT("1987-08-26","#.00")'),  # a date written out is a number
        ("A5", '=TEXT(0.5,"h:mm")&" "&TEXT(3,"0%")'),
        ("A6", '=TEXT(1,"0@")'),
    ])
    recalc(book)
    got = [row[0] for row in values(book)[:5]]
    assert got == ["1,234.50 €", "TRUE", "-", "32015.00", "12:00 300%"]
    xml = zipfile.ZipFile(book).read("xl/worksheets/sheet1.xml").decode()
    assert "<v>#VALUE!</v>" in re.search(r'<c r="A6".*?</c>', xml).group(0)


def test_lookup_and_statistics_as_excel(tmp_path):
    book = build(tmp_path / "lookup.xlsx", [
        ("A1", "=0"), ("A2", "=1"), ("A3", "=2"), ("A4", "=3"),
        ("B1", '="a"'), ("B2", '="e"'), ("B3", '="i"'), ("B4", '="o"'),
        ("C1", "=1/0"), ("C2", "=NA()"),
        ("D1", "=LOOKUP(2,A1:B4)"),  # array form, taller than wide: first column sought, last one read
        ("D2", "=LOOKUP(2,A1:B4,B1:B4)"),  # a range of two columns as the vector: its first column
        ("D3", '=LOOKUP(20,{"a",2.1,"b",4.1},{"L","ML","MR","R"})'),  # the texts are passed over
        ("D4", "=PERCENTILE(C1:C2,C2)"),  # k's error comes before the data's
        ("D5", "=LARGE(C1:C2,C1)"),
        ("D6", "=SLOPE(A1:A4,A1:B3)"),  # ranges of different sizes
        ("D7", "=QUARTILE(A1:A4,1)"),
    ])
    recalc(book)
    got = [row[3] for row in values(book)[:7]]
    assert got[:3] == ["i", "i", "R"] and got[6] == 0.75
    xml = zipfile.ZipFile(book).read("xl/worksheets/sheet1.xml").decode()
    cached = {ref: re.search(rf'<c r="{ref}"[^>]*>.*?<v>(.*?)</v>', xml).group(1) for ref in ("D4", "D5", "D6")}
    assert cached == {"D4": "#N/A", "D5": "#DIV/0!", "D6": "#N/A"}


def test_legacy_array_formula_of_references_alone(tmp_path):
    import xlsxwriter

    path = tmp_path / "array.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Calc")
    for r, (a, b) in enumerate([(1, 10), (2, 20), (3, 30)]):
        sheet.write_number(r, 0, a)
        sheet.write_number(r, 1, b)
    sheet.write_array_formula("D1:D3", "{=A1:A3+B1:B3}")  # cell by cell
    sheet.write_array_formula("E1:F3", "{=A1:B1}")  # one row repeated on every row of the range
    sheet.write_array_formula("G1:G4", "{=A1:A3*2}")  # past the result: #N/A
    book.close()
    recalc(path)
    grid = values(path)
    assert [row[3] for row in grid[:3]] == [11.0, 22.0, 33.0]
    assert [row[4:6] for row in grid[:3]] == [[1.0, 10.0]] * 3
    assert [row[6] for row in grid[:3]] == [2.0, 4.0, 6.0]
    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    assert "<v>#N/A</v>" in re.search(r'<c r="G4".*?</c>', xml).group(0)


def test_imsum_and_xirr_as_excel(tmp_path):
    book = build(tmp_path / "eng.xlsx", [
        ("A1", '="1+2j"'), ("A2", '="3+4j"'),
        ("A3", '=IMSUM(A1:A2,"1")'),  # a range of complex numbers
        ("A4", "=XIRR({-10,1,2,7},{1,30,60,90},TRUE)"),  # a logical guess
    ])
    recalc(book)
    assert values(book)[2][0] == "5+6j"
    xml = zipfile.ZipFile(book).read("xl/worksheets/sheet1.xml").decode()
    assert "<v>#VALUE!</v>" in re.search(r'<c r="A4".*?</c>', xml).group(0)
