"""From a trained run to a deployment bundle (DESIGN §6): ONNX with ``nsb`` ops and with standard ops,
TorchScript, the training-time reference outputs, and the manifest that ties them together."""
