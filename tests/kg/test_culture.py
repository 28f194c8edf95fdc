"""The Culture tree: society → HRAF region → world region, and the curated Last.fm tables."""

import pandas as pd
import pytest

from kg.culture import build_culture_tree, lastfm_culture_tags, region_id, slug
from loaders.errors import DataError


def _societies(rows):
    cols = ["society_id", "name", "latitude", "longitude", "glottocode", "region", "hraf_region"]
    return pd.DataFrame(rows, columns=cols)


QUECHUA = (
    "CCMCcusc1236",
    "Cusco Quechua",
    -14.1,
    -71.8,
    "cusc1236",
    "Western South America",
    "Central Andes",
)
EWE = ("CCMCewee1241", "Ewe", 6.5, 0.8, "ewee1241", "West Tropical Africa", "Western Africa")


def test_society_reaches_region_and_world_region():
    tree = build_culture_tree(_societies([QUECHUA, EWE]))
    assert tree.ancestors("CCMCcusc1236") == ["HRAF-central-andes", "WR-south-america"]
    assert tree.ancestors("CCMCewee1241") == ["HRAF-western-africa", "WR-africa"]
    levels = dict(zip(tree.nodes["id"], tree.nodes["level"], strict=True))
    assert levels["CCMCcusc1236"] == "society"
    assert levels["HRAF-central-andes"] == "region"
    assert levels["WR-south-america"] == "world_region"


def test_ccmc_region_is_a_property_not_a_level():
    tree = build_culture_tree(_societies([QUECHUA]))
    row = tree.nodes.set_index("id").loc["CCMCcusc1236"]
    assert row["ccmc_region"] == "Western South America"
    assert "Western South America" not in set(tree.nodes["name"])


def test_all_38_hraf_regions_have_a_world_region_and_8_world_regions_exist():
    tree = build_culture_tree(_societies([]))
    nodes = tree.nodes
    assert (nodes.level == "region").sum() >= 38
    assert (nodes.level == "world_region").sum() == 8
    regions = set(nodes.loc[nodes.level == "region", "id"])
    assert regions <= set(tree.part_of["child"])


def test_unknown_hraf_region_names_the_table_and_the_fix():
    bad = ("CCMCxxxx0000", "Nowhere", 0.0, 0.0, "xxxx0000", "Atlantis", "Atlantis")
    with pytest.raises(DataError, match=r"hraf_world_regions\.csv.*'Atlantis'.*add a row"):
        build_culture_tree(_societies([bad]))


def test_lastfm_cultures_hang_under_existing_regions_and_tags_resolve():
    tree = build_culture_tree(_societies([QUECHUA, EWE]))
    assert tree.ancestors("LFM-brazilian") == ["HRAF-eastern-south-america", "WR-south-america"]
    assert tree.ancestors("LFM-canadian") == ["LFM-anglo-america", "WR-north-america"]
    tags = lastfm_culture_tags(
        tree.__class__(
            nodes=pd.concat([tree.nodes, pd.DataFrame({"id": _ccmc_ids_in_tag_table()})]),
            part_of=tree.part_of,
        )
    )
    latin = set(tags.loc[tags.tag == "latin", "culture_id"])
    assert latin == {"WR-south-america", "WR-middle-america-and-the-caribbean"}


def _ccmc_ids_in_tag_table():
    from importlib import resources

    with resources.as_file(resources.files("kg") / "data" / "lastfm_culture_tags.csv") as p:
        ids = pd.read_csv(p)["culture_id"]
    return sorted({i for i in ids if i.startswith("CCMC")})


def test_slug_and_region_id():
    assert slug("Middle America and the Caribbean") == "middle-america-and-the-caribbean"
    assert region_id("Central Andes") == "HRAF-central-andes"
