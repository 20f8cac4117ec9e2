"""The clinic report: one self-contained HTML file a visit (pictures embedded, no external address)."""
