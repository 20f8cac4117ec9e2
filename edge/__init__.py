"""tlfseg's on-device runtime: capture -> preprocess -> LiteRT engine -> postprocess -> measure -> sinks.

Imports only numpy, OpenCV and a LiteRT interpreter; never TensorFlow.
"""

__version__ = "0.1.0"
