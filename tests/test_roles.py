"""Record roles on made-up descriptors: parts, their names and hosts, special variants, and the reranking rule."""

from __future__ import annotations

from codefinder.indexer.records import CodeRecord
from codefinder.indexer.roles import Role, generic_names, item_heads, item_qualifiers, record_role
from codefinder.indexer.text import analyze
from codefinder.search.rerank import apply_base_item_first, apply_plain_sibling_first, descriptor_words

ITEMS = [
    CodeRecord.new("E9001", long_description="Zimmer frame, folding, adjustable"),
    CodeRecord.new("E9002", long_description="Zimmer frame, rigid, wheeled"),
    CodeRecord.new("E9003", long_description="Zimmer frame, heavy duty, wheeled"),
    CodeRecord.new("E9004", long_description="Seat attachment, zimmer frame"),
    CodeRecord.new("E9005", long_description="Glow probe for use with glowmeter device, replacement"),
    CodeRecord.new("E9006", long_description="Glowmeter device for measuring glow levels"),
    CodeRecord.new("E9007", long_description="Bed, institutional type, with mattress"),
    CodeRecord.new("E9008", long_description="Bed, fixed height, with mattress"),
    CodeRecord.new("A9001", long_description="Trach tube, cuffed, each"),
    CodeRecord.new("A9002", long_description="Trach tube collar/holder, each"),
    CodeRecord.new("E9009", long_description="Wheelcart accessory, tray, each"),
    CodeRecord.new("E9010", long_description="Sleep monitor, with recording feature"),
    CodeRecord.new("E9011", long_description="Commode seat, zimmer frame"),
    CodeRecord.new(
        "J9001", long_description="Injection, madeupine (brandol), not therapeutically equivalent to j9002, 1 mg"
    ),
    CodeRecord.new("J9002", long_description="Injection, madeupine, not otherwise specified, 1 mg"),
    CodeRecord.new("E9012", long_description="Madeup chair, not otherwise classified"),
    CodeRecord.new(
        "J9003",
        long_description="Injection, madeupine in sodium chloride, not therapeutically equivalent to j9002, 1 mg",
    ),
    CodeRecord.new("J9004", long_description="Injection, madeupine (acme labs), 1 mg"),
    CodeRecord.new("J9005", long_description="Injection, othermadeup (zeta), 1 mg"),
    CodeRecord.new("L9001", long_description="Thoracic, rib belt, custom fabricated"),
    CodeRecord.new("A9003", long_description="Ostomy belt, each"),
    CodeRecord.new("E9013", long_description="Poles, forearm, pair, with tips"),
    CodeRecord.new("E9014", long_description="Pole forearm, each, with tip"),
    CodeRecord.new("A9004", long_description="Madeupium sodium salt, diagnostic, per unit"),
    CodeRecord.new("A9005", long_description="Madeupium sodium salt capsule(s), diagnostic, per unit"),
    CodeRecord.new("E9015", long_description="Madeup monitor or receiver, non-implanted"),
    CodeRecord.new("E9016", long_description="Madeup monitor, non-implanted"),
    CodeRecord.new("A9006", long_description="Receiver, for use with madeup monitor"),
    CodeRecord.new("J9006", long_description="Injection, madeupzumab, excludes biosimilar, 10 mg"),
    CodeRecord.new("J9007", long_description="Injection, madeupzumab-wxyz, biosimilar, 10 mg"),
    CodeRecord.new("J9008", long_description="Injection, tbo-madeupzumab, 1 mg"),
    CodeRecord.new("J9009", long_description="Injection, madeupfen 10 mg and otherfen 3 mg"),
    CodeRecord.new("J9010", long_description="Injection, madeupfen, not otherwise specified, 10 mg"),
    CodeRecord.new("E9017", long_description="Crutchsticks, underarm, adjustable, pair"),
    CodeRecord.new("L9002", long_description="Addition to madeup prosthesis, user adjustable heel height"),
    CodeRecord.new("L9003", long_description="All madeup prosthesis, cushion heel foot, replacement only"),
]


