"""The real CMS files in ../shared/data with the real MiniLM model (marked ``integration``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from codefinder.api.cli import main
from codefinder.indexer.settings import Settings
from codefinder.indexer.sources import read_source
from codefinder.models.encoder import resolve_weights
from codefinder.search.engine import SearchOptions
from codefinder.search.filters import Filters
from tests.conftest import shared_data_present

pytestmark = pytest.mark.integration

SETTINGS = Settings()
if not shared_data_present():
    pytest.skip(f"shared data not found at {SETTINGS.data_dir}", allow_module_level=True)


@pytest.fixture(scope="session")
def real_engine(real_context):
    return real_context.engine()


def top_codes(engine, query: str, n: int = 10) -> list[str]:
    return [hit.code for hit in engine.search(query, SearchOptions(limit=n)).hits]


def test_july_2025_workbook_counts():
    result = read_source(SETTINGS.data_dir / "hcpcs" / "HCPC2025_JUL_ANWEB_v3.xlsx")
    kinds = [record.kind for record in result.records]
    assert kinds.count("code") == 8387
    assert kinds.count("modifier") == 383


def test_2019_zip_fixed_width_matches_its_xlsx_twin(tmp_path: Path):
    import zipfile

    zipped = read_source(SETTINGS.data_dir / "hcpcs" / "2019-Alpha-Numeric-HCPCS-File.zip")
    assert zipped.shape == "hcpcs-fixed-width"
    with zipfile.ZipFile(SETTINGS.data_dir / "hcpcs" / "2019-Alpha-Numeric-HCPCS-File.zip") as archive:
        (tmp_path / "twin.xlsx").write_bytes(archive.read("HCPC2019_CONTR_ANWEB.xlsx"))
    twin = read_source(tmp_path / "twin.xlsx")
    text = {r.code: r for r in zipped.records}
    sheet = {r.code: r for r in twin.records}
    assert text.keys() == sheet.keys()
    differing = [code for code in text if text[code].long_description != sheet[code].long_description]
    assert len(differing) <= len(text) * 0.01, differing[:10]
    assert sum(1 for r in zipped.records if r.termination_date) > 100


def test_2020_workbook_with_note_rows():
    result = read_source(SETTINGS.data_dir / "hcpcs" / "HCPC2020_OCT_ANWEB.xlsx")
    assert len(result.records) > 7000
    assert {r.code: r for r in result.records}["E0601"].betos == "D1E"


def test_cpap_machine(real_engine):
    assert top_codes(real_engine, "cpap machine")[0] == "E0601"


def test_standard_wheelchair(real_engine):
    assert "K0001" in top_codes(real_engine, "standard wheelchair", 3)


def test_keytruda_from_the_crosswalk(real_engine):
    response = real_engine.search("keytruda")
    assert response.hits[0].code == "J9271"
    assert "keytruda" in response.hits[0].matched_synonyms


def test_oxygen_concentrator_from_the_cli(real_context):
    result = CliRunner().invoke(main, ["search", "--json", "oxygen concentrator"], obj=real_context)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["hits"][0]["code"] == "E1390"


def test_manifest_of_the_real_build(real_engine):
    manifest = real_engine.index.manifest
    assert manifest["counts"]["by_kind"]["modifier"] == 383
    weights = resolve_weights(SETTINGS.encoder_model)  # the configured weights, named by what they hold
    assert manifest["model"]["name"] == weights.name and manifest["model"]["dimension"] == 384
    assert manifest["model"]["weights_sha256"] == weights.sha256
    assert [s["shape"] for s in manifest["sources"]] == [
        "hcpcs-workbook",
        "hcpcs-noc-workbook",
        "opps-addendum-b",
        "asp-crosswalk",
    ]


@pytest.mark.parametrize("query", ["pizza delivery tonight", "asdfgh qwerty", "car insurance"])
def test_no_good_match_for_junk(real_engine, query):
    assert real_engine.search(query).no_good_match is True


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("toradol", "J1885"),
        ("kenalog injection", "J3301"),
        ("wheelchiar", "K0001"),
        ("CATH BAL ESOPH 15-18MM", "C1726"),
        ("normal saline 1000 ml", "J7030"),
    ],
)
def test_domain_knowledge_on_the_real_index(real_engine, query, code):
    response = real_engine.search(query)
    assert code in [hit.code for hit in response.hits[:3]], [hit.code for hit in response.hits[:5]]
    assert response.no_good_match is False


def test_a_drug_eluting_coronary_stent_is_the_coated_stent(real_engine):
    assert top_codes(real_engine, "stent coronary drug eluting", 1) == ["C1874"]  # not the bare-metal C1876
    assert top_codes(real_engine, "bare metal stent", 1) == ["C1876"]


def test_what_a_query_names_of_an_item_decides_among_its_codes(real_engine):
    assert top_codes(real_engine, "lso brace", 1) != ["L1200"]  # a lumbar-sacral orthosis is not the TLSO
    assert top_codes(real_engine, "cpap headgear", 1) == ["A7035"]  # the part named, not the CPAP device
    assert top_codes(real_engine, "midazolam 2 mg iv", 1) == ["J2250"]  # its route makes no maker's code likelier
    assert top_codes(real_engine, "acetaminophen 1000 mg iv", 1) == ["J0131"]  # not the one with ibuprofen
    assert top_codes(real_engine, "rocefin 1 gram", 1) == ["J0696"]  # an f for the ph of rocephin


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("red blood cells irradiated", "P9038"),  # not also leukocytes reduced: the plain sibling first
        ("gallium 67 citrate 5 mci", "A9556"),  # ga-67, not C9067's ga-68
        ("iodine i-131 sodium iodide solution tx", "A9530"),  # tx: the therapeutic dose
        ("short arm fiberglass cast adult", "Q4010"),  # fiberglass, not plaster; short arm, not splint
        ("digital hearing aid monaural behind the ear", "V5257"),  # digital, not programmable analog
        ("aluminum underarm crutches pair", "E0114"),  # aluminum is other than wood
        ("hchg clinic level 3", "G0463"),  # any clinic level is the hospital outpatient clinic visit
    ],
)
def test_sibling_attributes_read_from_descriptors_on_the_real_index(real_engine, query, code):
    assert top_codes(real_engine, query, 1) == [code], top_codes(real_engine, query, 5)


def test_real_index_reads_the_language_of_its_query_model(real_engine):
    lexicon = real_engine.index.lexicon
    assert len(lexicon) > 15000 and {"puts", "bends", "knee"} <= lexicon and "wheelchiar" not in lexicon
    corrected = real_engine.search("machine that slowly bends my knee").did_you_mean
    assert corrected is None or "bends" in corrected


@pytest.mark.parametrize(
    ("query", "code", "kind"),
    [
        ("CATH MAHURKAR 12FR 16CM", "C1752", "device"),
        ("HCHG TIXAGEV AND CILGAV INJ", "M0220", "truncation"),
        ("NOREPINEPHRINE 4MG/4ML SOLN 4 ML VIAL", "J3490", "unclassified"),
    ],
)
def test_device_truncation_and_unclassified_knowledge_on_the_real_index(real_engine, query, code, kind):
    response = real_engine.search(query)
    assert code in [hit.code for hit in response.hits[:3]], [hit.code for hit in response.hits[:5]]
    assert kind in {expansion["kind"] for expansion in response.expansions}


def test_code_history_marks_long_terminated_codes(real_engine):
    history = real_engine.index.manifest["history"]
    assert [source["name"] for source in history["sources"]] == [
        "HCPC2020_OCT_ANWEB.xlsx",
        "2019-Alpha-Numeric-HCPCS-File.zip:HCPC2019_CONTR_ANWEB.txt",
    ]
    assert history["filled"]["termination_date"] > 600
    assert real_engine.lookup("C9027").termination_date == "2015-12-31"  # pembrolizumab pass-through, ended
    assert "C9027" not in top_codes(real_engine, "pembrolizumab")
    everything = real_engine.search("pembrolizumab", SearchOptions(filters=Filters(include_terminated=True)))
    codes = [hit.code for hit in everything.hits]
    assert codes[0] == "J9271" and codes.index("C9027") > 0


def test_contractions_slashed_letters_and_the_hospital_setting_on_the_real_index(real_engine):
    mahurkar = real_engine.search("MHRKR DIALYSIS CATHETER")
    assert mahurkar.hits[0].code == "C1752" and "contraction" in {e["kind"] for e in mahurkar.expansions}
    assert top_codes(real_engine, "RBC L/R", 1) == ["P9016"]  # red blood cells, leukocytes reduced
    assert top_codes(real_engine, "implanted port chest", 1) == ["A4301"]
    hospital = real_engine.search("implanted port chest", SearchOptions(setting="hospital"))
    assert hospital.hits[0].code == "C1788"  # Port, indwelling (implantable): the OPPS device category


def test_verify_on_the_real_index(real_engine):
    from codefinder.search.verify import verify

    assert verify(real_engine, "remicade infusion", "J1745").verdict == "consistent"
    walker = verify(real_engine, "walker", "J1745")
    assert walker.verdict == "suspect" and walker.better_candidates
    # the example: a CPAP code on a bi-level device, with one line of why
    bipap = verify(real_engine, "bipap machine", "E0601")
    assert bipap.verdict == "suspect"
    assert any("the description says bi-level" in reason.message for reason in bipap.reasons), bipap.reasons
    assert verify(real_engine, "cpap machine", "E0601").verdict == "consistent"
    wheeled = verify(real_engine, "walker with wheels", "E0130")  # a pickup walker has none
    assert wheeled.verdict == "suspect"
    assert any("E0130 is without wheels" in reason.message for reason in wheeled.reasons), wheeled.reasons
    # a code newer lists dropped, on a line it fits: outdated, not suspect, and the flag names its successor
    outdated = verify(real_engine, "LIDOCAINE 1% SOLN", "J2001", setting="hospital")
    assert outdated.verdict == "consistent"
    assert any(flag.message.endswith("current code for it: J2003") for flag in outdated.flags), outdated.flags


def test_onnx_encoder_matches_sentence_transformers(real_context):
    """The serving encoder (ONNX, exported at build time) gives the vectors the index was built with."""
    import numpy as np

    from codefinder.indexer import layout
    from codefinder.models.encoder import SentenceTransformerEncoder, resolve_weights
    from codefinder.models.onnx_encoder import OnnxEncoder, ensure_onnx

    weights = resolve_weights(real_context.settings.encoder_model)
    torch_side = SentenceTransformerEncoder(weights=weights)
    texts = ["cpap machine", "INJ KETOROLAC 15MG", "Continuous positive airway pressure (cpap) device", "x " * 400]
    reference = torch_side.encode(texts)
    fp32 = OnnxEncoder(ensure_onnx(real_context.settings.cache_dir, weights))  # what the build embeds the corpus with
    assert fp32.name == torch_side.name == weights.name
    assert np.allclose(fp32.encode(texts), reference, atol=1e-4)
    # a padded batch must embed each text exactly as alone (the build embeds in batches)
    assert np.allclose(fp32.encode(texts, batch_size=64), np.vstack([fp32.encode([t]) for t in texts]), atol=1e-5)
    served = OnnxEncoder(layout.resolve_build_dir(real_context.settings.index) / layout.MODEL_DIR, int8=True)
    assert served.variant == "int8"
    assert (np.sum(served.encode(texts) * reference, axis=1) > 0.9).all()  # int8: recall effect in README
    # int8 quantizes by the range of the whole batch: a text must embed as alone, or a batch would rank it otherwise
    alone = np.vstack([served.encode([t]) for t in texts])
    assert np.array_equal(served.encode(texts, batch_size=64), alone)


def test_a_batch_ranks_each_text_as_a_single_search_does(real_context):
    """Two engines that keep no query vectors: one searches the texts one by one, the other as a batch."""
    from codefinder.search.engine_factory import open_engine

    settings = real_context.settings.model_copy(update={"query_embedding_cache": 0})
    single, batch = (open_engine(settings.index, settings, real_context.encoder()) for _ in range(2))
    texts = ["INJ KETOROLAC 15MG", "cpap machine", "hinged knee brace off the shelf", "CATH FOLEY 2WAY 16FR 5CC"]
    alone = [[(h.code, h.score) for h in single.search(t, SearchOptions(limit=10)).hits] for t in texts]
    batched = [[(h.code, h.score) for h in r.hits] for r in batch.search_many(texts, SearchOptions(limit=10))]
    assert batched == alone


def test_serving_never_imports_torch(real_context):
    import subprocess
    import sys

    code = (
        "import sys; from api.context import AppContext; from indexer.settings import Settings; "
        f"e = AppContext(settings=Settings(index={str(real_context.settings.index)!r})).engine(); "
        "e.search('cpap machine'); print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip().endswith("False")


def test_suggest_reads_a_note_on_the_real_index(real_engine):
    from codefinder import suggest

    note = (
        "ED course: cellulitis of the left lower leg. BP 138/84.\n"
        "- Ceftriaxone 1 g IVPB given.\n"
        "- Heparin 5,000 units SC held for low platelets.\n"
        "Left ankle foot orthosis, off the shelf. Pt tolerated well."
    )
    items = {item.codes[0].code: item for item in suggest(real_engine, note).items if item.codes}
    ceftriaxone = items["J0696"]
    assert ceftriaxone.codes[0].units["units"] == 4 and not ceftriaxone.negated
    assert note[ceftriaxone.start : ceftriaxone.end].startswith("Ceftriaxone 1 g IVPB")
    heparin = next(item for code, item in items.items() if code.startswith("J16"))
    assert heparin.negated
    orthosis = next(item for code, item in items.items() if code.startswith("L"))
    assert orthosis.codes[0].modifiers == ["LT"]
    assert not any(code.startswith(("E07", "P90")) for code in items)  # the leg is a site, platelets a reason


def test_a_biologic_of_human_origin_keeps_its_place_in_a_note(real_engine):
    """ "Infusion, albumin (human), 5%, 250 ml" is the albumin code; the iodinated serum albumin that also
    names albumin is another product, not the general code to put it behind."""
    from codefinder import suggest

    items = suggest(real_engine, "Albumin 5% 250 mL IV.").items
    assert items and items[0].codes[0].code == "P9045"


def test_an_accessory_next_to_its_equipment_is_read_as_the_equipments(real_engine):
    """ "tubing" right after a CPAP machine is CPAP tubing; sentences later it is read on its own."""
    from codefinder import suggest

    near = suggest(real_engine, "CPAP machine set up at home. Full face mask and tubing provided.").items
    tubing = next(item for item in near if item.text == "tubing")
    assert tubing.query == "cpap tubing" and tubing.codes[0].code == "A7037"
    far = "CPAP machine set up at home. Pt tolerated well. Lungs clear bilaterally. Tubing provided."
    assert all(item.query == item.text for item in suggest(real_engine, far).items)


def test_the_shipped_fine_tuned_weights_load_offline_match_their_record_and_embed_deterministically(monkeypatch):
    """The encoder fine-tuned on CMS text ships in the package: its weights are the ones train-encoder recorded,
    load without a network, and give the same vectors every time (torch and the fp32 ONNX export alike)."""
    import numpy as np

    from codefinder.models.encoder import FINETUNED_DIR, SentenceTransformerEncoder, recorded_digest
    from codefinder.models.onnx_encoder import OnnxEncoder, ensure_onnx

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    if not (FINETUNED_DIR / "training.json").is_file():
        pytest.skip("no fine-tuned weights shipped (the default encoder is base; docs/encoder.md)")
    weights = resolve_weights("finetuned")
    assert weights.path == FINETUNED_DIR and weights.sha256 == recorded_digest(FINETUNED_DIR)
    assert weights.name == f"all-MiniLM-L6-v2-cms-{weights.sha256[:12]}"
    record = json.loads((FINETUNED_DIR / "training.json").read_text())
    assert {entry["name"] for entry in record["inputs"]} <= {p.name for p in SETTINGS.data_dir.rglob("*")}
    assert not any("eval" in entry["name"] or "chargemaster" in entry["name"] for entry in record["inputs"])
    texts = ["FOAM DRSG <=16 SQ IN W/O BDR", "keytruda", "Walker, rigid (pickup), adjustable or fixed height"]
    first = SentenceTransformerEncoder(weights=weights).encode(texts)
    again = SentenceTransformerEncoder(weights=weights).encode(texts)
    assert first.dtype == np.float32 and np.array_equal(first, again)
    exported = OnnxEncoder(ensure_onnx(SETTINGS.cache_dir, weights))
    assert exported.name == weights.name and exported.weights_sha256 == weights.sha256
    assert np.allclose(exported.encode(texts), first, atol=1e-4)
    base = SentenceTransformerEncoder(weights=resolve_weights("base")).encode(texts)
    assert not np.allclose(base, first, atol=1e-3)  # fine-tuning changed the model


def test_a_hyphenated_descriptor_word_matches_its_one_word_spelling(real_engine):
    """E0471 says "back-up rate", its siblings "backup rate": the query's spelling must not decide."""
    from codefinder.indexer.text import hyphen_joins

    assert hyphen_joins("bi-level pressure, with back-up rate; e.g., 10-mg") == ["bilevel", "backup"]
    assert "E0471" in top_codes(real_engine, "bipap st with backup rate")[:2]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("HEPARIN 25,000 UNITS IN D5W 250 ML", "J1644"),  # the drug, not 5% dextrose/water
        ("VANCOMYCIN 1 G IN NS 250 ML", "J3373"),  # not normal saline 250 cc
        ("OXYTOCIN 30 UNITS IN LR 500 ML", "J2590"),  # not Ringer's lactate
        ("5% dextrose in lactated ringers 1000 ml", "J7121"),  # the fluid itself is ordered
    ],
)
def test_a_premixed_drug_order_is_coded_by_its_drug_not_its_vehicle(real_engine, query, code):
    assert top_codes(real_engine, query)[0] == code


