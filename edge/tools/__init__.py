"""The tools on top: the tlfseg command line, bench, predict."""
