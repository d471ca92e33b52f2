"""Memos (REFI-QDA notes referenced from a code, a source or a selection) and document
attributes (REFI-QDA cases with variables) out in a .qdpx and back in, exactly; cases
and typed variables as another tool writes them."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from isp_nlp.interchange.refi_export import write_qdpx
from isp_nlp.interchange.refi_import import import_refi, import_refi_new_project
from isp_nlp.records import Note
from isp_nlp.store.folder import open_project
from tests.builders.cli_runs import run
from tests.builders.coded_projects import coded_project
from tests.builders.paths import SHARED


def _validate(path: Path) -> None:
    xsd = SHARED / "refi-qda" / "Project.xsd"
    if not xsd.is_file():
        return  # the schema is in ../shared; the round trip below still runs
    xmlschema = pytest.importorskip("xmlschema")
    with zipfile.ZipFile(path) as archive:
        xmlschema.XMLSchema(str(xsd)).validate(archive.read("project.qde").decode("utf-8"))


def _notes(store) -> list[tuple]:
    return [(n.guid, n.title, n.text, n.coder, n.document, n.start, n.end, n.created_at,
             n.dimension, n.code) for n in store.notes()]


def test_memos_and_attributes_round_trip_exactly(tmp_path: Path) -> None:
    project, _, _ = coded_project(tmp_path)
    for args in (["--code", "coaching", "Why coaching."], ["--code", "stage=push", "On push."],
                 ["--document", "site1", "About site1."],
                 ["--segment", "site0#1", "On this turn."]):
        assert run("memo", *args, "--coder", "ana", project=project).exit_code == 0
    csv = tmp_path / "attributes.csv"
    csv.write_text("document,wave,role\nsite0,1,manager\nsite1,2,\nsite2,,coach\n", "utf-8")
    assert run("attributes", str(csv), project=project).exit_code == 0
    out = tmp_path / "out.qdpx"
    with open_project(project) as store:
        write_qdpx(store, out)
        notes, attributes = _notes(store), store.attributes()
        names = store.attribute_names()
    _validate(out)
    outcome = import_refi_new_project(tmp_path / "back", out, embedder="hashing-256")
    assert outcome.notes == 4 and outcome.attributes == 4 and outcome.attributes_set == 4
    with open_project(tmp_path / "back") as back:
        assert _notes(back) == notes
        assert back.attributes() == attributes and back.attribute_names() == names == [
            "wave", "role"]
        again = import_refi(back, out)  # importing the same file again changes nothing
        assert again.notes_added == 0 and again.attributes_set == 0


def test_the_xml_alone_carries_memos_and_attributes(tmp_path: Path) -> None:
    """A file another tool re-saved (no isp-nlp state) still gives them back."""
    project, _, _ = coded_project(tmp_path)
    assert run("memo", "--code", "Coaching", "Why coaching.", "--coder", "ana",
               project=project).exit_code == 0
    csv = tmp_path / "attributes.csv"
    csv.write_text("document,role\nsite0,manager\n", "utf-8")
    assert run("attributes", str(csv), project=project).exit_code == 0
    out, bare = tmp_path / "out.qdpx", tmp_path / "bare.qdpx"
    with open_project(project) as store:
        write_qdpx(store, out)
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(bare, "w") as dst:
        for item in src.infolist():
            if not item.filename.startswith("isp-nlp/"):
                dst.writestr(item, src.read(item))
    outcome = import_refi_new_project(tmp_path / "back", bare, embedder="hashing-256")
    assert not outcome.from_state
    with open_project(tmp_path / "back") as back:
        [memo] = back.notes()
        assert (memo.dimension, memo.code, memo.text, memo.coder) == (
            "code", "coaching", "Why coaching.", "ana")
        assert back.attributes() == {"site0": {"role": "manager"}}


USER = "11111111-2222-3333-4444-555555555555"
SRC1, SRC2 = "aaaaaaaa-0000-0000-0000-000000000001", "aaaaaaaa-0000-0000-0000-000000000002"
V_AGE, V_SITE, V_LEAD = ("bbbbbbbb-0000-0000-0000-00000000000" + c for c in "123")
CODE, NOTE = "cccccccc-0000-0000-0000-000000000001", "dddddddd-0000-0000-0000-000000000001"

#: Cases as NVivo-style tools write them: a named participant case pointing at its source,
#: typed values; and one value given on the source itself.
QDE = f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="cases" origin="Other tool 1.0">
  <Users><User guid="{USER}" name="Rita"/></Users>
  <CodeBook><Codes>
    <Code guid="{CODE}" name="Hope" isCodable="true"><NoteRef targetGUID="{NOTE}"/></Code>
  </Codes></CodeBook>
  <Variables>
    <Variable guid="{V_AGE}" name="Age" typeOfVariable="Integer"/>
    <Variable guid="{V_SITE}" name="Site" typeOfVariable="Text"/>
    <Variable guid="{V_LEAD}" name="Lead" typeOfVariable="Boolean"/>
  </Variables>
  <Cases>
    <Case guid="eeeeeeee-0000-0000-0000-000000000001" name="Participant A">
      <VariableValue><VariableRef targetGUID="{V_AGE}"/><IntegerValue>41</IntegerValue>
      </VariableValue>
      <VariableValue><VariableRef targetGUID="{V_SITE}"/><TextValue>North</TextValue>
      </VariableValue>
      <SourceRef targetGUID="{SRC1}"/>
    </Case>
    <Case guid="eeeeeeee-0000-0000-0000-000000000002" name="Nobody">
      <VariableValue><VariableRef targetGUID="{V_SITE}"/><TextValue>Lost</TextValue>
      </VariableValue>
    </Case>
  </Cases>
  <Sources>
    <TextSource guid="{SRC1}" name="Interview A">
      <PlainTextContent>R: I hope it works.</PlainTextContent>
    </TextSource>
    <TextSource guid="{SRC2}" name="Interview B">
      <PlainTextContent>R: We lead it.</PlainTextContent>
      <VariableValue><VariableRef targetGUID="{V_LEAD}"/><BooleanValue>true</BooleanValue>
      </VariableValue>
    </TextSource>
  </Sources>
  <Notes>
    <Note guid="{NOTE}" name="Code memo" creatingUser="{USER}">
      <PlainTextContent>Hope is about the future.</PlainTextContent>
    </Note>
  </Notes>
</Project>
"""


