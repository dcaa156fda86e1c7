"""GPT-2 for ktrack: model, data and training loop."""