def test_a_colostomy_or_ileostomy_is_an_ostomy(real_engine):
    for query in ("colostomy pouch", "ileostomy pouch"):
        top = real_engine.search(query, SearchOptions(limit=1)).hits[0]
        assert (top.long_description or "").lower().startswith("ostomy pouch")


def test_a_limb_prosthesis_is_found_by_its_range_heading(real_engine):
    """L5100 "Below knee, molded socket, …" never says prosthesis: its range heading does."""
    from codefinder.indexer.taxonomy import range_heading

    assert range_heading("L5100") == "lower limb prosthesis prosthetic" and range_heading("L3000") == ""
    assert top_codes(real_engine, "prosthetic leg")[0].startswith("L5")
    assert top_codes(real_engine, "below elbow prosthesis")[0].startswith("L6")
    assert any(code in ("L5100", "L5105") for code in top_codes(real_engine, "below knee prosthesis")[:2])


def test_an_orthosis_not_said_to_be_custom_is_the_prefabricated_one(real_engine):
    # CMS's orthosis descriptors end in how the item is made, after what it includes
    assert top_codes(real_engine, "lumbar sacral orthosis flexible")[0] == "L0628"  # prefabricated, off-the-shelf
    assert top_codes(real_engine, "sacroiliac orthosis rigid panel")[0] == "L0623"
    assert top_codes(real_engine, "lso custom fabricated flexible")[0] == "L0629"


def test_enteral_formula_brands_name_their_formula_category(real_engine):
    # facts about products (data/knowledge/devices.csv); the category words are CMS's own
    assert top_codes(real_engine, "ensure plus 8 oz")[0] == "B4152"  # calorically dense, adult
    assert top_codes(real_engine, "glucerna")[0] == "B4154"  # special metabolic needs, not inherited
    assert top_codes(real_engine, "pediasure")[0] == "B4158"


def test_a_service_about_an_item_follows_the_item(real_engine):
    assert top_codes(real_engine, "hearing aid")[0] in {"V5030", "V5040", "V5050", "V5060"}  # not "Assessment for"
    assert top_codes(real_engine, "hearing aid assessment")[0] == "V5010"