def test_cases_variables_and_code_notes_of_another_tool_are_read(tmp_path: Path) -> None:
    path = tmp_path / "cases.qde"
    path.write_text(QDE, "utf-8")
    outcome = import_refi_new_project(tmp_path / "p", path, embedder="hashing-256")
    assert outcome.attributes == 3
    assert any("1 case(s) with variable values refer to no source" in w
               for w in outcome.warnings)
    with open_project(tmp_path / "p") as store:
        assert store.attributes() == {"Interview A": {"Age": "41", "Site": "North"},
                                      "Interview B": {"Lead": "true"}}
        assert store.attribute_names() == ["Age", "Site", "Lead"]
        [memo] = store.notes()
        assert memo == Note(title="Code memo", text="Hope is about the future.", guid=NOTE,
                            coder="Rita", dimension="code", code="hope",
                            created_at=memo.created_at)
    shown = run("attributes", "--table", "site", project=tmp_path / "p")
    assert shown.exit_code == 0 and "North" in shown.output and "(none)" in shown.output


@pytest.mark.parametrize(("values", "kind"), [
    (["1", "2", "-3"], "Integer"),
    (["1", "007"], "Text"),  # as an integer another tool would show 7
    (["0.5", "12.25"], "Float"),
    (["true", "false"], "Boolean"),
    (["2024-02-29", "2025-01-01"], "Date"),
    (["2025-02-29"], "Text"),  # no such day
    (["2021-10-30T08:45:00Z"], "DateTime"),
    (["north", "1"], "Text"),
])
def test_attribute_variables_are_typed_only_when_every_value_reads_back_as_written(
        values: list[str], kind: str) -> None:
    from isp_nlp.interchange.refi_xml import variable_type

    assert variable_type(values)[0] == kind


def test_typed_variables_validate_and_round_trip_exactly(tmp_path: Path) -> None:
    project, _, _ = coded_project(tmp_path)
    csv = tmp_path / "attributes.csv"
    csv.write_text("document,wave,lead,since,site\nsite0,1,true,2021-03-01,007\n"
                   "site1,2,false,2022-11-30,north\n", "utf-8")
    assert run("attributes", str(csv), project=project).exit_code == 0
    out = tmp_path / "out.qdpx"
    with open_project(project) as store:
        write_qdpx(store, out)
        attributes = store.attributes()
    _validate(out)
    qde = zipfile.ZipFile(out).read("project.qde").decode("utf-8")
    for name, kind in (("wave", "Integer"), ("lead", "Boolean"), ("since", "Date"),
                       ("site", "Text")):
        assert f'name="{name}" typeOfVariable="{kind}"' in qde
    assert "<IntegerValue>1</IntegerValue>" in qde and "<TextValue>007</TextValue>" in qde
    import_refi_new_project(tmp_path / "back", out, embedder="hashing-256")
    with open_project(tmp_path / "back") as back:
        assert back.attributes() == attributes
