"""DiAD (He et al., AAAI 2024) reference implementation, training and ONNX bundle export."""
