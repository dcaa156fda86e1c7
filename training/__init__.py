"""What every trainer shares: settings, processes and devices, optimizers, pruning,
checkpoints, tracking start-up and the launcher (``python -m training.launch``).

Each model folder (``gpt2/``, ``lenet5/``) holds only its model, data and loop.
"""