def roles() -> dict[str, Role]:
    items, generics, qualifiers = item_heads(ITEMS), generic_names(ITEMS), item_qualifiers(ITEMS)
    dosed = {"J9001", "J9002", "J9003", "J9004", "J9005", "J9006", "J9007", "J9008", "J9009", "J9010"}
    return {record.code: record_role(record, items, record.code in dosed, generics, qualifiers) for record in ITEMS}


def stems(text: str) -> frozenset[str]:
    return frozenset(analyze(text))


def test_base_items_are_not_parts():
    found = roles()
    assert not any(found[code].part for code in ("E9001", "E9002", "E9006", "E9008", "A9001"))


def test_parts_by_their_own_wording():
    found = roles()
    assert found["E9004"].part and found["E9004"].part_nouns == ("seat",)  # "Seat attachment, zimmer frame"
    assert found["E9005"].part and found["E9005"].part_nouns == tuple(analyze("probe"))  # "for use with …"
    assert found["E9009"].part and found["E9009"].part_nouns == tuple(analyze("tray"))  # "accessory, tray"


def test_parts_by_the_item_they_name():
    found = roles()
    assert found["E9011"].part  # "Commode seat, zimmer frame": a seat for another item
    assert found["A9002"].part and set(found["A9002"].part_nouns) == stems("collar holder")  # a holder for a tube


def test_a_kind_of_an_item_or_a_form_of_a_drug_is_not_a_part():
    found = roles()
    assert not found["E9014"].part  # "Pole forearm": what "Poles, forearm" says, not a forearm for a pole
    assert not found["A9005"].part  # the salt in capsules, not a capsule belonging to the salt


def test_a_part_knows_what_it_goes_with():
    found = roles()
    assert found["E9005"].host == ("glowmet",)  # "for use with glowmeter device"
    assert set(found["L9002"].host) == stems("addition to madeup prosthesis")
    assert found["L9003"].part and found["L9003"].part_nouns == ("foot",)  # "All <hosts>, … foot"


def test_special_variants():
    found = roles()
    assert [name for name, _ in found["E9007"].variants] == ["institutional"]
    assert [name for name, _ in found["E9003"].variants] == ["heavy duty"]
    assert [name for name, _ in found["E9010"].variants] == ["feature"]  # "with recording feature"
    assert [name for name, _ in found["J9001"].variants] == ["maker"]
    assert [name for name, _ in found["J9003"].variants] == ["maker"]  # no maker named: still another's code
    assert found["J9002"].variants == ()  # a drug's generic code, beside makers' own codes
    assert [name for name, _ in found["J9004"].variants] == ["maker"]  # one product's code beside the generic
    assert found["J9005"].variants == ()  # a qualifier in brackets, no generic code beside it
    assert [name for name, _ in found["E9012"].variants] == ["not otherwise"]


def test_a_newborn_a_one_payer_and_an_air_version_are_special_variants():
    made_up = [
        CodeRecord.new("A9901", long_description="Ambulance service, basic transport, one way"),
        CodeRecord.new("A9902", long_description="Ambulance service, neonatal transport, one way"),
        CodeRecord.new("A9903", long_description="Ambulance service, transport per mile (medicaid only)"),
        CodeRecord.new("A9904", long_description="Ambulance service, conventional air services, transport"),
    ]
    items = item_heads(made_up)
    found = {r.code: record_role(r, items, False, generic_names(made_up), item_qualifiers(made_up)) for r in made_up}
    assert found["A9901"].variants == ()
    assert [name for name, _ in found["A9902"].variants] == ["neonatal"]
    assert [name for name, _ in found["A9903"].variants] == ["medicaid only"]
    assert [name for name, _ in found["A9904"].variants] == ["air services"]


