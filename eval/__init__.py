"""The bundle evaluator (docs/architecture.md §8, §9): checks a bundle, runs it on a backend, measures accuracy,
latency, memory and fidelity to the training-time model. Importable without torch: torch,
onnxruntime and TensorRT are imported only inside their own backend."""
