"""Labelling with annotation tools: `tlfseg label export` (frames -> a Label Studio project, the model's band as
editable polygons) and `tlfseg label import` (a Label Studio JSON export, or COCO polygon JSON as CVAT writes it ->
0/1/2 class maps, checked by the label check).

Numpy, OpenCV and edge only (no TensorFlow); the Label Studio client needs `requests` (the `label` extra).
"""