def test_sizes_made_for_children_are_special_variants():
    made_up = [
        CodeRecord.new("L9901", long_description="Made-up boot, each"),
        CodeRecord.new("L9902", long_description="Made-up boot, each, junior"),
        CodeRecord.new("L9903", long_description="Made-up boot, each, infant"),
        CodeRecord.new("T9904", long_description="Youth sized made-up brief, each"),
    ]
    items = item_heads(made_up)
    found = {r.code: record_role(r, items, False, generic_names(made_up), item_qualifiers(made_up)) for r in made_up}
    assert found["L9901"].variants == ()
    assert [name for name, _ in found["L9902"].variants] == ["junior"]
    assert "child" in dict(found["L9902"].variants)["junior"]  # a query saying "child" states it
    assert [name for name, _ in found["L9903"].variants] == ["infant"]
    assert [name for name, _ in found["T9904"].variants] == ["youth"]


def test_related_products_and_combinations_are_variants_of_the_plain_drug():
    found = roles()
    assert found["J9006"].variants == ()
    assert found["J9007"].variants == (("affix", ("wxyz",)),)  # a biosimilar's four-letter suffix
    assert found["J9008"].variants == (("affix", ("tbo",)),)  # a related molecule's prefix
    assert found["J9009"].variants == (("combination", ("otherfen",)),)  # the second drug, not the amounts
    assert found["J9010"].variants == ()  # the drug's generic code


def test_roles_survive_json():
    for role in roles().values():
        assert Role.from_json(role.to_json()) == role


def rerank(query: str, scores: dict[str, float], **settings: float) -> list[str]:
    found = roles()
    codes = list(scores)
    fused = {i: scores[code] for i, code in enumerate(codes)}
    penalties = {"part_penalty": 0.25, "variant_penalty": 0.15} | settings
    adjusted = apply_base_item_first(fused, stems(query), lambda row: found[codes[row]], **penalties)
    return [codes[row] for row in sorted(adjusted, key=adjusted.get, reverse=True)]


def test_the_base_item_comes_before_its_parts():
    assert rerank("zimmer frame", {"E9004": 1.0, "E9001": 0.9})[0] == "E9001"
    assert rerank("glowmeter", {"E9005": 1.0, "E9006": 0.95})[0] == "E9006"


def test_a_named_part_is_wanted():
    assert rerank("zimmer frame seat", {"E9004": 1.0, "E9001": 0.9})[0] == "E9004"
    assert rerank("glowmeter probe", {"E9005": 1.0, "E9006": 0.95})[0] == "E9005"
    assert rerank("zimmer frame accessory", {"E9004": 1.0, "E9001": 0.9})[0] == "E9004"


def test_a_base_item_that_names_the_part_keeps_its_place():
    found = roles()
    codes = ["E9016", "A9006", "E9015"]
    described = {0: stems("Madeup monitor, non-implanted"), 2: stems("Madeup monitor or receiver, non-implanted")}
    adjusted = apply_base_item_first(
        {0: 1.0, 1: 0.9, 2: 0.95},
        stems("madeup monitor receiver"),
        lambda row: found[codes[row]],
        0.25,
        0.15,
        0.15,
        described=lambda row: described.get(row, frozenset()),
    )
    assert adjusted[0] < 1.0  # the monitor without the receiver the query names
    assert adjusted[2] == 0.95  # "monitor or receiver" names it


def test_only_the_item_a_named_part_goes_with_gives_way_to_it():
    def named(query: str, scores: dict[str, float]) -> list[str]:
        return rerank(query, scores, named_part_penalty=0.15)

    assert named("glowmeter probe", {"E9006": 1.0, "E9005": 0.9})[0] == "E9005"
    # "height" names the heel-height part, but crutchsticks are not what that part goes with
    assert named("crutchsticks underarm adjustable height", {"E9017": 1.0, "L9002": 0.9})[0] == "E9017"


