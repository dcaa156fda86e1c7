"""GPT-2 training for ktrack: model, data, optimizers, pruning, trainer and launcher."""
