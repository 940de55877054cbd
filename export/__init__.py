"""From a trained run to a deployment bundle (docs/architecture.md §7): ONNX with ``nsb`` ops and with standard ops,
TorchScript, the training-time reference outputs, and the manifest that ties them together."""