def test_a_variant_ranks_below_the_plain_item_unless_stated():
    assert rerank("bed", {"E9007": 1.0, "E9008": 0.9})[0] == "E9008"
    assert rerank("institutional bed", {"E9007": 1.0, "E9008": 0.9})[0] == "E9007"
    assert rerank("madeupine injection", {"J9001": 1.0, "J9002": 0.95})[0] == "J9002"
    assert rerank("brandol", {"J9001": 1.0, "J9002": 0.95})[0] == "J9001"  # the record's own name


def test_a_variant_the_query_specifies_by_its_attributes_keeps_its_place():
    found = rerank("zimmer frame", {"E9003": 1.0, "E9002": 0.9})
    assert found[0] == "E9002"
    roles_ = roles()
    codes = ["E9003", "E9002"]
    adjusted = apply_base_item_first(
        {0: 1.0, 1: 0.9}, stems("zimmer frame 500 lb"), lambda row: roles_[codes[row]], 0.25, 0.15, specified={0}
    )
    assert adjusted[0] > adjusted[1]


def test_the_plain_drug_comes_first_unless_the_query_names_the_variant():
    assert rerank("madeupzumab 150 mg 1 each", {"J9008": 1.0, "J9007": 0.98, "J9006": 0.95})[0] == "J9006"
    assert rerank("madeupzumab-wxyz 500 mg", {"J9006": 1.0, "J9007": 0.95})[0] == "J9007"
    assert rerank("madeupfen 1000 mg iv", {"J9009": 1.0, "J9010": 0.95})[0] == "J9010"


def test_a_variant_with_no_plain_sibling_keeps_its_place():
    assert rerank("rib belt", {"L9001": 1.0, "A9003": 0.95})[0] == "L9001"


def test_rows_far_below_the_top_are_left_alone():
    assert rerank("zimmer frame", {"E9001": 1.0, "E9004": 0.3}) == ["E9001", "E9004"]


def plain_first(query: str, descriptors: dict[str, float], synonyms: dict[str, str] | None = None) -> list[str]:
    """Rank made-up descriptors (text -> fused score) through the plain-sibling rule alone."""
    texts = list(descriptors)
    extra = synonyms or {}
    adjusted = apply_plain_sibling_first(
        {i: descriptors[text] for i, text in enumerate(texts)},
        stems(query),
        lambda row: descriptor_words(texts[row]),
        lambda row: stems(f"{texts[row]} {extra.get(texts[row], '')}"),
        0.15,
    )
    return [texts[row] for row in sorted(adjusted, key=adjusted.get, reverse=True)]


def test_the_plain_sibling_comes_before_one_with_qualifiers_the_query_does_not_state():
    cells = {"Madeup cells, filtered, each unit": 1.0, "Madeup cells, each unit": 0.95}
    assert plain_first("madeup cells", cells)[0] == "Madeup cells, each unit"
    assert plain_first("madeup cells filtered", cells)[0] == "Madeup cells, filtered, each unit"
    # a word only the qualified item has (a brand among its synonyms) states it too
    branded = {"Madeup cells, filtered, each unit": "cellfilt"}
    assert plain_first("cellfilt", cells, branded)[0] == "Madeup cells, filtered, each unit"


def test_bounds_negations_and_numbers_are_not_qualifiers():
    # "more than 16 sq in" and "non-compounded" change what the shorter descriptor says: attributes decide
    pads = {"Madeup pad, more than 16 sq in": 1.0, "Madeup pad, 16 sq in": 0.95}
    assert plain_first("madeup pad", pads)[0] == "Madeup pad, more than 16 sq in"
    drugs = {"Madeupcin, non-compounded, unit dose": 1.0, "Madeupcin, compounded, unit dose": 0.95}
    assert plain_first("madeupcin", drugs)[0] == "Madeupcin, non-compounded, unit dose"
    kits = {"Madeup kit, 2 pieces": 1.0, "Madeup kit": 0.95}
    assert plain_first("madeup kit", kits)[0] == "Madeup kit, 2 pieces"


