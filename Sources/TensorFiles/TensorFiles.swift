// TensorFiles: safetensors, torch.save (zip + weights-only pickle), .npy — pure Swift, no engine dependency.
