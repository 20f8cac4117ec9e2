"""Pixels, ROI, preprocessing, the LiteRT engine, postprocessing: what every caller shares."""
