"""Exporters (ONNX, TorchScript, NIR) and the deployment bundle writer; filled by the export issue."""
