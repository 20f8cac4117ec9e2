"""The live runtime: sources, the frame pipeline, the loop, sinks, overlay."""
