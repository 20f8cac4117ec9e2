"""What is measured on a class map: fascia thickness, echogenicity, flags; segmentation scores."""
