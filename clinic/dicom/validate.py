"""A check of a written object against the IOD tables of the DICOM standard that highdicom ships.

The registry's validator (`dicom-validator`) downloads the standard from dicom.nema.org on first use, which an
offline clinic machine cannot; highdicom bundles the part 3 tables (IOD -> modules -> attributes with their type).
This checks the top-level attributes of every mandatory module: type 1 present and not empty, type 2 present.
The SR content tree's module is left out: its attributes depend on each item's value type (the table flattens
them), and highdicom builds the tree from the TID 1500 template, which it checks.
"""

from __future__ import annotations

from highdicom._standard_utils import get_iod_module_map, get_module_attribute_map, get_sop_class_iod_map
from pydicom.dataset import Dataset

_SKIPPED = {"sr-document-content"}


def iod_problems(ds: Dataset) -> list[str]:
    """'module: attribute missing / empty' for each violation; [] when the object passes."""
    iod = get_sop_class_iod_map().get(str(ds.SOPClassUID))
    if iod is None:
        return [f"unknown SOP class {ds.SOPClassUID}"]
    attributes = get_module_attribute_map()
    problems = []
    for module in get_iod_module_map()[iod]:
        if module["usage"] != "M" or module["key"] in _SKIPPED:
            continue
        for attr in attributes[module["key"]]:
            if attr["path"] or attr["type"] not in ("1", "2"):
                continue
            keyword = attr["keyword"]
            if keyword not in ds:
                problems.append(f"{module['key']}: {keyword} (type {attr['type']}) missing")
            elif attr["type"] == "1" and ds[keyword].is_empty:
                problems.append(f"{module['key']}: {keyword} (type 1) empty")
    return problems