def test_a_qualified_item_with_no_plain_sibling_near_the_top_keeps_its_place():
    assert (
        plain_first("madeup cells", {"Madeup cells, filtered, each unit": 1.0, "Madeup cells, each unit": 0.3})[0]
        == "Madeup cells, filtered, each unit"
    )


def test_how_an_orthosis_is_made_is_read_after_what_it_includes():
    custom = CodeRecord.new(
        "L9101",
        long_description="Madeup orthosis, flexible, includes straps, closures, may include stays, custom fabricated",
    )
    prefab = CodeRecord.new(
        "L9102", long_description="Madeup orthosis, flexible, includes straps, closures, prefabricated, off-the-shelf"
    )
    shoe = CodeRecord.new("A9101", long_description="For madeups only, custom preparation and supply of madeup shoe")
    either = CodeRecord.new("A9102", long_description="Lift for madeup shoe or custom-molded shoe, per shoe")
    molded = CodeRecord.new("A9103", long_description="For madeups only, supply of madeup shoe (custom molded shoe)")
    found = {r.code: record_role(r, {}, False, frozenset(), {}) for r in (custom, prefab, shoe, either, molded)}
    assert [name for name, _ in found["L9101"].variants] == ["custom fabricated"]
    assert found["L9102"].variants == ()
    assert found["A9101"].variants == ()  # a custom preparation of an off-the-shelf shoe is the plain item
    assert found["A9102"].variants == ()  # "or custom-molded": either shoe
    assert [name for name, _ in found["A9103"].variants] == ["custom molded"]


def test_adapters_modifications_and_deluxe_upgrades_are_not_the_item():
    adapter = CodeRecord.new("C9101", long_description="Adapter/extension, madeup lead (implantable)")
    modified = CodeRecord.new(
        "A9104", long_description="For madeups only, modification (including fitting) of madeup shoe, per shoe"
    )
    deluxe = CodeRecord.new("V9101", long_description="Deluxe madeup frame")
    children = CodeRecord.new("B9101", long_description="Madeup formula, for pediatrics, nutritionally complete")
    telescopic = CodeRecord.new("C9102", long_description="Lens, madeupocular (telescopic)")
    records = (adapter, modified, deluxe, children, telescopic)
    found = {r.code: record_role(r, {}, False, frozenset(), {}) for r in records}
    assert found["C9101"].part and "adapt" in found["C9101"].part_words  # "lead adapter" names it
    assert found["A9104"].part
    assert [name for name, _ in found["V9101"].variants] == ["deluxe"]
    assert [name for name, _ in found["B9101"].variants] == ["pediatrics"]  # "for" does not end in "or "
    assert [name for name, _ in found["C9102"].variants] == ["telescopic"]


def test_a_custom_item_is_a_variant_but_a_custom_preparation_is_not():
    stocking = CodeRecord.new("A9111", long_description="Madeup stocking, thigh length, 30-40 mmhg, custom, each")
    shoe = CodeRecord.new("A9112", long_description="For madeups only, custom preparation and supply of madeup shoe")
    assert [n for n, _ in record_role(stocking, {}, False, frozenset(), {}).variants] == ["custom"]
    assert record_role(shoe, {}, False, frozenset(), {}).variants == ()


def test_a_service_about_an_item_is_not_the_item():
    assessment = CodeRecord.new("V9101", long_description="Assessment for madeup aid")
    fitting = CodeRecord.new("V9102", long_description="Fitting/orientation/checking of madeup aid")
    fee = CodeRecord.new("V9103", long_description="Dispensing fee, monaural madeup aid, any type")
    found = {r.code: record_role(r, {}, False, frozenset(), {}) for r in (assessment, fitting, fee)}
    assert all(role.part for role in found.values())
    assert found["V9101"].part_words == ("assess",) and found["V9102"].host == ("madeup", "aid")
    assert "madeup" not in found["V9102"].part_words  # "madeup aid" is what it is about, not what it is
