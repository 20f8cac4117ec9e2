"""A check of a written object against the IOD tables of the DICOM standard that highdicom ships.

The registry's validator (`dicom-validator`) downloads the standard from dicom.nema.org on first use, which an
offline clinic machine cannot; highdicom bundles the part 3 tables (IOD -> modules -> attributes with their type).
This checks the top-level attributes of every mandatory module: type 1 present and not empty, type 2 present, and
the type 1C / 2C ones whose condition holds for everything tlfseg writes (`ALWAYS_REQUIRED`) as type 1 / 2.
The SR content tree's module is left out: its attributes depend on each item's value type (the table flattens
them), and highdicom builds the tree from the TID 1500 template, which it checks.
"""

from __future__ import annotations

from highdicom._standard_utils import get_iod_module_map, get_module_attribute_map, get_sop_class_iod_map
from pydicom.dataset import Dataset

_SKIPPED = {"sr-document-content"}
#: conditional attributes whose condition every tlfseg object meets: (module, keyword) -> why
ALWAYS_REQUIRED = {
    ("general-series", "Laterality"): "the fascia is a paired structure and no Image Laterality is sent",
}


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
            keyword, kind = attr["keyword"], attr["type"]
            if (module["key"], keyword) in ALWAYS_REQUIRED:
                kind = kind.rstrip("C")
            if attr["path"] or kind not in ("1", "2"):
                continue
            if keyword not in ds:
                problems.append(f"{module['key']}: {keyword} (type {attr['type']}) missing")
            elif kind == "1" and ds[keyword].is_empty:
                problems.append(f"{module['key']}: {keyword} (type {attr['type']}) empty")
    return problems
