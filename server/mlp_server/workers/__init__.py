"""Perf and conversion work: the worker loop (claims tasks with a lease), the runner (one task in a
process of its own), measurement with onnxruntime and precision conversion, and the pool of worker
processes that ``mlp serve`` and the embedded platform own."""
